"""The `medledger` command: up, demo, verify, audit, consent, patient, rx, practice, claims,
network, org, cid, keys.

Exit codes: 0 success (for verify: intact, every check run), 1 verify found the record not intact,
2 any error, 3 verify could not run every check (each named) and found nothing wrong in the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ledger.cli._prompt import passphrase
from ledger.cli.alerts import add_alerts
from ledger.cli.audit import add_audit_commands
from ledger.cli.break_glass import add_break_glass
from ledger.cli.claims import add_claims
from ledger.cli.content import add_content
from ledger.cli.org import add_org_commands
from ledger.cli.patient import add_patient
from ledger.cli.staff import add_staff_commands
from ledger.errors import KeyFileError, LedgerError
from ledger.settings import Settings, load_settings

if TYPE_CHECKING:
    from ledger.consent.wallet import PatientWallet

EXIT_OK, EXIT_NOT_INTACT, EXIT_ERROR, EXIT_INCOMPLETE = 0, 1, 2, 3


# Each command imports what it needs when it runs: web3 and fhir.resources take seconds to load,
# and `medledger cid` or `keys new` should not wait for them.


def _cmd_up(settings: Settings, _: argparse.Namespace) -> int:
    from ledger.network.stack import up

    up(settings)
    return EXIT_OK


def _cmd_demo(settings: Settings, _: argparse.Namespace) -> int:
    from ledger.demo.flow import run_demo

    run_demo(settings.data_dir)
    return EXIT_OK


def _cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.chain.connection import Chain, connect
    from ledger.chain.deploy import load_deployment
    from ledger.records.document import RecordDocument, Verdict
    from ledger.records.verify import check_against_ledger
    from ledger.store import open_store

    try:
        document = RecordDocument.model_validate_json(Path(args.file).read_bytes())
    except OSError as exc:
        raise LedgerError(f"cannot read {args.file}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise LedgerError(
            f"{args.file} is not a record document: {exc.errors()[0]['msg']}"
        ) from exc
    if document.record_id.lower() != args.record.lower():
        print(f"verdict: record_mismatch: {args.file} is a document of {document.record_id}")
        return EXIT_NOT_INTACT
    w3 = connect(settings.local_rpc_url)
    chain = Chain(w3, load_deployment(w3, settings.data_dir, chain_id=settings.chain_id))
    store = open_store(
        settings.store_backend,
        path=settings.data_dir / "store",
        url=settings.kubo_url,
        fetch_timeout_s=settings.content_fetch_timeout_s,
    )
    try:
        check = check_against_ledger(document, chain, store)
    finally:
        store.close()
    print(f"verdict: {check.verdict.value}: {check.verdict.explanation}")
    for skipped in check.not_checked:
        print(f"not checked: {skipped}")
    if check.verdict is not Verdict.INTACT:
        return EXIT_NOT_INTACT
    return EXIT_OK if check.complete else EXIT_INCOMPLETE


def _cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.audit.access_log import verify_trail
    from ledger.chain.connection import Chain, connect
    from ledger.chain.deploy import load_deployment
    from ledger.records.verify import access_batch_lookup

    try:
        trail = json.loads(Path(args.file).read_bytes())
        items, gateway = trail["items"], trail["gateway"]
    except OSError as exc:
        raise LedgerError(f"cannot read {args.file}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise LedgerError(f"{args.file} is not an access-log trail (GET /v1/access-log)") from exc
    w3 = connect(settings.local_rpc_url)
    chain = Chain(w3, load_deployment(w3, settings.data_dir, chain_id=settings.chain_id))
    checked, unanchored, mismatches = verify_trail(items, access_batch_lookup(chain), gateway)
    for seq, reason in mismatches:
        print(f"entry {seq}: {reason}")
    print(f"checked={checked} mismatched={len(mismatches)} not_yet_anchored={unanchored}")
    return EXIT_NOT_INTACT if mismatches else EXIT_OK


def _wallet(args: argparse.Namespace) -> PatientWallet:
    from ledger.consent.wallet import PatientWallet
    from ledger.crypto.keys import PatientKeys, load_key

    keys = PatientKeys(load_key(Path(args.key), passphrase(args.passphrase_env, confirm=False)))
    return PatientWallet(keys, args.gateway)


def _cmd_consent_grant(_: Settings, args: argparse.Namespace) -> int:
    from ledger.consent.grants import Purpose, Scope, ScopeKind
    from ledger.consent.wallet import days_from_now

    with _wallet(args) as wallet:
        scope = (
            Scope.record(args.record)
            if args.record
            else Scope.category(ScopeKind[args.category.upper()], wallet.hospital)
        )
        receipt = wallet.grant(
            args.grantee,
            scope,
            Purpose[args.purpose.upper()],
            expires_at=days_from_now(args.days),
        )
    print(json.dumps(receipt))
    return EXIT_OK


def _cmd_consent_revoke(_: Settings, args: argparse.Namespace) -> int:
    with _wallet(args) as wallet:
        print(json.dumps(wallet.revoke(args.grant_id)))
    return EXIT_OK


def _cmd_consent_list(_: Settings, args: argparse.Namespace) -> int:
    with _wallet(args) as wallet:
        listing = {"grants": wallet.grants(), "accesses": wallet.accesses()}
    print(json.dumps(listing, indent=2))
    return EXIT_OK


def _cmd_consent_erase(_: Settings, args: argparse.Namespace) -> int:
    with _wallet(args) as wallet:
        print(json.dumps(wallet.erase()))
    return EXIT_OK


def _add_consent(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    consent = sub.add_parser(
        "consent", help="a patient grants, revokes and lists access, signing with their key file"
    ).add_subparsers(dest="consent", required=True)
    commands = {
        "grant": ("sign a grant and relay it through the hospital's gateway", _cmd_consent_grant),
        "revoke": ("sign a revocation and relay it", _cmd_consent_revoke),
        "list": ("the grants made, and who accessed the data under them", _cmd_consent_list),
        "erase": (
            "ask the hospital to erase your records: refused within their retention period",
            _cmd_consent_erase,
        ),
    }
    for name, (summary, run) in commands.items():
        command = consent.add_parser(name, help=summary)
        command.add_argument("--key", required=True, help="the patient's key file")
        command.add_argument("--gateway", required=True, help="the hospital's gateway URL")
        command.add_argument("--passphrase-env")
        command.set_defaults(run=run)
        if name == "grant":
            command.add_argument("--grantee", required=True, help="an organisation or member")
            scope = command.add_mutually_exclusive_group(required=True)
            scope.add_argument("--record", help="one record id")
            scope.add_argument(
                "--category", choices=["hospital_records", "prescriptions", "claims"]
            )
            command.add_argument(
                "--purpose",
                required=True,
                choices=["treatment", "claim_verification", "audit", "research"],
            )
            command.add_argument("--days", type=float, default=30.0, help="until it expires")
        elif name == "revoke":
            command.add_argument("--grant-id", required=True)


def _cmd_cid(_: Settings, args: argparse.Namespace) -> int:
    from ledger.store import cid_of_file

    try:
        print(cid_of_file(Path(args.file)))
    except OSError as exc:
        raise LedgerError(f"cannot read {args.file}: {exc.strerror}") from exc
    return EXIT_OK


def _cmd_keys_new(_: Settings, args: argparse.Namespace) -> int:
    from ledger.crypto.keys import new_key_file

    out = Path(args.out)
    if out.exists():
        raise KeyFileError(f"{out} exists; refusing to overwrite a key")
    address = new_key_file(out, passphrase(args.passphrase_env, confirm=True))
    print(json.dumps({"key_file": str(out), "address": address}))
    return EXIT_OK


def _cmd_keys_pseudonym(_: Settings, args: argparse.Namespace) -> int:
    from ledger.crypto.keys import PatientKeys, load_key

    keys = PatientKeys(load_key(Path(args.key), passphrase(args.passphrase_env, confirm=False)))
    print(json.dumps(keys.public_identity(args.hospital)))
    return EXIT_OK


def _cmd_network_up(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.network import supervisor

    if args.detach:
        state = supervisor.up_detached(settings)
        for node in state["nodes"]:
            print(f"node     {node['name']}  {node['rpc_url']}")
        for name, gateway in state["gateways"].items():
            print(f"gateway  {name:<11} {gateway['url']}  (on {gateway['node']})")
        print("running in the background; stop it with `medledger network down`")
        return EXIT_OK
    supervisor.up(settings, ready_file=Path(args.ready_file) if args.ready_file else None)
    return EXIT_OK


def _cmd_network_down(settings: Settings, _: argparse.Namespace) -> int:
    from ledger.network import supervisor

    print("stopped" if supervisor.down(settings) else "no network was running")
    return EXIT_OK


def _cmd_network_status(settings: Settings, _: argparse.Namespace) -> int:
    from ledger.network import supervisor

    rows = supervisor.status(settings)
    if not rows:
        print("no network has run under this data directory")
    for row in rows:
        state = "down" if row["block"] is None else f"block {row['block']}, {row['peers']} peers"
        print(f"{row['name']}  {row['rpc_url']}  {state}")
    return EXIT_OK


def _cmd_network_besu(_: Settings, args: argparse.Namespace) -> int:
    from ledger.network import besu

    written = besu.generate_from_args(args)
    for path in written:
        print(path)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medledger", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "up", help="start chain, store and gateways; deploy and seed the demo consortium"
    ).set_defaults(run=_cmd_up)
    sub.add_parser("demo", help="walk the record flow against the running stack").set_defaults(
        run=_cmd_demo
    )
    verify = sub.add_parser(
        "verify",
        help="check a record document against the chain; exit 0 if intact and every check ran",
    )
    verify.add_argument("file", help="a record document, as GET /v1/records/{id} returns it")
    verify.add_argument("--record", required=True, help="the record id (0x + 64 hex)")
    verify.set_defaults(run=_cmd_verify)
    audit = sub.add_parser("audit", help="access-log trails").add_subparsers(
        dest="audit", required=True
    )
    trail = audit.add_parser(
        "verify",
        help="check a trail (GET /v1/access-log) against the anchored roots; exit 0 if all match",
    )
    trail.add_argument("file", help="the JSON the gateway's GET /v1/access-log returned")
    trail.set_defaults(run=_cmd_audit_verify)
    add_audit_commands(audit, lambda env: passphrase(env, confirm=False))
    _add_consent(sub)
    add_patient(sub, _wallet)
    add_claims(sub)
    add_break_glass(sub)
    add_content(sub)
    add_alerts(sub)
    add_staff_commands(sub, lambda env: passphrase(env, confirm=False))
    cid = sub.add_parser("cid", help="print the CID `ipfs add --cid-version=1` gives a file")
    cid.add_argument("file")
    cid.set_defaults(run=_cmd_cid)
    keys = sub.add_parser("keys", help="patient and staff key files").add_subparsers(
        dest="keys", required=True
    )
    new = keys.add_parser("new", help="make a key file (Ethereum V3 keystore, scrypt)")
    new.add_argument("--out", required=True)
    new.add_argument("--passphrase-env", help="read the passphrase from this environment variable")
    new.set_defaults(run=_cmd_keys_new)
    pseudonym = keys.add_parser(
        "pseudonym", help="a patient's pseudonym and encryption key at a hospital"
    )
    pseudonym.add_argument("--key", required=True)
    pseudonym.add_argument("--hospital", required=True, help="the hospital's organisation address")
    pseudonym.add_argument("--passphrase-env")
    pseudonym.set_defaults(run=_cmd_keys_pseudonym)
    _network_parser(sub)
    add_org_commands(sub)
    return parser


def _network_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    network = sub.add_parser(
        "network", help="the local multi-node network, and production Besu network configs"
    ).add_subparsers(dest="network", required=True)
    up = network.add_parser(
        "up", help="EthereumJS Clique signers on loopback, the ledger on them, a gateway per node"
    )
    up.add_argument("--detach", action="store_true", help="return once ready; stop with `down`")
    up.add_argument("--ready-file", help=argparse.SUPPRESS)
    up.set_defaults(run=_cmd_network_up)
    network.add_parser("down", help="stop a detached network").set_defaults(run=_cmd_network_down)
    network.add_parser("status", help="each node's head and peers").set_defaults(
        run=_cmd_network_status
    )
    from ledger.network.besu import add_arguments

    besu = network.add_parser(
        "besu", help="generate a Besu QBFT network's configs (genesis, nodes, permissions, compose)"
    )
    add_arguments(besu)
    besu.set_defaults(run=_cmd_network_besu)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(load_settings(), args))
    except LedgerError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
