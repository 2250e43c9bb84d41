"""The writing hospital's own key-encryption keys: one random AES-256 key per patient, in files in
the gateway's data directory, wrapping the data key of every record version it writes for that
patient. Destroying a patient's KEK leaves those wraps unopenable (erasure after retention).

Each key is a 0600 file named by the patient's pseudonym; destroying one overwrites it with zeros,
syncs, unlinks it and syncs the directory. On a copy-on-write or wear-levelled disk old blocks may
survive, and a backup of the directory holds every key it saw: docs/operations.md says what
erasure then means.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from pathlib import Path

from ledger.errors import ConfigError

__all__ = ["KekStore"]

_KEK_BYTES = 32
_PSEUDONYM = re.compile(r"0x[0-9a-fA-F]{40}")


class KekStore:
    """Per-patient key-encryption keys under ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._dir = directory
        self._lock = threading.Lock()

    def get(self, patient: str) -> bytes | None:
        """The patient's KEK, or None if there is none (never made, or destroyed)."""
        try:
            key = self._path(patient).read_bytes()
        except FileNotFoundError:
            return None
        if len(key) != _KEK_BYTES:
            raise ConfigError(f"key store: {self._path(patient)} is not a {_KEK_BYTES}-byte key")
        return key

    def get_or_create(self, patient: str) -> bytes:
        """The patient's KEK, made (random, durably written) on first use."""
        with self._lock:
            key = self.get(patient)
            if key is not None:
                return key
            key = secrets.token_bytes(_KEK_BYTES)
            path = self._path(patient)
            temporary = path.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, key)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
            self._sync_dir()
            return key

    def destroy(self, patient: str) -> bool:
        """Overwrite and delete the patient's KEK; False if there was none."""
        with self._lock:
            path = self._path(patient)
            try:
                fd = os.open(path, os.O_WRONLY)
            except FileNotFoundError:
                return False
            try:
                os.write(fd, bytes(_KEK_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
            path.unlink()
            self._sync_dir()
            return True

    def _path(self, patient: str) -> Path:
        if not _PSEUDONYM.fullmatch(patient):
            raise ValueError(f"not a pseudonym address: {patient!r}")
        return self._dir / f"{patient.lower()}.kek"

    def _sync_dir(self) -> None:
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
