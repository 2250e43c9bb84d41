"""Consent: the gateway relays what patients sign (they need no balance) and lists their grants."""

from __future__ import annotations

import time

from fastapi import APIRouter, status

from api.agency import acting_for
from api.audit import CurrentTrace, Trace
from api.deps import GatewayDep, Signer, lookup_member
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, Unprocessable, responses
from api.schemas import (
    Address,
    ConsentDomainPublic,
    ConsentGrantCreate,
    ConsentPublic,
    ConsentReceiptPublic,
    ConsentRevocationCreate,
    PurposeName,
    ScopeKindName,
)
from ledger.consent.grants import (
    ConsentDomain,
    Grant,
    Purpose,
    Revocation,
    Scope,
    ScopeKind,
    SignedGrant,
    SignedRevocation,
)

router = APIRouter(
    prefix="/v1/consents",
    tags=["consent"],
    responses=responses(*SIGNED_PROBLEMS),
)


@router.get("/domain", response_model=ConsentDomainPublic)
def consent_domain(gateway: GatewayDep) -> ConsentDomainPublic:
    """The EIP-712 domain (name "MedLedger Consent", version "1") a patient's wallet signs under."""
    domain = ConsentDomain.of(gateway.chain.deployment)
    return ConsentDomainPublic(**domain.to_wire())


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConsentReceiptPublic)
def relay_grant(
    body: ConsentGrantCreate, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> ConsentReceiptPublic:
    """Relay a patient's signed grant; sent by the patient, an agent of theirs in force (who may
    have signed it: the chain names the agent), or this organisation's staff."""
    _may_relay(gateway, signer, body.patient, trace)
    try:
        scope = Scope(ScopeKind[body.scope_kind.upper()], bytes.fromhex(body.scope[2:]))
    except ValueError as exc:
        raise Unprocessable("consent.bad_scope", str(exc)) from exc
    grant = Grant(
        patient=body.patient,  # type: ignore[arg-type]
        grantee=body.grantee,  # type: ignore[arg-type]
        scope=scope,
        purpose=Purpose[body.purpose.upper()],
        expires_at=body.expires_at,
        nonce=int(body.nonce),
    )
    trace.patient, trace.grant = grant.patient, "0x" + grant.grant_id.hex()
    signed = SignedGrant(grant, _domain(body.domain), bytes.fromhex(body.signature[2:]))
    consent = gateway.chain.contract("ConsentRegistry")
    fn = consent.functions.grantConsent(*signed.as_args())
    gateway.chain.preflight(fn)
    receipt = gateway.chain.transact(fn)
    return ConsentReceiptPublic(
        grant_id=trace.grant,
        transaction=receipt["transactionHash"].to_0x_hex(),
        block=receipt["blockNumber"],
    )


@router.post(
    "/revocations", status_code=status.HTTP_201_CREATED, response_model=ConsentReceiptPublic
)
def relay_revocation(
    body: ConsentRevocationCreate, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> ConsentReceiptPublic:
    """Relay a patient's signed revocation; it takes effect in the block that includes it."""
    consent = gateway.chain.contract("ConsentRegistry")
    grant_id = bytes.fromhex(body.grant_id[2:])
    patient = gateway.chain.call(consent.functions.grant(grant_id))[0]
    _may_relay(gateway, signer, patient, trace)
    trace.patient, trace.grant = patient, body.grant_id
    signed = SignedRevocation(
        Revocation(grant_id, int(body.nonce)),
        _domain(body.domain),
        bytes.fromhex(body.signature[2:]),
    )
    fn = consent.functions.revokeConsent(*signed.as_args())
    gateway.chain.preflight(fn)
    receipt = gateway.chain.transact(fn)
    return ConsentReceiptPublic(
        grant_id=body.grant_id,
        transaction=receipt["transactionHash"].to_0x_hex(),
        block=receipt["blockNumber"],
    )


@router.get("", response_model=list[ConsentPublic])
def list_grants(
    signer: Signer, gateway: GatewayDep, trace: CurrentTrace, patient: Address | None = None
) -> list[ConsentPublic]:
    """The grants the signing patient pseudonym has made, and whether each is in force; an agent
    in force names the ``patient`` it acts for, and is logged as itself."""
    whose = signer
    if patient is not None and patient.lower() != signer.lower():
        agent_of = acting_for(gateway, signer, patient, trace)
        if agent_of is None:
            raise Forbidden("consent.not_agent", f"{signer} is no agent of {patient} in force")
        whose = agent_of
    trace.patient, trace.view = whose, "consents"
    consent = gateway.chain.contract("ConsentRegistry")
    events = consent.events.ConsentGranted().get_logs(
        from_block=gateway.chain.deployment.block_number, argument_filters={"patient": whose}
    )
    now = int(time.time())
    grants = []
    for event in events:
        grant_id = bytes(event["args"]["grantId"])
        state = gateway.chain.call(consent.functions.grant(grant_id))
        _patient, scope_kind, purpose, expires_at, revoked, grantee, scope = state
        revoked = revoked or _appointment_revoked(gateway, grant_id)
        grants.append(
            ConsentPublic(
                grant_id="0x" + grant_id.hex(),
                grantee=grantee,
                scope_kind=_name(ScopeKind(scope_kind)),
                scope="0x" + bytes(scope).hex(),
                purpose=_name(Purpose(purpose)),
                expires_at=expires_at,
                status="revoked" if revoked else "expired" if expires_at <= now else "active",
            )
        )
    return grants


def _may_relay(gateway: Gateway, signer: str, patient: str, trace: Trace) -> None:
    """The patient or an agent of theirs in force relays their consent; this organisation's staff
    may relay it for them."""
    if signer.lower() == str(patient).lower() or acting_for(gateway, signer, patient, trace):
        return
    member = lookup_member(gateway, signer)
    if member is None or member.org != gateway.org.address:
        raise Forbidden("consent.not_relayer", "only the patient or this organisation's staff")


def _appointment_revoked(gateway: Gateway, grant_id: bytes) -> bool:
    """Whether an agent signed the grant under an appointment since revoked: it lapsed with it."""
    consent = gateway.chain.contract("ConsentRegistry")
    appointment_id = bytes(gateway.chain.call(consent.functions.grantAppointment(grant_id)))
    if appointment_id == bytes(32):
        return False
    return bool(gateway.chain.call(consent.functions.appointment(appointment_id))[3])


def _domain(domain: ConsentDomainPublic) -> ConsentDomain:
    return ConsentDomain(domain.chainId, domain.verifyingContract)  # type: ignore[arg-type]


def _name(member: ScopeKind | Purpose) -> ScopeKindName | PurposeName:
    return member.name.lower()  # type: ignore[return-value]
