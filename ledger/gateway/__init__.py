"""Speaking to a gateway: EIP-712 request signing and its strict checking, and a typed client that
signs every request it sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "GatewayClient": "ledger.gateway.client",
    "GatewayDomain": "ledger.gateway.auth",
    "GatewayError": "ledger.gateway.client",
    "fetch_domain": "ledger.gateway.client",
    "sign_request": "ledger.gateway.auth",
    "verify_request": "ledger.gateway.auth",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.gateway.auth import GatewayDomain, sign_request, verify_request
    from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
