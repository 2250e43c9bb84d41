"""Request dependencies: the gateway, the raw body, and who signed the request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from web3 import Web3

from api.audit import CurrentTrace
from api.gateway import Gateway
from api.problems import Forbidden
from ledger.gateway.auth import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    TIMESTAMP_HEADER,
    request_target,
    verify_request,
)
from ledger.types import OrgKind

DOCTOR_ROLE = "DOCTOR_ROLE"
CLERK_ROLE = "CLERK_ROLE"
PHARMACIST_ROLE = "PHARMACIST_ROLE"
AUDITOR_ROLE = "AUDITOR_ROLE"
ROLE_NAMES = (DOCTOR_ROLE, CLERK_ROLE, PHARMACIST_ROLE, AUDITOR_ROLE)
# The contract's role ids are keccak256 of their names, as OpenZeppelin's roles are.
_ROLE_BY_ID = {bytes(Web3.keccak(text=name)): name for name in ROLE_NAMES}


def known_query_only(request: Request) -> None:
    """Refuses a query parameter the operation does not declare: a misspelt ``?verison=1`` would
    otherwise be ignored, and the latest version read as if no version had been asked for."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    declared = _declared_query(dependant) if isinstance(dependant, Dependant) else set()
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": "unknown query parameter"} for name in unknown]
        )


def _declared_query(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return names


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def raw_body(request: Request) -> bytes:
    """The request body as sent, which is what was signed; `BodyLimit` has capped its size."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def _header(name: str, description: str) -> APIKeyHeader:
    return APIKeyHeader(name=name, scheme_name=name, description=description, auto_error=False)


def signing_headers(
    _signer: Annotated[
        str | None, Security(_header(SIGNER_HEADER, "The signing account: 0x and 40 hex digits."))
    ],
    _timestamp: Annotated[
        str | None,
        Security(_header(TIMESTAMP_HEADER, "Seconds since the Unix epoch, in decimal.")),
    ],
    _nonce: Annotated[
        str | None, Security(_header(NONCE_HEADER, "32 random bytes: 0x and 64 hex digits."))
    ],
    _signature: Annotated[
        str | None,
        Security(_header(SIGNATURE_HEADER, "EIP-712 signature of the request (r, s, v).")),
    ],
) -> None:
    """Declares the four signing headers as security schemes, so the OpenAPI document names them
    on every signed operation; `verify_request` reads the raw headers itself, where a repeated
    header can be refused."""


def signer(
    request: Request,
    gateway: GatewayDep,
    body: RawBody,
    trace: CurrentTrace,
    _documented: Annotated[None, Depends(signing_headers)],
) -> str:
    """The checksummed address that signed this exact request (EIP-712; docs/authentication.md)."""
    # The raw target as sent: Starlette's decoded path would not match what the client signed.
    path = request_target(request.scope["raw_path"], request.scope["query_string"])
    trace.actor = verify_request(
        request.headers,
        gateway.domain,
        request.method,
        path,
        body,
        now=int(time.time()),
        max_skew_s=gateway.settings.request_max_skew_s,
        nonces=gateway.nonces,
    )
    return trace.actor


Signer = Annotated[str, Depends(signer)]


@dataclass(frozen=True)
class Member:
    """An authenticated signer as the membership contract knows them."""

    address: str
    org: str | None
    role: str | None  # a role name from ROLE_NAMES, or None for an organisation's own account


def lookup_member(gateway: Gateway, address: str) -> Member | None:
    """Active staff of an active organisation, or an active organisation's account; else None."""
    membership = gateway.chain.contract("Membership")
    org, role, _licence, active = gateway.chain.call(membership.functions.staff(address))
    if active:
        if not gateway.chain.call(membership.functions.isActiveOrganisation(org)):
            raise Forbidden("membership.org_suspended", f"organisation {org} is suspended")
        return Member(address, org, _ROLE_BY_ID.get(bytes(role)))
    if gateway.chain.call(membership.functions.isActiveOrganisation(address)):
        return Member(address, address, None)
    return None


def current_member(gateway: GatewayDep, address: Signer, trace: CurrentTrace) -> Member:
    """Any active member of the consortium; 403 for anyone else."""
    member = lookup_member(gateway, address)
    trace.org = member.org if member else None
    if member is None:
        raise Forbidden("auth.not_member", f"{address} is not an active member of the consortium")
    return member


CurrentMember = Annotated[Member, Depends(current_member)]


def own_staff(member: CurrentMember, gateway: GatewayDep) -> Member:
    """Active staff of this gateway's own organisation."""
    if member.org != gateway.org.address or member.role is None:
        raise Forbidden(
            "auth.wrong_organisation", f"{member.address} is not staff of {gateway.org.address}"
        )
    return member


OwnStaff = Annotated[Member, Depends(own_staff)]


def require_role(member: Member, *roles: str) -> None:
    if member.role not in roles:
        raise Forbidden(
            "auth.role_forbidden",
            f"role {member.role} may not do this (needs {' or '.join(roles)})",
        )


def org_kind(gateway: Gateway, org: str) -> OrgKind:
    """The kind the membership contract admitted ``org`` as."""
    membership = gateway.chain.contract("Membership")
    kind, _status, _admin = gateway.chain.call(membership.functions.organisation(org))
    return OrgKind(kind)


def is_regulator(gateway: Gateway, member: Member) -> bool:
    """Whether ``member`` is a regulator's staff or account, as Membership admitted it."""
    return member.org is not None and org_kind(gateway, member.org) is OrgKind.REGULATOR


def require_regulator_or(gateway: Gateway, member: Member, org: str) -> None:
    """Metadata views: a regulator's, or the organisation's own."""
    assert member.org is not None  # an active member always belongs to an organisation
    if member.org.lower() == org.lower() or is_regulator(gateway, member):
        return
    raise Forbidden("auth.not_regulator", f"only a regulator or {org} itself may see this")
