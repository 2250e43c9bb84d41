"""`medledger break-glass ...`: a doctor declares an emergency read at their own hospital's
gateway; a hospital's staff or the regulator lists declarations; an auditor reviews one. Each
command signs as the staff member whose key file is given."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ledger.cli._client import signed_client as _client

if TYPE_CHECKING:
    from ledger.settings import Settings

__all__ = ["add_break_glass"]

EXIT_OK = 0
_STATUSES = ("pending", "overdue", "justified", "unjustified")


def _print(value: Any) -> int:
    print(json.dumps(value, indent=2))
    return EXIT_OK


def _cmd_declare(_: Settings, args: argparse.Namespace) -> int:
    with _client(args) as client:
        body = {"record_id": args.record, "reason": args.reason}
        return _print(client.post_json("/v1/break-glass", body))


def _cmd_list(_: Settings, args: argparse.Namespace) -> int:
    params = {"status": args.status} if args.status else None
    with _client(args) as client:
        return _print(client.get_json("/v1/break-glass", params=params))


def _cmd_review(_: Settings, args: argparse.Namespace) -> int:
    with _client(args) as client:
        body = {"justified": args.verdict == "justified", "note": args.note}
        return _print(client.post_json(f"/v1/break-glass/{args.access_id}/review", body))


def _cmd_reasons(_: Settings, args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _print(client.get_json("/v1/break-glass/reasons"))


def add_break_glass(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``medledger break-glass declare|list|review|reasons``."""
    commands = sub.add_parser(
        "break-glass", help="emergency reads without a grant: declare, list, review"
    ).add_subparsers(dest="break_glass", required=True)
    table = {
        "declare": (
            "as a doctor, at your hospital's gateway: read another's record now",
            _cmd_declare,
        ),
        "list": ("declarations you may see, with their review status", _cmd_list),
        "review": (
            "as an auditor (the holder's or the regulator's): justified or not",
            _cmd_review,
        ),
        "reasons": ("the coded reasons a declaration may state", _cmd_reasons),
    }
    for name, (summary, run) in table.items():
        command = commands.add_parser(name, help=summary)
        command.add_argument("--key", required=True, help="the signing staff member's key file")
        command.add_argument("--gateway", required=True, help="your organisation's gateway URL")
        command.add_argument("--passphrase-env")
        command.set_defaults(run=run)
        if name == "declare":
            command.add_argument("--record", required=True, help="the other hospital's record id")
            command.add_argument("--reason", required=True, help="a reason's name (see reasons)")
        elif name == "list":
            command.add_argument("--status", choices=_STATUSES)
        elif name == "review":
            command.add_argument("--access-id", required=True)
            command.add_argument("verdict", choices=("justified", "unjustified"))
            command.add_argument(
                "--note", required=True, help="a note code: a-z, 0-9, '_.-', at most 31"
            )
