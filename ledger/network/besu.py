"""Production network configs: a Hyperledger Besu QBFT consortium, one validator per organisation.

`medledger network besu` writes, from the organisations' node keys and member accounts:

- ``genesis.json``: QBFT (block period, epoch, request timeout as given), validators in extraData,
  London rules with a zero base fee and no balances: the network is gas-free;
- ``<node>/config.toml``: each node's Besu configuration (every validator named as a bootnode,
  minimum gas price 0, local permissioning on);
- ``permissions_config.toml``: the nodes allowlist (every node's enode) and the accounts allowlist
  (only member organisations' accounts, and the regulator's deployer, may send transactions);
  Besu reads allowlists from this local file since its on-chain permissioning was removed (24.12);
- ``docker-compose.yml``: the validators and one RPC node (non-validator) for the gateways.

Node keys are secp256k1 private keys, hex, one file per node (``<keys>/<node>.key``), as Besu's
``--node-private-key-file`` reads them; a validator's address is its node key's address, its enode
id the node key's public key. Keys are never written into the configs.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp  # type: ignore[import-untyped]
from eth_keys.datatypes import PrivateKey, PublicKey
from eth_utils.address import to_checksum_address

from ledger.errors import ConfigError

#: QBFT extraData vanity (Besu's EXTRA_VANITY_LENGTH).
VANITY_BYTES = 32
#: The Besu image the compose file runs. Pin the release you have validated.
DEFAULT_IMAGE = "hyperledger/besu:24.12.2"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


def qbft_extra_data(validators: Sequence[str]) -> str:
    """RLP([32-byte vanity, [validators], no vote, round 0, no seals]), as Besu's
    ``QbftExtraDataCodec.encodeFromAddresses`` writes a genesis block's extraData."""
    addresses = [bytes.fromhex(v.removeprefix("0x")) for v in validators]
    if not addresses or any(len(a) != 20 for a in addresses):
        raise ConfigError("QBFT needs at least one validator, each a 20-byte address")
    if len(set(addresses)) != len(addresses):
        raise ConfigError("a validator is listed twice")
    # Round 0 is the empty scalar; an absent vote and the seals are empty lists.
    encoded: bytes = rlp.encode([bytes(VANITY_BYTES), addresses, [], b"", []])
    return "0x" + encoded.hex()


def decode_qbft_extra_data(extra_data: str) -> list[str]:
    """The validators named by a QBFT extraData (checksummed), checking its five-item shape."""
    items = rlp.decode(bytes.fromhex(extra_data.removeprefix("0x")))
    if not isinstance(items, list) or len(items) != 5:
        raise ConfigError("QBFT extraData is an RLP list of five items")
    vanity, validators, _vote, _round, _seals = items
    if len(vanity) != VANITY_BYTES:
        raise ConfigError("QBFT extraData vanity is 32 bytes")
    return [to_checksum_address(v) for v in validators]


@dataclass(frozen=True)
class BesuNode:
    name: str
    key_hex: str  # secp256k1 private key, no 0x
    validator: bool
    host: str
    p2p_port: int = 30303
    rpc_port: int = 8545

    @property
    def _public(self) -> PublicKey:
        return PrivateKey(bytes.fromhex(self.key_hex)).public_key

    @property
    def address(self) -> str:
        """The node's address: a validator's identity in QBFT."""
        return str(self._public.to_checksum_address())

    @property
    def enode(self) -> str:
        return f"enode://{self._public.to_bytes().hex()}@{self.host}:{self.p2p_port}"


@dataclass(frozen=True)
class QbftParams:
    chain_id: int = 1_337_2025
    block_period_s: int = 2
    epoch_length: int = 30_000
    request_timeout_s: int = 4
    gas_limit: int = 0x1FFFFFFFFFFFFF  # free gas: no practical block limit (Besu's free-gas guide)


