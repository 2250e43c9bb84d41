"""Reproducible test inputs: a cheap pattern, and the byte stream Kubo's CLI tests add."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms


def pattern(size: int) -> bytes:
    """``size`` bytes that differ from chunk to chunk (a 251-byte cycle), cheap to make."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def kubo_deterministic(size: int, seed: str) -> bytes:
    """Kubo's ``testutils.DeterministicRandomReader(size, seed)``: a ChaCha20 keystream.

    Kubo (test/cli/testutils/random_deterministic.go) and js-ipfs-unixfs
    (packages/ipfs-unixfs-importer/test/helpers/deterministic.ts) both use a zero 12-byte nonce and
    a block counter from 0; ``cryptography`` takes those as one 16-byte counter-and-nonce.
    """
    key = hashlib.sha256(seed.encode()).digest()
    return Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(bytes(size))
