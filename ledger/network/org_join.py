"""An organisation node and the consortium: starting one (its IPFS node publishes its peer in the
on-chain directory and takes its peers from it), joining a running consortium, admitting a member.

Joining, as docs/operations.md walks it: the new organisation runs `medledger org join` (its key,
its directory with the chain endpoint, the deployment and the consortium's swarm key); the
regulator runs `medledger org admit` with its own key; the new organisation runs `medledger org
start`, which publishes its directory entry and peers with every active member; each member's
gateway peers its node with the newcomer at its replication worker's next round.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import deploy
from ledger.chain.connection import Chain, connect
from ledger.chain.directory import OrgDirectory
from ledger.crypto.keys import load_key, new_key_file, x25519_from_eth_key
from ledger.errors import ConfigError
from ledger.network.holders import Candidates
from ledger.network.org import (
    OrgNode,
    copy_private,
    ipfs_identity,
    org_dir,
    processes,
    running_pid,
    start_chain,
    start_gateway,
    start_ipfs,
    stop_processes,
    write_org_env,
)
from ledger.network.peers import NodeRpc, sync_peering
from ledger.types import OrgKind


def org_chain(node: OrgNode) -> tuple[Chain, bytes]:
    """The chain as this organisation sees it (its endpoint, its copy of the deployment, its key
    as the sender), and the key's secret."""
    settings = node.settings()
    secret = load_key(node.key_file, settings.org_key_passphrase.get_secret_value())
    account: LocalAccount = Account.from_key(secret)
    w3 = connect(settings.local_rpc_url, timeout_s=settings.tx_timeout_s)
    deployment = deploy.load_deployment(w3, node.root, chain_id=settings.chain_id)
    chain = Chain(
        w3,
        deployment,
        account,
        tx_timeout_s=settings.tx_timeout_s,
        gas_limit=settings.tx_gas_limit,
        confirmations=settings.tx_confirmations,
    )
    return chain, secret


def _sender(chain: Chain) -> str:
    assert chain.sender is not None
    return str(chain.sender.address)


def _active(chain: Chain, address: str) -> bool:
    membership = chain.contract("Membership")
    return bool(chain.call(membership.functions.isActiveOrganisation(address)))


def publish_peer(node: OrgNode) -> str | None:
    """Publish the organisation's envelope key and its running IPFS node's peer id and address in
    the directory (nothing if the chain holds them already, or if it is not an active member yet).
    Returns the transaction hash, if one was sent."""
    chain, secret = org_chain(node)
    if not _active(chain, _sender(chain)):
        return None
    peer_id, addr = ipfs_identity(node)
    return OrgDirectory(chain).publish(x25519_from_eth_key(secret), peer_id=peer_id, addrs=[addr])


def sync_peers(node: OrgNode) -> list[str]:
    """Peer the IPFS node with the directory: every other active member's node, as its peering
    set (the gateway's replication worker keeps that set current from then on, dropping a member
    once it is suspended), and ``IPFS_PEERS`` as the peers file, the operator's static list.
    Returns the static peers, then the directory's."""
    chain, _ = org_chain(node)
    settings = node.settings()
    static = list(settings.ipfs_peers)
    path = node.root / "ipfs" / "peers"
    scratch = path.with_suffix(".tmp")
    scratch.write_text("".join(f"{peer}\n" for peer in static))
    scratch.replace(path)
    wanted = Candidates.load(OrgDirectory(chain)).dial_addrs(_sender(chain))
    rpc = NodeRpc(settings.kubo_url)
    try:
        sync_peering(rpc, wanted)
    finally:
        rpc.close()
    return [*static, *wanted.values()]


def start_org(node: OrgNode) -> None:
    """Start the organisation's processes, detached: its chain node where it runs one; its IPFS
    node; its directory entry published and its peers taken from the directory; then its gateway.
    Idempotent: what runs already is left running. If a step fails, what this call started is
    stopped again, so a failed start leaves nothing behind."""
    before = {p for p in processes(node) if running_pid(node, p) is not None}
    try:
        start_chain(node)
        start_ipfs(node)
        publish_peer(node)
        sync_peers(node)
        start_gateway(node)
    except BaseException:
        stop_processes(node, only=[p for p in processes(node) if p not in before])
        raise


@dataclass(frozen=True)
class Joined:
    node: OrgNode
    address: str


def join(
    data_dir: Path,
    name: str,
    *,
    rpc_url: str,
    deployment_file: Path,
    swarm_key: Path,
    ports: tuple[int, int, int],
    key_file: Path | None = None,
    passphrase: str = "",
    extra_env: dict[str, str] | None = None,
) -> Joined:
    """Make ``name``'s directory under ``data_dir``: its key (``key_file`` copied, or a new one
    under ``passphrase``), its copy of the deployment (checked against the chain at ``rpc_url``)
    and of the swarm key, and org.env with ``ports`` (gateway, IPFS API, IPFS swarm)."""
    root = org_dir(data_dir, name).resolve()
    if (root / "org.env").exists():
        raise ConfigError(f"{root} exists already: {name} has joined; `medledger org start {name}`")
    try:
        recorded = deploy.Deployment.from_json(deployment_file.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {deployment_file}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{deployment_file} is not a deployment file") from exc
    if not swarm_key.is_file():
        raise ConfigError(f"swarm key {swarm_key} does not exist")
    # The deployment must name contracts that are there on this chain: refused before anything
    # is written, so a failed join leaves no directory behind.
    with tempfile.TemporaryDirectory() as scratch:
        recorded.save(Path(scratch))
        deploy.load_deployment(connect(rpc_url), Path(scratch), chain_id=recorded.chain_id)
    api_port, ipfs_api, ipfs_swarm = ports
    node = OrgNode(root)
    write_org_env(
        node,
        {
            **(extra_env or {}),
            "MEDLEDGER_RPC_URL": rpc_url,
            "MEDLEDGER_CHAIN_ID": str(recorded.chain_id),
            "MEDLEDGER_API_PORT": str(api_port),
            "MEDLEDGER_IPFS_API_PORT": str(ipfs_api),
            "MEDLEDGER_IPFS_SWARM_PORT": str(ipfs_swarm),
        },
    )
    recorded.save(root)
    copy_private(swarm_key, node.swarm_key)
    if key_file is not None:
        copy_private(key_file, node.key_file)
        address = Account.from_key(load_key(node.key_file, passphrase)).address
    else:
        address = new_key_file(node.key_file, passphrase)
    return Joined(node, str(address))


def admit(node: OrgNode, address: str, kind: OrgKind, *, admin: str | None = None) -> str:
    """As the organisation ``node`` speaks for (a regulator), admit ``address`` as a member of
    ``kind`` whose admin is ``admin`` (default: itself). Returns the transaction hash."""
    chain, _ = org_chain(node)
    membership = chain.contract("Membership")
    fn = membership.functions.admitOrganisation(address, int(kind), admin or address)
    chain.preflight(fn)
    return str(chain.transact(fn)["transactionHash"].to_0x_hex())
