"""Key material and the cryptographic building blocks: keystores and pseudonyms, envelopes (AES-GCM
with HPKE-wrapped data keys), salted commitments, and OpenZeppelin-compatible Merkle trees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.crypto.commitment import (
        commit as commit,
        new_salt as new_salt,
        verify_commitment as verify_commitment,
    )
    from ledger.crypto.envelope import (
        Envelope as Envelope,
        open_envelope as open_envelope,
        seal as seal,
    )
    from ledger.crypto.keys import (
        PatientKeys as PatientKeys,
        load_key as load_key,
        new_key_file as new_key_file,
    )
    from ledger.crypto.merkle import MerkleTree as MerkleTree
    from ledger.crypto.typed_data import ContractDomain as ContractDomain
