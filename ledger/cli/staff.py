"""`medledger rx ...` and `medledger practice ...`: every prescription and practice step, taken by a
member of staff signing with their own key file at their organisation's gateway.

Each command is one signed call to the gateway API, declared in the tables below (method, path,
what goes in the query, the JSON body or the raw FHIR file): the CLI adds no rule of its own, so the
gateway's checks, segmentation and access trace apply exactly as they do to any other client. The
reply is printed as JSON; a refusal exits 2 with the gateway's stable code.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError

__all__ = ["add_staff_commands"]

Namespace = argparse.Namespace
Arg = tuple[tuple[str, ...], Mapping[str, Any]]
Passphrase = Callable[[str | None], str]


def _hex(digits: int) -> Callable[[str], str]:
    pattern = re.compile(rf"0x[0-9a-fA-F]{{{digits}}}")

    def check(text: str) -> str:
        if not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"expected 0x and {digits} hex digits: {text!r}")
        return text

    return check


_ID: Mapping[str, Any] = {"type": _hex(64), "help": "0x + 64 hex"}
_ADDRESS: Mapping[str, Any] = {"type": _hex(40), "help": "0x + 40 hex"}


@dataclass(frozen=True)
class Step:
    """One command: a signed ``method`` on ``path``, whose ``{placeholders}`` name arguments."""

    method: str
    path: str
    help: str
    arguments: tuple[Arg, ...] = ()
    params: Callable[[Namespace], dict[str, Any]] | None = None
    body: Callable[[Namespace], Any] | None = None
    file_body: bool = False  # the body is the bytes of --file (a FHIR resource), sent as it is
    # Drafted at the gateway, checked and signed here with the doctor's own key, then issued.
    signed_by_doctor: bool = False
    placeholders: tuple[str, ...] = field(default=())


def _when(text: str) -> int:
    """Unix seconds from ``text``: an integer, or ISO 8601 with its UTC offset."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise LedgerError(f"not a time (Unix seconds or ISO 8601): {text!r}") from exc
    if moment.tzinfo is None:
        raise LedgerError(f"{text!r} has no UTC offset: add one, e.g. +08:00")
    return int(moment.timestamp())


_WINDOW: tuple[Arg, ...] = (
    (("--start",), {"help": "Unix seconds or ISO 8601 with offset (default: now)"}),
    (("--days",), {"type": float, "default": 365.0, "help": "how long it holds (default 365)"}),
)


def _window(args: Namespace) -> dict[str, int]:
    start = _when(args.start) if args.start else int(time.time())
    return {"valid_from": start, "valid_to": start + int(args.days * 86_400)}


def _reason(required: bool) -> Arg:
    return (("--reason",), {"required": required, "help": "a reason code: a-z 0-9 - . (max 32)"})


RX: dict[str, Step] = {
    "issue": Step(
        "POST",
        "/v1/prescriptions",
        "a doctor issues a FHIR MedicationRequest for an enrolled patient, signing it here",
        (
            (("--patient",), {**_ADDRESS, "required": True, "help": "the pseudonym here"}),
            (("--file",), {"required": True, "help": "the MedicationRequest (JSON)"}),
            (("--follow-up-record",), {**_ID, "help": "the offline diagnosis record it follows"}),
            (("--offline",), {"action": "store_true", "help": "an offline prescription"}),
        ),
        params=lambda a: {
            "patient": a.patient,
            "online": "false" if a.offline else "true",
            **({"follow_up_record": a.follow_up_record} if a.follow_up_record else {}),
        },
        file_body=True,
        signed_by_doctor=True,
    ),
    "review": Step(
        "POST",
        "/v1/prescriptions/{id}/review",
        "a pharmacist approves, or rejects with a reason",
        (
            (("--decision",), {"required": True, "choices": ["approve", "reject"]}),
            _reason(False),
        ),
        body=lambda a: {"decision": a.decision, **({"reason": a.reason} if a.reason else {})},
        placeholders=("id",),
    ),
    "show": Step(
        "GET",
        "/v1/prescriptions/{id}",
        "read one prescription, in the view the reader's role allows",
        placeholders=("id",),
    ),
    "dispense": Step(
        "POST",
        "/v1/prescriptions/{id}/dispense",
        "a pharmacy's pharmacist dispenses once, with a FHIR MedicationDispense",
        ((("--file",), {"required": True, "help": "the MedicationDispense (JSON)"}),),
        file_body=True,
        placeholders=("id",),
    ),
    "cancel": Step(
        "POST",
        "/v1/prescriptions/{id}/cancel",
        "the prescriber cancels before dispense",
        placeholders=("id",),
    ),
    "list": Step(
        "GET",
        "/v1/prescriptions",
        "every prescription a hospital issued (metadata): the regulator or the hospital",
        ((("--institution",), {"required": True, **_ADDRESS}),),
        params=lambda a: {"institution": a.institution},
    ),
    "dispenses": Step(
        "GET",
        "/v1/dispenses",
        "every dispense by a pharmacy (metadata): the regulator or the pharmacy",
        ((("--pharmacy",), {"required": True, **_ADDRESS}),),
        params=lambda a: {"pharmacy": a.pharmacy},
    ),
}

