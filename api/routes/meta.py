"""Unauthenticated facts a client needs before it can sign: the EIP-712 domain, and health."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import GatewayDep
from api.problems import responses
from api.schemas import DomainPublic, HealthPublic

router = APIRouter(prefix="/v1", tags=["meta"])


@router.get("/domain", response_model=DomainPublic)
def domain(gateway: GatewayDep) -> DomainPublic:
    return DomainPublic(**gateway.domain.as_eip712())


@router.get("/health", response_model=HealthPublic, responses=responses(503))
def health(gateway: GatewayDep) -> HealthPublic:
    """Up, on which chain, at which block; 503 ``chain.unavailable`` if the node does not answer."""
    return HealthPublic(
        status="ok",
        organisation=gateway.org.address,
        chain_id=gateway.chain.chain_id,
        block=gateway.chain.head(),
    )
