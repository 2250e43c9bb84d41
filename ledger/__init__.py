"""MedLedger's Python core: hashes and state on chain, encrypted payloads in a content store."""

__version__ = "0.1.0"