PRACTICE: dict[str, Step] = {
    "register": Step(
        "POST",
        "/v1/practice/registrations",
        "the regulator records a doctor's primary registration at a hospital",
        (
            (("--doctor",), {"required": True, **_ADDRESS}),
            (("--institution",), {"required": True, **_ADDRESS}),
            (("--licence-commitment",), {**_ID, "help": "default: the membership register's"}),
            (
                ("--practising-since",),
                {
                    "required": True,
                    "help": "when the doctor's independent practice began: Unix seconds or "
                    "ISO 8601 with offset (internet diagnosis filings need the years)",
                },
            ),
            *_WINDOW,
        ),
        body=lambda a: {
            "doctor": a.doctor,
            "institution": a.institution,
            "practising_since": _when(a.practising_since),
            **_window(a),
            **({"licence_commitment": a.licence_commitment} if a.licence_commitment else {}),
        },
    ),
    "revoke-registration": Step(
        "POST",
        "/v1/practice/registrations/{doctor}/revoke",
        "the regulator revokes a doctor's registration",
        (_reason(True),),
        body=lambda a: {"reason": a.reason},
        placeholders=("doctor",),
    ),
    "file": Step(
        "POST",
        "/v1/practice/filings",
        "a hospital's clerk files for a doctor registered elsewhere to practise here",
        (
            (("--doctor",), {"required": True, **_ADDRESS}),
            (
                ("--scope",),
                {
                    "nargs": "+",
                    "default": ["internet_diagnosis", "prescribing"],
                    "choices": ["internet_diagnosis", "prescribing"],
                },
            ),
            *_WINDOW,
        ),
        body=lambda a: {"doctor": a.doctor, "scope": a.scope, **_window(a)},
    ),
    "show-filing": Step(
        "GET",
        "/v1/practice/filings/{filing}",
        "one filing: the regulator, the doctor or the institution",
        placeholders=("filing",),
    ),
    "approve": Step(
        "POST",
        "/v1/practice/filings/{filing}/approve",
        "the regulator approves a pending filing",
        placeholders=("filing",),
    ),
    "reject": Step(
        "POST",
        "/v1/practice/filings/{filing}/reject",
        "the regulator rejects a pending filing, with a reason",
        (_reason(True),),
        body=lambda a: {"reason": a.reason},
        placeholders=("filing",),
    ),
    "revoke": Step(
        "POST",
        "/v1/practice/filings/{filing}/revoke",
        "the regulator revokes an approved filing, with a reason",
        (_reason(True),),
        body=lambda a: {"reason": a.reason},
        placeholders=("filing",),
    ),
    "doctor": Step(
        "GET",
        "/v1/practice/doctors/{doctor}",
        "a doctor's registration, filings and prescriptions: the regulator or the doctor",
        placeholders=("doctor",),
    ),
}


def add_staff_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], passphrase: Passphrase
) -> None:
    """Add ``rx`` and ``practice`` to the ``medledger`` parser."""
    groups = {
        "rx": ("prescriptions: issue, review, show, dispense, cancel, list", RX),
        "practice": ("registrations and multi-point practice filings", PRACTICE),
    }
    for group, (summary, steps) in groups.items():
        commands = sub.add_parser(group, help=summary).add_subparsers(dest=group, required=True)
        for name, step in steps.items():
            command = commands.add_parser(name, help=step.help)
            for placeholder in step.placeholders:
                command.add_argument(placeholder, **(_ADDRESS if placeholder == "doctor" else _ID))
            for flags, options in step.arguments:
                command.add_argument(*flags, **options)
            command.add_argument("--key", required=True, help="your staff key file")
            command.add_argument("--gateway", required=True, help="your organisation's gateway")
            command.add_argument("--passphrase-env")
            command.set_defaults(run=_runner(step, passphrase))


def _runner(step: Step, passphrase: Passphrase) -> Callable[[Any, Namespace], int]:
    def run(_settings: Any, args: Namespace) -> int:
        from eth_account import Account

        from ledger.crypto.keys import load_key
        from ledger.gateway.client import GatewayClient, fetch_domain
        from ledger.prescribing.signature import issue_signed

        account = Account.from_key(load_key(Path(args.key), passphrase(args.passphrase_env)))
        path = step.path.format(**{p: getattr(args, p) for p in step.placeholders})
        content = _read(args.file) if step.file_body else None
        domain = fetch_domain(args.gateway)
        with GatewayClient(args.gateway, account, domain, timeout=60) as client:
            if step.signed_by_doctor and content is not None and step.params:
                reply = issue_signed(client, content, step.params(args), path=path)
            elif step.method == "GET":
                reply = client.get_json(path, params=step.params(args) if step.params else None)
            else:
                reply = client.post_json(
                    path,
                    step.body(args) if step.body else None,
                    content=content,
                    params=step.params(args) if step.params else None,
                )
        print(json.dumps(reply, indent=2))
        return 0

    return run


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc.strerror}") from exc
