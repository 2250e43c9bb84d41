"""Key material and the cryptographic building blocks: keystores and pseudonyms, envelopes (AES-GCM
with HPKE-wrapped data keys), salted commitments, and OpenZeppelin-compatible Merkle trees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Envelope": "ledger.crypto.envelope",
    "MerkleTree": "ledger.crypto.merkle",
    "PatientKeys": "ledger.crypto.keys",
    "commit": "ledger.crypto.commitment",
    "load_key": "ledger.crypto.keys",
    "new_key_file": "ledger.crypto.keys",
    "new_salt": "ledger.crypto.commitment",
    "open_envelope": "ledger.crypto.envelope",
    "seal": "ledger.crypto.envelope",
    "verify_commitment": "ledger.crypto.commitment",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.crypto.commitment import commit, new_salt, verify_commitment
    from ledger.crypto.envelope import Envelope, open_envelope, seal
    from ledger.crypto.keys import PatientKeys, load_key, new_key_file
    from ledger.crypto.merkle import MerkleTree
