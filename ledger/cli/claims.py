"""`medledger claims ...`: submit a claim, work an insurer's queue, and read the regulator's
figures, each signing as the staff member whose key file is given."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.cli._client import signed_client as _client
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.settings import Settings

__all__ = ["add_claims"]

EXIT_OK = 0


def _print(value: Any) -> int:
    print(json.dumps(value, indent=2))
    return EXIT_OK


def _cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.claiming.authorisation import authorise_for

    try:
        body = json.loads(Path(args.file).read_text())
    except OSError as exc:
        raise LedgerError(f"cannot read {args.file}: {exc.strerror}") from exc
    except ValueError as exc:
        raise LedgerError(f"{args.file} is not JSON: {exc}") from exc
    with _client(args) as client:
        if isinstance(body, dict) and "authorisation" not in body:
            body = authorise_for(client, body, currency=settings.currency)
        return _print(client.post_json("/v1/claims", body))


def _cmd_queue(_: Settings, args: argparse.Namespace) -> int:
    state = "all" if args.all else "open"
    with _client(args) as client:
        return _print(client.get_json("/v1/claims", params={"state": state}))


def _cmd_decide(_: Settings, args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _print(client.post_json(f"/v1/claims/{args.claim_id}/decision", {}))


def _cmd_show(_: Settings, args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _print(client.get_json(f"/v1/claims/{args.claim_id}"))


def _cmd_figures(_: Settings, args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _print(client.get_json("/v1/claims/figures"))


def add_claims(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    claims = sub.add_parser(
        "claims", help="submit claims, work an insurer's queue, read the regulator's figures"
    ).add_subparsers(dest="claims", required=True)
    commands = {
        "submit": ("submit a claim (the JSON body of POST /v1/claims)", _cmd_submit),
        "queue": ("the insurer's open claims (--all: with decisions)", _cmd_queue),
        "decide": ("check a claim and anchor the insurer's decision", _cmd_decide),
        "show": ("a claim and its whole history", _cmd_show),
        "figures": ("per institution: claims, approvals, denials, duplicates", _cmd_figures),
    }
    for name, (summary, run) in commands.items():
        command = claims.add_parser(name, help=summary)
        command.add_argument("--key", required=True, help="the signing staff member's key file")
        command.add_argument("--gateway", required=True, help="the insurer's gateway URL")
        command.add_argument("--passphrase-env")
        command.set_defaults(run=run)
        if name == "submit":
            command.add_argument("file", help="the claim body (provider, patient, claim, payment)")
        elif name == "queue":
            command.add_argument("--all", action="store_true")
        elif name in ("decide", "show"):
            command.add_argument("--claim-id", required=True)
