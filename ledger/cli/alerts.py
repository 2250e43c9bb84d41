"""`medledger alerts list|show`: the regulator's alerts (GET /v1/alerts on its own gateway), each
with the transactions and access entries that show it."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ledger.cli._client import signed_client as _client
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.settings import Settings

__all__ = ["add_alerts"]

EXIT_OK = 0


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cmd_list(_: Settings, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit, "after": args.after}
    for name in ("rule", "severity", "institution", "since"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    with _client(args) as client:
        page = client.get_json("/v1/alerts", params=params)
    if args.json:
        print(json.dumps(page, indent=2))
        return EXIT_OK
    for alert in page["items"]:
        print(
            f"{alert['id']} {_when(alert['at'])} {alert['severity']:8} {alert['rule']}:"
            f" {alert['summary']}"
        )
    if page["next_after"] is not None:
        print(f"more: --after {page['next_after']}")
    return EXIT_OK


def _cmd_show(_: Settings, args: argparse.Namespace) -> int:
    if not (args.alert_id.startswith("0x") and len(args.alert_id) == 34):
        raise LedgerError(f"{args.alert_id!r} is not an alert id (0x and 32 hex digits)")
    with _client(args) as client:
        alert = client.get_json(f"/v1/alerts/{args.alert_id}")
    if args.json:
        print(json.dumps(alert, indent=2))
        return EXIT_OK
    print(f"alert {alert['id']} ({alert['rule']}, {alert['kind']}, {alert['severity']})")
    print(f"  {alert['summary']}")
    print(f"  subject {alert['subject']}, institution {alert['institution'] or '-'}")
    print(f"  at {_when(alert['at'])} (chain time)")
    for item in alert["evidence"]:
        if item.get("type") == "transaction":
            print(f"  tx {item['tx']} block {item['block']} {item['contract']}.{item['event']}")
        else:
            print(
                f"  access entry batch {item['chain_batch_id']} leaf {item['leaf_index']}:"
                f" {item['actor']} {item['action']} {item['record_id']}"
            )
    return EXIT_OK


def add_alerts(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser(
        "alerts", help="the regulator's supervision alerts (on its own gateway)"
    ).add_subparsers(dest="alerts", required=True)
    listing = alerts.add_parser("list", help="alerts, filtered, as GET /v1/alerts")
    listing.add_argument("--rule")
    listing.add_argument("--severity", choices=("low", "medium", "high", "critical"))
    listing.add_argument("--institution", help="an organisation address")
    listing.add_argument("--since", type=int, help="chain time, Unix seconds")
    listing.add_argument("--after", type=int, default=0, help="the next page after this seq")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(run=_cmd_list)
    show = alerts.add_parser("show", help="one alert and its evidence")
    show.add_argument("alert_id")
    show.set_defaults(run=_cmd_show)
    for command in (listing, show):
        command.add_argument("--key", required=True, help="a regulator staff key file")
        command.add_argument("--gateway", required=True, help="the regulator gateway's URL")
        command.add_argument("--passphrase-env")
        command.add_argument("--json", action="store_true", help="print the answer as JSON")
