"""`medledger content holders CID`: who should keep a CID anchored on chain (its writer and the
organisations replication assigns it), and whether the asked gateway's own node has it pinned."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.settings import Settings

__all__ = ["add_content"]

EXIT_OK = 0


def _cmd_holders(_: Settings, args: argparse.Namespace) -> int:
    from eth_account import Account

    from ledger.cli._prompt import passphrase
    from ledger.crypto.keys import load_key
    from ledger.gateway.client import GatewayClient, fetch_domain
    from ledger.store import cid_to_bytes

    try:
        cid_to_bytes(args.cid)
    except ValueError as exc:
        raise LedgerError(f"{args.cid!r} is not a CID") from exc
    account = Account.from_key(
        load_key(Path(args.key), passphrase(args.passphrase_env, confirm=False))
    )
    with GatewayClient(args.gateway, account, fetch_domain(args.gateway), timeout=60) as client:
        placement = client.get_json(f"/v1/content/{args.cid}")
    if args.json:
        print(json.dumps(placement, indent=2))
        return EXIT_OK
    print(f"cid {placement['cid']} ({placement['event']}, block {placement['block']})")
    for role, holder in [("writer", placement["writer"])] + [
        ("holder", h) for h in placement["holders"]
    ]:
        name = holder["name"] or "-"
        state = "" if holder["active"] else " (suspended)"
        print(f"{role:7} {holder['org']} {name} {holder['kind']} {holder['peer_id'] or '-'}{state}")
    print(f"pinned on this gateway's node: {'yes' if placement['pinned_here'] else 'no'}")
    return EXIT_OK


def add_content(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    content = sub.add_parser(
        "content", help="content replication: who holds a CID anchored on chain"
    ).add_subparsers(dest="content", required=True)
    holders = content.add_parser(
        "holders", help="the writer and assigned holders of a CID, as GET /v1/content/{cid}"
    )
    holders.add_argument("cid")
    holders.add_argument("--key", required=True, help="a member's staff key file, to sign with")
    holders.add_argument("--gateway", required=True, help="a member gateway's URL")
    holders.add_argument("--passphrase-env")
    holders.add_argument("--json", action="store_true", help="print the answer as JSON")
    holders.set_defaults(run=_cmd_holders)
