"""`medledger patient ...`: a patient appoints a guardian or proxy, ends an appointment, and lists
the appointments they made or that name them as agent, signing with their key file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.consent.wallet import PatientWallet
    from ledger.settings import Settings

__all__ = ["add_patient"]

EXIT_OK = 0

Wallet = Callable[[argparse.Namespace], "PatientWallet"]


def add_patient(sub: argparse._SubParsersAction[argparse.ArgumentParser], wallet: Wallet) -> None:
    """The `patient` command group; ``wallet`` opens the patient's wallet from --key/--gateway."""
    patient = sub.add_parser(
        "patient", help="a patient appoints and dismisses guardians and proxies"
    ).add_subparsers(dest="patient", required=True)
    commands: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int]]] = {
        "appoint": (
            "sign an appointment of a guardian or proxy and relay it",
            lambda _s, args: _appoint(wallet, args),
        ),
        "revoke-appointment": (
            "sign the end of an appointment and relay it; the agent's grants lapse",
            lambda _s, args: _print(
                _with(wallet, args, lambda w: w.revoke_appointment(args.appointment_id))
            ),
        ),
        "appointments": (
            "the appointments made, and those naming this pseudonym as agent",
            lambda _s, args: _print(_with(wallet, args, lambda w: w.appointments())),
        ),
    }
    for name, (summary, run) in commands.items():
        command = patient.add_parser(name, help=summary)
        command.add_argument("--key", required=True, help="the patient's key file")
        command.add_argument("--gateway", required=True, help="the hospital's gateway URL")
        command.add_argument("--passphrase-env")
        command.set_defaults(run=run)
        if name == "appoint":
            command.add_argument(
                "--agent", required=True, type=_address, help="the agent's own address"
            )
            command.add_argument("--kind", required=True, choices=["guardian", "proxy"])
            command.add_argument("--days", type=float, default=365.0, help="until it expires")
        elif name == "revoke-appointment":
            command.add_argument("--appointment-id", required=True, type=_bytes32)


def _appoint(wallet: Wallet, args: argparse.Namespace) -> int:
    from ledger.consent.agents import AgentKind
    from ledger.consent.wallet import days_from_now

    kind = AgentKind[args.kind.upper()]
    return _print(
        _with(
            wallet, args, lambda w: w.appoint(args.agent, kind, expires_at=days_from_now(args.days))
        )
    )


def _address(value: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        raise argparse.ArgumentTypeError(f"not an address (0x and 40 hex digits): {value!r}")
    return str(to_checksum_address(value))


def _bytes32(value: str) -> str:
    digits = value.removeprefix("0x")
    if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise argparse.ArgumentTypeError(f"not an appointment id (0x and 64 hex digits): {value!r}")
    return "0x" + digits.lower()


def _with(wallet: Wallet, args: argparse.Namespace, act: Callable[[PatientWallet], Any]) -> Any:
    with wallet(args) as opened:
        return act(opened)


def _print(value: Any) -> int:
    print(json.dumps(value, indent=2))
    return EXIT_OK
