"""A gateway client signing with the key file a command names (``--key``, ``--passphrase-env``,
``--gateway``): the one way the staff-facing command groups reach a gateway."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.gateway.client import GatewayClient


def signed_client(args: argparse.Namespace) -> GatewayClient:
    from eth_account import Account

    from ledger.cli._prompt import passphrase
    from ledger.crypto.keys import load_key
    from ledger.gateway.client import GatewayClient, fetch_domain

    account = Account.from_key(
        load_key(Path(args.key), passphrase(args.passphrase_env, confirm=False))
    )
    return GatewayClient(args.gateway, account, fetch_domain(args.gateway), timeout=60)
