"""The gateway's directory of enrolled patient pseudonyms and the keys they signed for."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.errors import LedgerError

#: EIP-712 type a patient signs with their pseudonym key to bind an encryption key at a hospital.
ENROLMENT_TYPES = {
    "Enrolment": [
        {"name": "hospital", "type": "address"},
        {"name": "encryptionKey", "type": "bytes32"},
    ]
}


def sign_enrolment(
    pseudonym: LocalAccount, domain: dict[str, object], hospital: str, encryption_key: bytes
) -> str:
    """The patient's side: sign, with the pseudonym key, the encryption key to use."""
    message = encode_typed_data(
        domain_data=domain,
        message_types=ENROLMENT_TYPES,
        message_data={"hospital": hospital, "encryptionKey": encryption_key},
    )
    signed = Account.sign_message(message, pseudonym.key)
    return "0x" + bytes(signed.signature).hex()


class PatientNotEnrolled(LedgerError):
    """No encryption key is enrolled for this pseudonym at this gateway."""

    code = "patient.not_enrolled"


@dataclass(frozen=True)
class Enrolment:
    pseudonym: str
    encryption_key: X25519PublicKey
    enrolled_at: int


class PatientDirectory:
    """Pseudonym -> encryption key, kept in the gateway's SQLite database."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS patients (pseudonym TEXT PRIMARY KEY,"
            " encryption_key BLOB NOT NULL, signature TEXT NOT NULL, enrolled_at INTEGER NOT NULL)"
        )
        self._lock = threading.Lock()

    def enrol(self, pseudonym: str, encryption_key: bytes, signature: str) -> Enrolment:
        """Record (or replace) the key a pseudonym signed for; the caller checked the signature."""
        now = int(time.time())
        with self._lock:
            self._conn.execute(
                "INSERT INTO patients VALUES (?, ?, ?, ?) ON CONFLICT(pseudonym) DO UPDATE SET"
                " encryption_key=excluded.encryption_key, signature=excluded.signature,"
                " enrolled_at=excluded.enrolled_at",
                (pseudonym, encryption_key, signature, now),
            )
        return Enrolment(pseudonym, X25519PublicKey.from_public_bytes(encryption_key), now)

    def get(self, pseudonym: str) -> Enrolment:
        with self._lock:
            row = self._conn.execute(
                "SELECT encryption_key, enrolled_at FROM patients WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()
        if row is None:
            raise PatientNotEnrolled(f"patient {pseudonym} is not enrolled at this hospital")
        return Enrolment(pseudonym, X25519PublicKey.from_public_bytes(row[0]), row[1])

    def signed(self, pseudonym: str) -> tuple[bytes, str] | None:
        """The key ``pseudonym`` enrolled and its signature over it, for others to check."""
        with self._lock:
            row = self._conn.execute(
                "SELECT encryption_key, signature FROM patients WHERE pseudonym = ?", (pseudonym,)
            ).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    def close(self) -> None:
        self._conn.close()
