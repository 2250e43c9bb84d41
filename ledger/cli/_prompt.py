"""Asking for a key file's passphrase: from a named environment variable, or at the terminal."""

from __future__ import annotations

import getpass
import os
import sys

from ledger.errors import KeyFileError


def passphrase(env_name: str | None, *, confirm: bool) -> str:
    if env_name:
        if env_name not in os.environ:
            raise KeyFileError(f"environment variable {env_name} is not set")
        return os.environ[env_name]
    if not sys.stdin.isatty():
        raise KeyFileError("no terminal to ask for a passphrase: use --passphrase-env VAR")
    first = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise KeyFileError("the passphrases differ")
    return first
