"""`medledger org ...`: one organisation's node (start, stop, status, peers) from its directory
``<DATA_DIR>/orgs/<org>``, a new organisation joining a running consortium, and its admission."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.cli._prompt import passphrase

if TYPE_CHECKING:
    from ledger.settings import Settings

__all__ = ["add_org_commands"]

EXIT_OK, EXIT_NOT_RUNNING = 0, 1
KINDS = ("hospital", "insurer", "pharmacy", "regulator")


def _print_status(settings: Settings, org: str) -> bool:
    from ledger.network.org import OrgNode, status

    rows = status(OrgNode.of(settings.data_dir, org))
    for row in rows:
        state = "not running" if row.pid is None else f"pid {row.pid}"
        health = "healthy" if row.healthy else "not answering"
        print(f"{org}  {row.process:<8} {state:<12} {row.url}  {health}")
    return all(row.healthy for row in rows)


def _cmd_start(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.network.org import OrgNode
    from ledger.network.org_join import start_org

    start_org(OrgNode.of(settings.data_dir, args.org))
    _print_status(settings, args.org)
    return EXIT_OK


def _cmd_stop(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.network.org import OrgNode, stop_processes

    stopped = stop_processes(OrgNode.of(settings.data_dir, args.org), timeout_s=args.timeout)
    print(f"{args.org}: stopped {', '.join(stopped)}" if stopped else f"{args.org}: none running")
    return EXIT_OK


def _cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    return EXIT_OK if _print_status(settings, args.org) else EXIT_NOT_RUNNING


def _cmd_peers(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.network.org import OrgNode
    from ledger.network.org_join import sync_peers

    for peer in sync_peers(OrgNode.of(settings.data_dir, args.org)):
        print(peer)
    return EXIT_OK


def _cmd_join(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.network.org_join import join

    secret = passphrase(args.passphrase_env, confirm=args.key is None)
    joined = join(
        settings.data_dir,
        args.org,
        rpc_url=args.rpc_url,
        deployment_file=Path(args.deployment),
        swarm_key=Path(args.swarm_key),
        ports=(args.api_port, args.ipfs_api_port, args.ipfs_swarm_port),
        key_file=Path(args.key) if args.key else None,
        passphrase=secret,
    )
    print(
        json.dumps(
            {
                "org": args.org,
                "address": joined.address,
                "directory": str(joined.node.root),
                "next": f"the regulator: medledger org admit {joined.address} --kind KIND; "
                f"then: medledger org start {args.org}",
            },
            indent=2,
        )
    )
    return EXIT_OK


def _cmd_admit(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.network.org import OrgNode
    from ledger.network.org_join import admit
    from ledger.types import OrgKind

    node = OrgNode.of(settings.data_dir, args.as_org)
    tx = admit(node, args.address, OrgKind[args.kind.upper()], admin=args.admin)
    print(json.dumps({"admitted": args.address, "kind": args.kind, "transaction": tx}))
    return EXIT_OK


def _address(text: str) -> str:
    from web3 import Web3

    if not Web3.is_address(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an address (0x + 40 hex)")
    return str(Web3.to_checksum_address(text))


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return port


def add_org_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    org = sub.add_parser(
        "org", help="one organisation's node: start, stop, status, peers; join; admit"
    ).add_subparsers(dest="org_command", required=True)
    for name, summary, run in (
        (
            "start",
            "start its IPFS node and gateway, detached (pid files in its directory)",
            _cmd_start,
        ),
        ("stop", "stop its processes; returns once they are gone", _cmd_stop),
        ("status", "what runs: pid, URL, healthy; exit 1 unless all are healthy", _cmd_status),
        ("peers", "re-read the consortium's peers from the on-chain directory", _cmd_peers),
    ):
        command = org.add_parser(name, help=summary)
        command.add_argument("org", help="its directory's name under <DATA_DIR>/orgs")
        command.set_defaults(run=run)
        if name == "stop":
            command.add_argument(
                "--timeout", type=float, default=30.0, help="seconds before SIGKILL"
            )
    join = org.add_parser("join", help="make a new organisation's directory to join a consortium")
    join.add_argument("org", help="its name: the directory <DATA_DIR>/orgs/<org>")
    join.add_argument("--rpc-url", required=True, help="the chain node it will use")
    join.add_argument("--deployment", required=True, help="a member's deployments/<chain>.json")
    join.add_argument("--swarm-key", required=True, help="the consortium's swarm.key")
    join.add_argument("--key", help="its organisation key file (default: make a new one)")
    join.add_argument("--passphrase-env", help="read the key's passphrase from this variable")
    join.add_argument("--api-port", type=_port, required=True)
    join.add_argument("--ipfs-api-port", type=_port, required=True)
    join.add_argument("--ipfs-swarm-port", type=_port, required=True)
    join.set_defaults(run=_cmd_join)
    admit = org.add_parser("admit", help="admit an organisation, with the regulator's key")
    admit.add_argument("address", type=_address)
    admit.add_argument("--kind", required=True, choices=KINDS)
    admit.add_argument("--admin", type=_address, help="its admin account (default: itself)")
    admit.add_argument(
        "--as",
        dest="as_org",
        default="regulator",
        help="the regulator's organisation directory whose key signs (default: regulator)",
    )
    admit.set_defaults(run=_cmd_admit)
