"""The write path every anchored payload shares: commit with a fresh salt, seal for recipients,
preflight the contract call, store, send; a failed send removes what was stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.chain.connection import Chain
from ledger.crypto import commitment, envelope
from ledger.payload import Payload
from ledger.store import ContentStore, cid_of, cid_to_bytes

__all__ = ["Anchored", "BuildCall", "Sealed", "seal_payload", "seal_store_anchor"]

#: Builds the contract call from the commitment and the CID's bytes, once both are known.
BuildCall = Callable[[bytes, bytes], ContractFunction]


@dataclass(frozen=True)
class Anchored:
    """A payload sealed, stored and anchored: its commitment, CID and transaction receipt."""

    commitment: str
    cid: str
    receipt: TxReceipt

    @property
    def transaction(self) -> str:
        return self.receipt["transactionHash"].to_0x_hex()

    @property
    def block(self) -> int:
        return int(self.receipt["blockNumber"])


@dataclass(frozen=True)
class Sealed:
    """A payload committed to under a fresh salt and sealed: what a write stores and anchors."""

    commitment: bytes
    cid: str
    envelope: bytes


def seal_payload(
    payload: Payload,
    *,
    context_id: bytes,
    version: int,
    recipients: Mapping[str, X25519PublicKey],
    key_encryption_keys: Mapping[str, bytes] | None = None,
) -> Sealed:
    """Commit to ``payload`` with a fresh salt and seal it, salt inside, for ``recipients`` and
    the holders of ``key_encryption_keys`` (``envelope.seal``)."""
    salt = commitment.new_salt()
    digest = commitment.commit(salt, payload.canonical)
    # The RFC 8785 form of {"resource": ..., "salt": ...}, built from the payload's canonical bytes
    # rather than canonicalising the resource a second time: JCS sorts "resource" before "salt",
    # and a member's value is encoded the same wherever it sits.
    plaintext = b'{"resource":%b,"salt":"0x%b"}' % (payload.canonical, salt.hex().encode())
    blob = envelope.seal(
        plaintext,
        record_id=context_id,
        version=version,
        recipients=recipients,
        extra_header={"salt_check": "0x" + commitment.salt_check(salt).hex()},
        key_encryption_keys=key_encryption_keys,
    )
    return Sealed(digest, cid_of(blob), blob)


def seal_store_anchor(
    chain: Chain,
    store: ContentStore,
    payload: Payload,
    *,
    context_id: bytes,
    version: int,
    recipients: Mapping[str, X25519PublicKey],
    build: BuildCall,
    key_encryption_keys: Mapping[str, bytes] | None = None,
) -> Anchored:
    """Seal ``payload`` under ``context_id``/``version`` for ``recipients`` and anchor it with the
    call ``build`` makes; the contract refuses before anything is stored."""
    sealed = seal_payload(
        payload,
        context_id=context_id,
        version=version,
        recipients=recipients,
        key_encryption_keys=key_encryption_keys,
    )
    digest, cid, blob = sealed.commitment, sealed.cid, sealed.envelope
    fn = build(digest, cid_to_bytes(cid))
    chain.preflight(fn)  # refuse before storing anything
    store.put(blob)
    try:
        receipt = chain.transact(fn)
    except BaseException:
        store.remove(cid)
        raise
    return Anchored(commitment="0x" + digest.hex(), cid=cid, receipt=receipt)
