"""The writing hospital's own access to the versions it writes: with a key store, each version's
data key is wrapped under the patient's key-encryption key (``ledger.crypto.key_store``) instead of
to the hospital's long-lived org key, so that a patient's erasure after retention destroys it; an
envelope sealed before KEKs (wrapped to the org key) still opens as before."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.crypto import envelope
from ledger.crypto.key_store import KekStore
from ledger.errors import ConfigError, DecryptionFailed, LedgerError
from ledger.records.retention import RetentionIndex, RetentionPeriods
from ledger.settings import Settings

__all__ = ["Erased", "RecordErased", "WriterKeys", "retention_hold_s", "writer_keys"]


class RecordErased(LedgerError):
    """The version's data key was destroyed at this hospital on the patient's erasure request: the
    ciphertext and its anchor remain, unreadable here."""

    code = "record.erased"


@dataclass(frozen=True)
class Erased:
    """What an erasure did: the patient, when, and how many versions it made unreadable here."""

    patient: str
    erased_at: int
    versions: int


class WriterKeys:
    """``org``'s keys for what it writes: its org key, and optionally a KEK store and the
    retention index that erasure checks."""

    def __init__(
        self,
        org: str,
        org_key: X25519PrivateKey,
        keks: KekStore | None = None,
        retention: RetentionIndex | None = None,
    ) -> None:
        self._org = org
        self._org_key = org_key
        self.keks = keks
        self.retention = retention
        self._label = envelope.kek_label(org)

    def recipients(
        self, patient: str, patient_key: X25519PublicKey
    ) -> tuple[dict[str, X25519PublicKey], dict[str, bytes] | None]:
        """(public-key recipients, KEK recipients) a new version of ``patient``'s is sealed for."""
        if self.keks is None:
            return {self._org: self._org_key.public_key(), patient: patient_key}, None
        return {patient: patient_key}, {self._label: self.keks.get_or_create(patient)}

    def open(self, blob: bytes, *, patient: str, record_id: bytes, version: int) -> bytes:
        """The plaintext, from this hospital's own wrap; RecordErased if its KEK is destroyed."""
        kek = self._own_kek(blob, patient)
        if kek is None:
            return envelope.open_envelope(
                blob,
                private_key=self._org_key,
                label=self._org,
                record_id=record_id,
                version=version,
            )
        return envelope.open_with_kek(
            blob, kek=kek, label=self._label, record_id=record_id, version=version
        )

    def rewrap(
        self,
        blob: bytes,
        *,
        patient: str,
        record_id: bytes,
        version: int,
        recipient: X25519PublicKey,
    ) -> bytes:
        """Keys follow consent: the data key, wrapped for ``recipient`` from this hospital's own
        wrap; RecordErased after erasure (no grantee gets a key from here again)."""
        kek = self._own_kek(blob, patient)
        if kek is None:
            return envelope.rewrap_data_key(
                blob,
                private_key=self._org_key,
                label=self._org,
                record_id=record_id,
                version=version,
                recipient=recipient,
            )
        return envelope.rewrap_with_kek(
            blob,
            kek=kek,
            label=self._label,
            record_id=record_id,
            version=version,
            recipient=recipient,
        )

    def erase(self, patient: str, *, now: int | None = None) -> Erased:
        """The patient's erasure request: RetentionRunning while any version this hospital wrote
        for them is within retention; after, the patient's KEK is destroyed."""
        if self.keks is None or self.retention is None:
            raise ConfigError("this gateway keeps no key store or retention index")
        at = int(time.time()) if now is None else now
        self.retention.check_erasable(patient, at)
        self.keks.destroy(patient)
        self.retention.mark_erased(patient, at)
        return Erased(patient, at, self.retention.versions_of(patient))

    def _own_kek(self, blob: bytes, patient: str) -> bytes | None:
        """The KEK ``blob``'s data key is wrapped under here; None for an envelope wrapped to the
        org key; RecordErased if that KEK is gone."""
        sealed = envelope.parse_envelope(blob)
        wrapped: Mapping[str, bytes] = sealed.wrapped_keys
        if self._label not in wrapped:
            return None
        kek = self.keks.get(patient) if self.keks is not None else None
        if kek is None:
            raise RecordErased("this version's key is not (or no longer) kept at this hospital")
        try:
            envelope.unwrap_with_kek(wrapped[self._label], kek, sealed.context, self._label)
        except DecryptionFailed as exc:
            # A KEK made after an erasure, for new versions: older ones were under the destroyed
            # one. Anything else is a wrap this hospital never made.
            if self.retention is not None and self.retention.erased_at(patient) is not None:
                raise RecordErased(
                    "this version's key was destroyed here on the patient's erasure request"
                ) from exc
            raise
        return kek


def retention_periods(settings: Settings) -> RetentionPeriods:
    return RetentionPeriods(
        outpatient=settings.retention_outpatient_years,
        inpatient=settings.retention_inpatient_years,
        internet=settings.retention_internet_years,
        recording=settings.retention_recording_years,
    )


def retention_hold_s(settings: Settings) -> float:
    """How long replication keeps every CID from its anchoring: the longest retention, in mean
    Gregorian years (a holder cannot read which class a ciphertext is)."""
    return retention_periods(settings).longest * 31_556_952.0


def writer_keys(settings: Settings, org: str, org_key: X25519PrivateKey) -> WriterKeys:
    """The gateway's writer keys from its settings: a KEK store and a retention index in its data
    directory (or where the settings put the key store)."""
    gateways = settings.data_dir / "gateways"
    periods = retention_periods(settings)
    return WriterKeys(
        org,
        org_key,
        KekStore(settings.kek_store_dir or gateways / f"{org}.keks"),
        RetentionIndex(gateways / f"{org}.retention.sqlite", periods),
    )
