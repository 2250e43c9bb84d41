"""The regulator's alerts, raised by its rules engine (ledger.audit.supervision) on chain events and
the consortium's access trail as they arrive; served on the regulator's gateway to its staff."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from api.audit import CurrentTrace
from api.deps import GatewayDep, OwnStaff
from api.gateway import Gateway
from api.problems import NotFound, responses
from api.schemas import Address
from ledger.audit.alerts import Alert
from ledger.audit.supervision import Supervisor

router = APIRouter(prefix="/v1/alerts", tags=["supervision"])

Severity = Literal["low", "medium", "high", "critical"]


class AlertPublic(BaseModel):
    """A rule's finding: its rule, kind and severity, whom it is about (``subject``: a doctor,
    staff member or insurer; ``institution``), when on chain (``at``, Unix seconds), and the
    transactions (hash, block, log index, event arguments) or access entries (batch, leaf) that
    show it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    seq: int
    rule: str
    kind: str
    severity: str
    institution: str | None
    subject: str
    at: int
    summary: str
    raised_at: float
    evidence: list[dict[str, Any]]


class AlertsPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[AlertPublic]
    next_after: int | None


def _engine(gateway: Gateway, trace: CurrentTrace) -> Supervisor:
    trace.view = "alerts"
    if gateway.supervision is None:
        raise NotFound(
            "this gateway runs no rules engine: alerts are on the regulator's gateway",
            code="alerts.not_supervising",
        )
    return gateway.supervision


@router.get("", response_model=AlertsPublic, responses=responses(401, 403, 404, 422))
def list_alerts(
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    severity: Severity | None = None,
    institution: Address | None = None,
    since: Annotated[int | None, Query(ge=0, le=2**62, description="chain time, Unix s")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="next_after of the last page")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertsPublic:
    """The alerts matching every filter given, in the order they were raised; staff of the
    regulator, on its own gateway (403 ``auth.wrong_organisation`` for anyone else)."""
    del staff  # own staff of this (the regulator's) organisation: OwnStaff checked it
    found = _engine(gateway, trace).alerts.alerts(
        rule=rule,
        severity=severity,
        institution=institution,
        since=since,
        after=after,
        limit=limit,
    )
    return AlertsPublic(
        items=[_public(a) for a in found],
        next_after=found[-1].seq if len(found) == limit else None,
    )


@router.get("/{alert_id}", response_model=AlertPublic, responses=responses(401, 403, 404, 422))
def read_alert(
    alert_id: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{32}$")],
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> AlertPublic:
    """One alert with its evidence (404 ``alerts.unknown`` if there is none by that id)."""
    del staff
    found = _engine(gateway, trace).alerts.alert(alert_id)
    if found is None:
        raise NotFound(f"no alert {alert_id}", code="alerts.unknown")
    return _public(found)


def _public(alert: Alert) -> AlertPublic:
    return AlertPublic(
        id=alert.id,
        seq=alert.seq,
        rule=alert.rule,
        kind=alert.kind,
        severity=alert.severity,
        institution=alert.institution,
        subject=alert.subject,
        at=alert.at,
        summary=alert.summary,
        raised_at=alert.raised_at,
        evidence=alert.evidence,
    )
