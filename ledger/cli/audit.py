"""`medledger audit trail` and `medledger audit mine`: the consortium's access trail, read whole by
a regulator from its own gateway and checked here against the chain, and a patient's own entries
from every organisation, opened here with the patient's key."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_audit_commands"]

EXIT_OK, EXIT_INCOMPLETE = 0, 1
Passphrase = Callable[[str | None], str]


def add_audit_commands(
    audit: argparse._SubParsersAction[argparse.ArgumentParser], passphrase: Passphrase
) -> None:
    """Add ``trail`` and ``mine`` to ``medledger audit``."""
    trail = audit.add_parser(
        "trail",
        help="a regulator's whole consortium trail (GET /v1/audit/trail), checked against the "
        "chain; exit 0 if complete and every entry matches",
    )
    trail.add_argument("--key", required=True, help="your (regulator staff) key file")
    trail.add_argument("--gateway", required=True, help="the regulator's gateway URL")
    trail.add_argument("--passphrase-env")
    for name in ("record", "patient", "org"):
        trail.add_argument(f"--{name}", help=f"only entries of this {name}")
    trail.add_argument("--out", help="also write the trail as JSON here")
    trail.set_defaults(run=lambda settings, args: _trail(settings, args, passphrase))
    mine = audit.add_parser(
        "mine", help="who accessed my data, in every organisation (opened with your key here)"
    )
    mine.add_argument("--key", required=True, help="the patient's key file")
    mine.add_argument("--gateway", required=True, help="any organisation's gateway URL")
    mine.add_argument("--passphrase-env")
    mine.set_defaults(run=lambda settings, args: _mine(settings, args, passphrase))


def _trail(settings: Any, args: argparse.Namespace, passphrase: Passphrase) -> int:
    from eth_account import Account

    from ledger.audit.trail_index import verify_consortium_trail
    from ledger.chain.connection import Chain, connect
    from ledger.chain.deploy import load_deployment
    from ledger.crypto.keys import load_key
    from ledger.gateway.client import GatewayClient, fetch_domain
    from ledger.records.verify import access_batch_lookup

    account = Account.from_key(load_key(Path(args.key), passphrase(args.passphrase_env)))
    query = {"record_id": args.record, "patient": args.patient, "org": args.org}
    with GatewayClient(args.gateway, account, fetch_domain(args.gateway), timeout=120) as client:
        reply: dict[str, Any] = client.get_json(
            "/v1/audit/trail", params={k: v for k, v in query.items() if v is not None}
        )
    if args.out:
        Path(args.out).write_text(json.dumps(reply, indent=2))
    w3 = connect(settings.local_rpc_url)
    chain = Chain(w3, load_deployment(w3, settings.data_dir, chain_id=settings.chain_id))
    checked, mismatches = verify_consortium_trail(reply["items"], access_batch_lookup(chain))
    for problem in reply["problems"]:
        print(
            f"batch {problem['chain_batch_id']} of {problem['org']}: {problem['status']}: "
            f"{problem['reason']}"
        )
    for position, reason in mismatches:
        print(f"entry {position}: {reason}")
    orgs = len({item["org"] for item in reply["items"]})
    complete = reply["complete"] and not mismatches
    print(
        f"entries={checked} organisations={orgs} batches={reply['batches']} "
        f"mismatched={len(mismatches)} complete={'yes' if complete else 'no'}"
    )
    return EXIT_OK if complete else EXIT_INCOMPLETE


def _mine(_settings: Any, args: argparse.Namespace, passphrase: Passphrase) -> int:
    from ledger.audit.patient_trail import patient_accesses, published_batches
    from ledger.crypto.keys import PatientKeys, load_key
    from ledger.gateway.client import GatewayClient, fetch_domain

    keys = PatientKeys(load_key(Path(args.key), passphrase(args.passphrase_env)))
    domain = fetch_domain(args.gateway)
    with GatewayClient(args.gateway, keys.pseudonym(domain.gateway), domain, timeout=120) as c:
        batches = published_batches(c)
    # The patient's key at every organisation that published: their pseudonym is per hospital,
    # and which hospitals they are enrolled at is theirs to know, not the gateway's.
    found = patient_accesses(
        batches, [keys.encryption_key(org) for org in sorted({b["org"] for b in batches})]
    )
    for access in found.accesses:
        entry = access.entry
        if access.break_glass:  # an emergency read without the patient's grant: highlighted
            print(
                f"!! BREAK-GLASS: {entry.actor} of {entry.org} read {entry.record_id} "
                f"({entry.purpose}, declaration {entry.grant}, outcome {entry.outcome})"
            )
        print(
            json.dumps(
                {
                    "org": access.org,
                    "chain_batch_id": access.chain_batch_id,
                    "break_glass": access.break_glass,
                    **vars(entry),
                },
                sort_keys=True,
            )
        )
    for batch_id, reason in found.unchecked:
        print(f"batch {batch_id}: not checked: {reason}")
    print(f"entries={len(found.accesses)} unchecked_batches={len(found.unchecked)}")
    return EXIT_INCOMPLETE if found.unchecked else EXIT_OK
