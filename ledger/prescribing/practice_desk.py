"""Where doctors may practise: registrations and multi-point practice filings (PracticeRegistry).

The regulator records a doctor's primary registration and approves, rejects or revokes filings; the
target hospital files for a doctor registered elsewhere. Every write is preflighted as a call, so a
doomed one fails with the contract's own error before a transaction is signed. What this module
reads back is metadata only: addresses, a salted licence commitment, windows, statuses, reasons.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from web3 import Web3
from web3.contract.contract import ContractFunction

from ledger.chain.connection import Chain
from ledger.prescribing import FilingStatus, PracticeScope, RegistrationStatus
from ledger.prescribing.reasons import encode_reason

__all__ = ["Filing", "PracticeDesk", "Registration", "scope_names", "scope_of"]


@dataclass(frozen=True)
class Registration:
    doctor: str
    institution: str
    licence_commitment: bytes
    valid_from: int
    valid_to: int
    practising_since: int
    status: RegistrationStatus


@dataclass(frozen=True)
class Filing:
    filing_id: bytes
    doctor: str
    institution: str
    scope: PracticeScope
    valid_from: int
    valid_to: int
    status: FilingStatus


def scope_of(names: Iterable[str]) -> PracticeScope:
    """``["internet_diagnosis", "prescribing"]`` -> the contract's bit set; KeyError on unknown."""
    scope = PracticeScope(0)
    for name in names:
        scope |= PracticeScope[name.upper()]
    return scope


def scope_names(scope: PracticeScope) -> list[str]:
    return [str(s.name).lower() for s in PracticeScope if s & scope]


class PracticeDesk:
    """The PracticeRegistry as ``chain``'s sender acts on it and reads it."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._registry = chain.contract("PracticeRegistry")

    # -- the regulator --------------------------------------------------------------------------

    def register(
        self,
        doctor: str,
        institution: str,
        *,
        valid_from: int,
        valid_to: int,
        practising_since: int,
        licence_commitment: bytes | None = None,
    ) -> str:
        """Record ``doctor``'s primary registration, with when their independent practice began;
        the licence commitment defaults to the salted one their organisation recorded in the
        membership register. The transaction hash."""
        if licence_commitment is None:
            membership = self._chain.contract("Membership")
            _org, _role, licence, _active = self._chain.call(membership.functions.staff(doctor))
            licence_commitment = bytes(licence)
        return self._send(
            self._registry.functions.recordRegistration(
                doctor, institution, licence_commitment, valid_from, valid_to, practising_since
            )
        )

    def revoke_registration(self, doctor: str, reason: str) -> str:
        return self._send(
            self._registry.functions.revokeRegistration(doctor, encode_reason(reason))
        )

    def approve(self, filing_id: bytes) -> str:
        return self._send(self._registry.functions.approveFiling(filing_id))

    def reject(self, filing_id: bytes, reason: str) -> str:
        return self._send(self._registry.functions.rejectFiling(filing_id, encode_reason(reason)))

    def revoke(self, filing_id: bytes, reason: str) -> str:
        return self._send(self._registry.functions.revokeFiling(filing_id, encode_reason(reason)))

    # -- the target hospital --------------------------------------------------------------------

    def file(
        self,
        doctor: str,
        institution: str,
        scope: PracticeScope,
        *,
        valid_from: int,
        valid_to: int,
        filing_id: bytes | None = None,
    ) -> tuple[bytes, str]:
        """File for ``doctor`` to practise at ``institution``; (filing id, transaction hash). The id
        is random unless given: it names nothing about the doctor."""
        filing_id = filing_id or secrets.token_bytes(32)
        tx = self._send(
            self._registry.functions.fileForPractice(
                filing_id, doctor, institution, int(scope), valid_from, valid_to
            )
        )
        return filing_id, tx

    # -- reads ----------------------------------------------------------------------------------

    def registration(self, doctor: str) -> Registration | None:
        institution, licence, start, end, since, status = self._chain.call(
            self._registry.functions.registration(doctor)
        )
        if RegistrationStatus(status) is RegistrationStatus.NONE:
            return None
        return Registration(
            doctor, institution, bytes(licence), start, end, since, RegistrationStatus(status)
        )

    def min_internet_years(self) -> int:
        """The years of independent practice an internet diagnosis filing needs, on chain now."""
        return int(self._chain.call(self._registry.functions.minInternetPracticeYears()))

    def set_min_internet_years(self, years: int) -> str:
        """The regulator sets those years; the transaction hash."""
        return self._send(self._registry.functions.setMinInternetPracticeYears(years))

    def filing(self, filing_id: bytes) -> Filing | None:
        doctor, institution, scope, start, end, status = self._chain.call(
            self._registry.functions.filing(filing_id)
        )
        if FilingStatus(status) is FilingStatus.NONE:
            return None
        return Filing(
            filing_id,
            Web3.to_checksum_address(doctor),
            Web3.to_checksum_address(institution),
            PracticeScope(scope),
            start,
            end,
            FilingStatus(status),
        )

    def filings_of(self, doctor: str) -> list[Filing]:
        """Every filing ever made for ``doctor``, in the order they were filed."""
        submitted = self._registry.events.PracticeFilingSubmitted().get_logs(
            from_block=self._chain.deployment.block_number, argument_filters={"doctor": doctor}
        )
        filings = (self.filing(bytes(event["args"]["filingId"])) for event in submitted)
        return [f for f in filings if f is not None]

    def _send(self, fn: ContractFunction) -> str:
        self._chain.preflight(fn)
        return self._chain.transact(fn)["transactionHash"].to_0x_hex()
