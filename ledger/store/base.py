"""The content store interface every backend implements, and the ``Cid`` identifier it speaks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from ledger.types import Cid as Cid  # re-exported: the store speaks in CIDs

"""A CIDv1 in base32, exactly as ``ipfs add --cid-version=1`` prints it."""


class ContentStore(ABC):
    """Content-addressed bytes: what goes in under a CID comes out verified against it.

    Methods raise StoreError and its subclasses ContentNotFound (ContentUnavailable when the
    network did not deliver in time), ContentCorrupt, StoreUnavailable.
    """

    @abstractmethod
    def put(self, data: bytes) -> Cid:
        """Store and pin ``data``; return its CID once every block is durable."""

    def put_many(self, blobs: Iterable[bytes]) -> list[Cid]:
        """Store and pin each of ``blobs``; a backend may make them durable together, once."""
        return [self.put(blob) for blob in blobs]

    @abstractmethod
    def get(self, cid: str) -> bytes:
        """The bytes under ``cid``, checked against it (ContentCorrupt if they do not match)."""

    @abstractmethod
    def pin(self, cid: str) -> None:
        """Keep content that is already stored; ContentNotFound if it is not."""

    @abstractmethod
    def unpin(self, cid: str) -> None:
        """Stop keeping ``cid``; its blocks may be reclaimed later. Unpinned content is no error."""

    @abstractmethod
    def remove(self, cid: str) -> None:
        """Undo a ``put``: unpin and drop what no other pin needs, as far as the backend can now."""

    @abstractmethod
    def has(self, cid: str) -> bool:
        """Whether this store keeps ``cid`` (it is pinned here)."""

    def close(self) -> None:  # noqa: B027 - a backend without resources needs no override
        """Release connections and handles; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
