"""Speaking to a gateway: EIP-712 request signing and its strict checking, and a typed client that
signs every request it sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.gateway.auth import (
        GatewayDomain as GatewayDomain,
        sign_request as sign_request,
        verify_request as verify_request,
    )
    from ledger.gateway.client import (
        GatewayClient as GatewayClient,
        GatewayError as GatewayError,
        fetch_domain as fetch_domain,
    )
