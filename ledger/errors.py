"""The ledger's one error tree; every error carries a stable machine-readable ``code``.

    LedgerError
    ├── ConfigError
    ├── PayloadError
    │   ├── PayloadNotJson
    │   ├── PayloadNotFhir
    │   └── PayloadTooLarge
    ├── CryptoError
    │   ├── DecryptionFailed
    │   └── KeyFileError
    ├── DirectoryError
    │   ├── OrgNotInDirectory
    │   └── OrgNotUsable
    ├── StoreError
    │   ├── ContentNotFound
    │   │   └── ContentUnavailable
    │   ├── ContentCorrupt
    │   └── StoreUnavailable
    └── ChainError
        ├── ChainUnavailable
        │   └── NonceConflict
        ├── ChainIdMismatch
        ├── DeploymentError
        │   ├── DeploymentMissing
        │   └── DeploymentStale
        └── ContractRevert

The API maps ``code`` onto problem responses; the CLI prints it and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""

    code = "ledger.error"


class ConfigError(LedgerError):
    """A setting is missing, malformed or refused in this profile."""

    code = "config.invalid"


class PayloadError(LedgerError):
    """A clinical payload cannot be accepted."""

    code = "payload.invalid"


class PayloadNotJson(PayloadError):
    """The payload is not a JSON object."""

    code = "payload.not_json"


class PayloadNotFhir(PayloadError):
    """The payload is JSON but not a valid FHIR R4 resource of an accepted type."""

    code = "payload.not_fhir"


class PayloadTooLarge(PayloadError):
    """The payload exceeds the configured size limit."""

    code = "payload.too_large"


class CryptoError(LedgerError):
    """A cryptographic operation failed."""

    code = "crypto.error"


class DecryptionFailed(CryptoError):
    """Ciphertext or wrapped key does not open with this key and context."""

    code = "crypto.decryption_failed"


class KeyFileError(CryptoError):
    """A key file is missing, malformed, or its passphrase is wrong."""

    code = "crypto.key_file"


class DirectoryError(LedgerError):
    """The organisation directory on chain cannot give what was asked of it."""

    code = "directory.error"


class OrgNotInDirectory(DirectoryError):
    """The organisation has published no entry (no envelope key, no peer) in the directory."""

    code = "directory.unknown_org"


class OrgNotUsable(DirectoryError):
    """The organisation has an entry but is not active (suspended): nothing is sealed to it."""

    code = "directory.not_usable"


class StoreError(LedgerError):
    """The content store failed."""

    code = "store.error"


class ContentNotFound(StoreError):
    """No content is stored under this CID."""

    code = "store.not_found"


class ContentUnavailable(ContentNotFound):
    """No peer delivered the content within the fetch timeout: it may exist, but could not be had.

    A ContentNotFound, so a caller that only wants the bytes treats both alike; one that judges
    content (verification) catches this first, as it proves nothing about whether the content is
    there.
    """

    code = "store.content_unavailable"


class ContentCorrupt(StoreError):
    """Stored bytes do not hash to the CID they were asked for by."""

    code = "store.corrupt"


class StoreUnavailable(StoreError):
    """The content store cannot be reached."""

    code = "store.unavailable"


class ChainError(LedgerError):
    """The chain or its contracts failed."""

    code = "chain.error"


class ChainUnavailable(ChainError):
    """The JSON-RPC endpoint cannot be reached."""

    code = "chain.unavailable"


class NonceConflict(ChainUnavailable):
    """The sending account's nonce keeps being taken by another sender: retry later."""

    code = "chain.nonce_conflict"


class ChainIdMismatch(ChainError):
    """The endpoint's chain id differs from the one the deployment was made on."""

    code = "chain.id_mismatch"


class DeploymentError(ChainError):
    """The contracts' deployment is unusable."""

    code = "chain.deployment"


class DeploymentMissing(DeploymentError):
    """No deployment is recorded for this chain id, or its code is gone from the chain."""

    code = "chain.deployment_missing"


class DeploymentStale(DeploymentError):
    """Compiled artifacts differ from the sources or from what was deployed."""

    code = "chain.deployment_stale"


class ContractRevert(ChainError):
    """A contract call reverted with a custom error, decoded to its name and arguments."""

    code = "chain.revert"

    def __init__(self, name: str, args: dict[str, Any], message: str | None = None) -> None:
        self.name = name
        self.args_by_name = args
        rendered = ", ".join(f"{k}={v!r}" for k, v in args.items())
        super().__init__(message or f"{name}({rendered})")
