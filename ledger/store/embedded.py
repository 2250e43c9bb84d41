"""The default content store: a file per block in a local directory, and a pin set beside them."""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ledger.errors import ContentCorrupt, ContentNotFound, StoreError, StoreUnavailable
from ledger.store import _unixfs
from ledger.store.base import Cid, ContentStore
from ledger.store.cid import binary_cid, cid_from_bytes


class EmbeddedStore(ContentStore):
    """Blocks in ``root/blocks``, pins in ``root/pins``, each a file named by its CID.

    Writes land whole or not at all (temporary file, then rename). Use one instance per directory:
    the lock that keeps ``remove`` from deleting blocks a concurrent ``put`` relies on is its own.
    """

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = True) -> None:
        self._blocks = Path(root) / "blocks"
        self._pins = Path(root) / "pins"
        self._tmp = Path(root) / "tmp"
        self._durable = durable  # fsync files and directories before a put returns
        self._lock = threading.Lock()
        self._writing: Counter[bytes] = Counter()  # blocks of puts not yet pinned
        with _disk(f"use {root} as a content store"):
            for folder in (self._blocks, self._pins, self._tmp):
                folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> Cid:
        return self._put(data, sync=self._durable)

    def put_many(self, blobs: Iterable[bytes]) -> list[Cid]:
        """Write every blob, then make them all durable with one sync of the file system: an
        fsync per file and directory is what bounds a batch of thousands of small envelopes."""
        cids = [self._put(blob, sync=False) for blob in blobs]
        if self._durable and cids:
            os.sync()
        return cids

    def _put(self, data: bytes, *, sync: bool) -> Cid:
        written: list[bytes] = []
        try:
            with _disk("write to the content store"):
                touched: set[Path] = set()
                for cid, block in _unixfs.iter_blocks(io.BytesIO(data)):
                    with self._lock:
                        self._writing[cid] += 1
                    written.append(cid)
                    touched |= self._write(self._blocks, cid, block, sync=sync)
                if sync:  # every block is durable before a pin says the content is here
                    self._sync(touched)
                with self._lock:
                    pinned = self._write(self._pins, written[-1], b"", sync=sync)
                    if sync:
                        self._sync(pinned)
        finally:
            with self._lock:
                self._writing -= Counter(written)
        return cid_from_bytes(written[-1])

    def get(self, cid: str) -> bytes:
        root = binary_cid(cid)

        def load(block_cid: bytes) -> bytes:
            block = self._read(block_cid, root)
            _unixfs.verify_block(block_cid, block)
            return block

        return b"".join(_unixfs.iter_content(root, load))

    def pin(self, cid: str) -> None:
        root = binary_cid(cid)
        with self._lock, _disk("pin"):
            blocks, complete = self._reachable([root])
            if not self._path(self._blocks, root).exists():
                raise ContentNotFound(f"{cid} is not stored here")
            if not complete or not all(self._path(self._blocks, c).exists() for c in blocks):
                raise ContentCorrupt(f"{cid} is stored incomplete or damaged")
            self._sync(self._write(self._pins, root, b""))

    def unpin(self, cid: str) -> None:
        root = binary_cid(cid)
        with self._lock, _disk("unpin"):
            self._path(self._pins, root).unlink(missing_ok=True)

    def remove(self, cid: str) -> None:
        root = binary_cid(cid)
        with self._lock, _disk("remove from the content store"):
            self._remove(root)

    def has(self, cid: str) -> bool:
        try:
            return self._path(self._pins, binary_cid(cid)).exists()
        except ContentNotFound:
            return False

    def _remove(self, root: bytes) -> None:
        # Sparing blocks another pin shares (a leaf equal to a small file) means walking the inner
        # nodes of every pinned DAG: no reference counts to keep, and removal is rare (it undoes
        # a write whose anchor failed).
        self._path(self._pins, root).unlink(missing_ok=True)
        doomed, _ = self._reachable([root])
        kept, complete = self._reachable(self._pinned())
        if not complete:
            return  # a pinned DAG we cannot walk might share these blocks: keep them
        for block_cid in doomed - kept - self._writing.keys():
            self._path(self._blocks, block_cid).unlink(missing_ok=True)

    def _reachable(self, roots: Iterable[bytes]) -> tuple[set[bytes], bool]:
        """Every block CID under ``roots`` that can be listed, and whether all of them could."""
        seen: set[bytes] = set()
        complete = True
        stack = list(roots)
        while stack:
            block_cid = stack.pop()
            if block_cid in seen:
                continue
            seen.add(block_cid)
            if _unixfs.check_cid(block_cid) == _unixfs.RAW:
                continue  # a leaf: its CID is all there is to know
            try:
                block = self._path(self._blocks, block_cid).read_bytes()
                _unixfs.verify_block(block_cid, block)
                stack.extend(_unixfs.child_cids(block_cid, block))
            except (FileNotFoundError, StoreError):
                complete = False
        return seen, complete

    def _pinned(self) -> Iterable[bytes]:
        for shard in self._pins.iterdir():
            for entry in shard.iterdir():
                with suppress(ContentNotFound):
                    yield binary_cid(entry.name)

    def _read(self, block_cid: bytes, root: bytes) -> bytes:
        try:
            return self._path(self._blocks, block_cid).read_bytes()
        except FileNotFoundError as exc:
            if block_cid == root:
                raise ContentNotFound(f"{cid_from_bytes(root)} is not stored here") from exc
            raise ContentCorrupt(
                f"{cid_from_bytes(root)} is missing its block {cid_from_bytes(block_cid)}"
            ) from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot read the content store: {exc}") from exc

    def _write(self, folder: Path, cid: bytes, content: bytes, *, sync: bool = True) -> set[Path]:
        """Write a file named by ``cid`` atomically; the directories whose entries changed."""
        path = self._path(folder, cid)
        with suppress(FileNotFoundError):
            if path.read_bytes() == content:
                return set()  # already there; a damaged copy is replaced below, so put repairs
        changed = set()
        if not path.parent.is_dir():
            path.parent.mkdir(exist_ok=True)
            changed.add(folder)
        fd, tmp = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                if self._durable and sync:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return changed | {path.parent}

    def _sync(self, folders: Iterable[Path]) -> None:
        if not self._durable:
            return
        for folder in folders:
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @staticmethod
    def _path(folder: Path, cid: bytes) -> Path:
        name = cid_from_bytes(cid)
        # Shard on the next-to-last two characters, as Kubo's flatfs does: the CID's prefix is the
        # same for every block, and its last base32 character carries only a few hash bits.
        return folder / name[-3:-1] / name


@contextmanager
def _disk(action: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StoreUnavailable(f"cannot {action}: {exc}") from exc
