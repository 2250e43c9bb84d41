"""The `medledger` command; ``python -m ledger.cli`` runs it too."""

from ledger.cli.app import main

__all__ = ["main"]
