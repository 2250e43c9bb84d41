"""What `medledger network besu` generates: checked by decoding it, as Besu would read it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import rlp
from eth_account import Account
from eth_keys import keys as eth_keys

from ledger.cli import app as cli
from ledger.errors import ConfigError
from ledger.network.besu import decode_qbft_extra_data, qbft_extra_data

VALIDATORS = ["hospital-a", "hospital-b", "insurer", "regulator"]


def _consortium(tmp_path: Path) -> tuple[Path, set[str]]:
    """A consortium file as `medledger up` writes it: member orgs and the regulator's key file."""
    deployer = Account.create()
    key_file = tmp_path / "regulator-root.json"
    key_file.write_text(json.dumps(Account.encrypt(deployer.key, "", iterations=2)))
    orgs = {name: Account.create().address for name in [*VALIDATORS, "pharmacy"]}
    staff = Account.create().address  # staff never send transactions
    path = tmp_path / "consortium.json"
    path.write_text(
        json.dumps(
            {
                "chain_id": 1,
                "rpc_url": "http://127.0.0.1:8545",
                "membership": Account.create().address,
                "regulator_key_file": str(key_file),
                "orgs": {
                    name: {
                        "name": name,
                        "kind": "hospital",
                        "address": address,
                        "key_file": "unused",
                        "gateway_url": None,
                        "staff": {"doctor": {"address": staff, "key_file": "unused"}},
                    }
                    for name, address in orgs.items()
                },
            }
        )
    )
    return path, {*orgs.values(), deployer.address}


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, set[str]]:
    consortium, members = _consortium(tmp_path)
    out = tmp_path / "besu"
    code = cli.main(
        [
            "network",
            "besu",
            "--validators",
            ",".join(VALIDATORS),
            "--new-keys",
            "--consortium",
            str(consortium),
            "--out",
            str(out),
            "--chain-id",
            "4242",
            "--block-period",
            "3",
            "--epoch-length",
            "12345",
            "--request-timeout",
            "7",
        ]
    )
    assert code == cli.EXIT_OK
    return out, members


def _node_address(out: Path, name: str) -> str:
    key = bytes.fromhex((out / "keys" / f"{name}.key").read_text().strip())
    return str(eth_keys.PrivateKey(key).public_key.to_checksum_address())


def _enode_id(out: Path, name: str) -> str:
    key = bytes.fromhex((out / "keys" / f"{name}.key").read_text().strip())
    return str(eth_keys.PrivateKey(key).public_key.to_bytes().hex())


def test_genesis_is_qbft_with_the_given_parameters_and_gas_free(
    generated: tuple[Path, set[str]],
) -> None:
    out, _ = generated
    genesis = json.loads((out / "genesis.json").read_text())
    config = genesis["config"]
    assert config["chainId"] == 4242
    assert config["qbft"] == {
        "blockperiodseconds": 3,
        "epochlength": 12345,
        "requesttimeoutseconds": 7,
    }
    assert config["zeroBaseFee"] is True
    assert genesis["baseFeePerGas"] == "0x0"
    assert genesis["alloc"] == {}


def test_extra_data_decodes_to_exactly_the_validators(generated: tuple[Path, set[str]]) -> None:
    out, _ = generated
    extra = json.loads((out / "genesis.json").read_text())["extraData"]
    vanity, validators, vote, round_, seals = rlp.decode(bytes.fromhex(extra[2:]))
    assert vanity == bytes(32)
    assert vote == []
    assert round_ == b""
    assert seals == []
    expected = {_node_address(out, name) for name in VALIDATORS}
    assert set(decode_qbft_extra_data(extra)) == expected
    assert len(validators) == len(VALIDATORS)  # the RPC node is not one


def test_extra_data_matches_besus_own_encoding() -> None:
    # QbftExtraDataCodec.encodeFromAddresses for one validator 0x00..01: vanity, [addr], [], 0, [].
    expected = rlp.encode([bytes(32), [bytes(19) + b"\x01"], [], b"", []]).hex()
    assert qbft_extra_data(["0x" + "00" * 19 + "01"]) == "0x" + expected
    assert expected.startswith("f83aa0" + "00" * 32 + "d594")  # list, vanity, one address
    assert expected.endswith("c080c0")  # no vote, round 0, no seals


def test_accounts_allowlist_is_exactly_the_members(generated: tuple[Path, set[str]]) -> None:
    out, members = generated
    permissions = tomllib.loads((out / "permissions_config.toml").read_text())
    assert set(permissions["accounts-allowlist"]) == members


def test_nodes_allowlist_names_every_node(generated: tuple[Path, set[str]]) -> None:
    out, _ = generated
    permissions = tomllib.loads((out / "permissions_config.toml").read_text())
    ids = {e.split("//")[1].split("@")[0] for e in permissions["nodes-allowlist"]}
    assert ids == {_enode_id(out, name) for name in [*VALIDATORS, "rpc-node"]}


def test_every_node_names_every_bootnode_and_runs_gas_free_and_permissioned(
    generated: tuple[Path, set[str]],
) -> None:
    out, _ = generated
    bootnodes = {v["enode"] for v in json.loads((out / "validators.json").read_text())}
    assert len(bootnodes) == len(VALIDATORS)
    for name in [*VALIDATORS, "rpc-node"]:
        config = tomllib.loads((out / name / "config.toml").read_text())
        own = {e for e in bootnodes if _enode_id(out, name) in e}
        assert set(config["bootnodes"]) | own == bootnodes, name
        assert config["min-gas-price"] == 0
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["permissions-accounts-config-file-enabled"] is True


def test_compose_runs_four_validators_and_an_rpc_node(generated: tuple[Path, set[str]]) -> None:
    out, _ = generated
    text = (out / "docker-compose.yml").read_text()
    for name in [*VALIDATORS, "rpc-node"]:
        assert f"  {name}:\n" in text
        assert f"./keys/{name}.key:/keys/key:ro" in text
    assert text.count("ports:") == 1  # only the RPC node is published, on loopback


def test_given_addresses_instead_of_a_consortium(tmp_path: Path) -> None:
    accounts = [Account.create().address for _ in range(2)]
    out = tmp_path / "besu"
    args = ["network", "besu", "--validators", "a,b,c,d", "--new-keys", "--out", str(out)]
    for account in accounts:
        args += ["--account", account]
    assert cli.main(args) == cli.EXIT_OK
    permissions = tomllib.loads((out / "permissions_config.toml").read_text())
    assert set(permissions["accounts-allowlist"]) == set(accounts)


def test_refuses_fewer_than_four_validators_and_missing_keys(tmp_path: Path) -> None:
    base = ["network", "besu", "--out", str(tmp_path), "--account", Account.create().address]
    assert cli.main([*base, "--validators", "a,b,c", "--new-keys"]) == cli.EXIT_ERROR
    assert cli.main([*base, "--validators", "e,f,g,h"]) == cli.EXIT_ERROR  # no keys, no --new-keys
    with pytest.raises(ConfigError):
        qbft_extra_data([])
