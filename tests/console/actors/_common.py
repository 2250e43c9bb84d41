"""What every actor command needs: the stack's consortium, and a signed client as its staff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium


def stack() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(os.environ["MEDLEDGER_E2E"]).read_text())
    return data


def consortium() -> Consortium:
    """The consortium `medledger up` seeded (its data/demo/consortium.json)."""
    return Consortium.load(Path(os.environ["MEDLEDGER_DATA_DIR"]) / "demo" / "consortium.json")


def staff(org: str, label: str) -> LocalAccount:
    c = consortium()
    return c.account(c.orgs[org].staff[label].key_file)


def gateway_url(org: str) -> str:
    url = consortium().orgs[org].gateway_url
    assert url is not None, f"{org} runs no gateway"
    return url


def client(account: LocalAccount, org: str) -> GatewayClient:
    """``account`` signing requests to ``org``'s gateway."""
    url = gateway_url(org)
    return GatewayClient(url, account, fetch_domain(url, timeout=30), timeout=60)


def as_staff(org: str, label: str, gateway: str | None = None) -> GatewayClient:
    return client(staff(org, label), gateway or org)