def genesis(validators: Sequence[str], params: QbftParams) -> dict[str, Any]:
    """A QBFT genesis: London rules at block 0 with a zero base fee, no balances."""
    if params.block_period_s < 1 or params.request_timeout_s <= params.block_period_s:
        raise ConfigError(
            "QBFT wants a block period of at least 1s and a request timeout longer than it"
        )
    forks = [
        "homesteadBlock",
        "eip150Block",
        "eip155Block",
        "eip158Block",
        "byzantiumBlock",
        "constantinopleBlock",
        "petersburgBlock",
        "istanbulBlock",
        "berlinBlock",
        "londonBlock",
    ]
    return {
        "config": {
            "chainId": params.chain_id,
            **dict.fromkeys(forks, 0),
            # Free gas (Besu docs, "free gas networks"): a zero base fee with London rules, and
            # the largest contract size; nodes run with min-gas-price=0.
            "zeroBaseFee": True,
            "contractSizeLimit": 2_147_483_647,
            "qbft": {
                "blockperiodseconds": params.block_period_s,
                "epochlength": params.epoch_length,
                "requesttimeoutseconds": params.request_timeout_s,
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": hex(params.gas_limit),
        "difficulty": "0x1",
        "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
        "coinbase": "0x" + "00" * 20,
        "baseFeePerGas": "0x0",
        "alloc": {},
        "extraData": qbft_extra_data(sorted(validators, key=str.lower)),
    }


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the ASCII we write
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + "".join(f"  {_toml_value(v)},\n" for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def toml(table: dict[str, object], comment: str) -> str:
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    lines += [f"{key}={_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


CONFIG_DIR = "/config"  # where the compose file mounts this directory in every container


def node_config(node: BesuNode, bootnodes: Sequence[str]) -> dict[str, object]:
    """One node's Besu config file (keys are Besu's command-line options without the dashes)."""
    apis = ["ETH", "NET", "WEB3", "QBFT", "PERM", "TXPOOL"]
    if not node.validator:
        apis.append("ADMIN")  # the operator's node for admin_addPeer, peers, nodeInfo
    return {
        "genesis-file": f"{CONFIG_DIR}/genesis.json",
        "data-path": "/data",
        "node-private-key-file": "/keys/key",
        "p2p-host": "0.0.0.0",  # noqa: S104 - inside its container; peers are allowlisted
        "p2p-port": node.p2p_port,
        "bootnodes": [b for b in bootnodes if b != node.enode],
        "discovery-enabled": True,
        "min-gas-price": 0,
        "rpc-http-enabled": True,
        "rpc-http-host": "0.0.0.0",  # noqa: S104 - published to the host only for the RPC node
        "rpc-http-port": node.rpc_port,
        "rpc-http-api": apis,
        "host-allowlist": ["*"],
        "permissions-nodes-config-file-enabled": True,
        "permissions-nodes-config-file": f"{CONFIG_DIR}/permissions_config.toml",
        "permissions-accounts-config-file-enabled": True,
        "permissions-accounts-config-file": f"{CONFIG_DIR}/permissions_config.toml",
        "sync-mode": "FULL",
        "logging": "INFO",
    }


def permissions(nodes: Sequence[BesuNode], accounts: Sequence[str]) -> dict[str, object]:
    return {
        "nodes-allowlist": [n.enode for n in nodes],
        "accounts-allowlist": sorted({to_checksum_address(a) for a in accounts}, key=str.lower),
    }


def compose(nodes: Sequence[BesuNode], image: str, subnet_prefix: str) -> str:
    """docker compose: one container per node on a private bridge with fixed addresses."""
    out = [
        "# Generated by `medledger network besu`. Node keys are mounted from ./keys/<node>.key",
        "# (keep them out of version control). Besu cannot run on the build machines: no Docker",
        "# engine there, and no Besu package in the registries they reach.",
        "name: medledger-besu",
        "services:",
    ]
    for node in nodes:
        out += [
            f"  {node.name}:",
            f"    image: {image}",
            f'    command: ["--config-file={CONFIG_DIR}/{node.name}/config.toml"]',
            "    volumes:",
            f"      - ./:{CONFIG_DIR}:ro",
            f"      - ./keys/{node.name}.key:/keys/key:ro",
            f"      - {node.name}-data:/data",
            "    networks:",
            "      medledger:",
            f"        ipv4_address: {node.host}",
            "    restart: unless-stopped",
        ]
        if not node.validator:
            out += ["    ports:", f'      - "127.0.0.1:{node.rpc_port}:{node.rpc_port}"']
    out += [
        "networks:",
        "  medledger:",
        "    ipam:",
        "      config:",
        f"        - subnet: {subnet_prefix}.0/24",
        "volumes:",
        *[f"  {n.name}-data: {{}}" for n in nodes],
    ]
    return "\n".join(out) + "\n"


def consortium_accounts(path: Path) -> list[str]:
    """Every member organisation's account in a consortium file, and the regulator's deployer."""
    raw = json.loads(path.read_text())
    accounts = [org["address"] for org in raw["orgs"].values()]
    deployer = Path(raw["regulator_key_file"])
    try:
        # A V3 keystore names its address in clear; no passphrase needed to read it.
        accounts.append("0x" + json.loads(deployer.read_text())["address"].removeprefix("0x"))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"cannot read the regulator's key file {deployer}: {exc}") from exc
    return accounts


def read_node_key(path: Path) -> str:
    text = path.read_text().strip().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise ConfigError(f"{path} is not a hex secp256k1 private key")
    return text.lower()


def new_node_key(path: Path) -> str:
    """A fresh node key, written 0600 as Besu reads it; refuses to overwrite."""
    import os

    key = PrivateKey(os.urandom(32)).to_hex().removeprefix("0x")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


def generate(
    out: Path,
    nodes: Sequence[BesuNode],
    accounts: Sequence[str],
    params: QbftParams,
    *,
    image: str = DEFAULT_IMAGE,
    subnet_prefix: str = "172.16.240",
) -> list[Path]:
    """Write every config for ``nodes`` under ``out``; returns the files written."""
    validators = [n for n in nodes if n.validator]
    if len(validators) < 4:
        # 3f+1 with f >= 1: fewer than four validators survive no faulty one.
        raise ConfigError("a QBFT network that survives one faulty validator needs at least four")
    if not accounts:
        raise ConfigError("the accounts allowlist would be empty: no member could transact")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    header = "Generated by `medledger network besu`; edit the inputs and regenerate, not this file."
    write(
        "genesis.json",
        json.dumps(genesis([v.address for v in validators], params), indent=2) + "\n",
    )
    write(
        "permissions_config.toml",
        toml(
            permissions(nodes, accounts),
            f"{header}\nBesu local permissioning: only these nodes may peer, "
            "only these accounts may send transactions.",
        ),
    )
    bootnodes = [v.enode for v in validators]
    for node in nodes:
        role = "validator" if node.validator else "RPC node (not a validator) for the gateways"
        write(
            f"{node.name}/config.toml",
            toml(node_config(node, bootnodes), f"{header}\n{node.name}: {role}, {node.address}"),
        )
    write("docker-compose.yml", compose(nodes, image, subnet_prefix))
    write(
        "validators.json",
        json.dumps(
            [{"name": v.name, "address": v.address, "enode": v.enode} for v in validators],
            indent=2,
        )
        + "\n",
    )
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--validators",
        required=True,
        help="comma-separated node names, one validator per organisation (at least four)",
    )
    parser.add_argument("--rpc-node", default="rpc-node", help="the non-validator node's name")
    parser.add_argument(
        "--keys", help="directory of node keys, <node>.key (hex); default: <out>/keys"
    )
    parser.add_argument(
        "--new-keys", action="store_true", help="create the node keys that are missing"
    )
    members = parser.add_mutually_exclusive_group(required=True)
    members.add_argument("--consortium", help="consortium.json: its members' accounts transact")
    members.add_argument(
        "--account", action="append", help="a member account allowed to transact (repeatable)"
    )
    parser.add_argument("--out", default="node_config/besu")
    parser.add_argument("--chain-id", type=int, default=QbftParams.chain_id)
    parser.add_argument("--block-period", type=int, default=QbftParams.block_period_s)
    parser.add_argument("--epoch-length", type=int, default=QbftParams.epoch_length)
    parser.add_argument("--request-timeout", type=int, default=QbftParams.request_timeout_s)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--subnet", default="172.16.240", help="the compose network's /24 prefix")


def generate_from_args(args: argparse.Namespace) -> list[Path]:
    names = [n.strip() for n in args.validators.split(",") if n.strip()] + [args.rpc_node]
    bad = [n for n in names if not _NAME.fullmatch(n)]
    if bad or len(set(names)) != len(names):
        raise ConfigError(f"node names must be distinct, lower-case, [a-z0-9-]: {bad or names}")
    keys_dir = Path(args.keys) if args.keys else Path(args.out) / "keys"
    nodes: list[BesuNode] = []
    for i, name in enumerate(names):
        key_file = keys_dir / f"{name}.key"
        if key_file.exists():
            key = read_node_key(key_file)
        elif args.new_keys:
            key = new_node_key(key_file)
        else:
            raise ConfigError(f"no node key {key_file} (use --new-keys to create missing keys)")
        nodes.append(
            BesuNode(
                name=name,
                key_hex=key,
                validator=name != args.rpc_node,
                host=f"{args.subnet}.{11 + i}",
            )
        )
    accounts = consortium_accounts(Path(args.consortium)) if args.consortium else args.account
    params = QbftParams(
        chain_id=args.chain_id,
        block_period_s=args.block_period,
        epoch_length=args.epoch_length,
        request_timeout_s=args.request_timeout,
    )
    return generate(
        Path(args.out), nodes, accounts, params, image=args.image, subnet_prefix=args.subnet
    )
