"""The patient's side, as a phone app would do it: one key file, a pseudonym per hospital, consent
signed locally and relayed by the hospital's gateway, and the trail of who touched their data; and
the side of an agent (guardian, proxy) the patient appointed, signing and reading as itself."""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.consent.agents import AgentKind, sign_appointment, sign_appointment_revocation
from ledger.consent.grants import ConsentDomain, Purpose, Scope, sign_grant, sign_revocation
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, fetch_domain


class PatientWallet:
    """A patient's keys speaking to one hospital's gateway under the pseudonym they hold there."""

    def __init__(self, keys: PatientKeys, gateway_url: str, *, timeout: float = 30.0) -> None:
        self._url = gateway_url
        domain = fetch_domain(gateway_url, timeout=timeout)
        self.hospital = domain.gateway
        self.pseudonym: LocalAccount = keys.pseudonym(self.hospital)
        self._client = GatewayClient(gateway_url, self.pseudonym, domain, timeout=timeout)
        self._consent_domain: ConsentDomain | None = None

    def grant(
        self, grantee: str, scope: Scope, purpose: Purpose, *, expires_at: int
    ) -> dict[str, Any]:
        """Sign a grant with this hospital's pseudonym key and have the gateway relay it."""
        signed = sign_grant(
            self.pseudonym,
            self.consent_domain(),
            grantee=grantee,
            scope=scope,
            purpose=purpose,
            expires_at=expires_at,
        )
        receipt: dict[str, Any] = self._client.post_json("/v1/consents", signed.to_wire())
        return receipt

    def revoke(self, grant_id: str) -> dict[str, Any]:
        """Sign a revocation and have the gateway relay it; it counts from its block on."""
        signed = sign_revocation(
            self.pseudonym, self.consent_domain(), bytes.fromhex(grant_id.removeprefix("0x"))
        )
        receipt: dict[str, Any] = self._client.post_json(
            "/v1/consents/revocations", signed.to_wire()
        )
        return receipt

    def grants(self) -> list[dict[str, Any]]:
        grants: list[dict[str, Any]] = self._client.get_json("/v1/consents")
        return grants

    def appoint(self, agent: str, kind: AgentKind, *, expires_at: int) -> dict[str, Any]:
        """Appoint ``agent`` (its own address) as guardian or proxy, relayed by the gateway."""
        signed = sign_appointment(
            self.pseudonym, self.consent_domain(), agent=agent, kind=kind, expires_at=expires_at
        )
        receipt: dict[str, Any] = self._client.post_json(
            "/v1/consents/appointments", signed.to_wire()
        )
        return receipt

    def revoke_appointment(self, appointment_id: str) -> dict[str, Any]:
        """End an appointment at once; the grants its agent signed lapse with it."""
        signed = sign_appointment_revocation(
            self.pseudonym, self.consent_domain(), bytes.fromhex(appointment_id.removeprefix("0x"))
        )
        receipt: dict[str, Any] = self._client.post_json(
            "/v1/consents/appointments/revocations", signed.to_wire()
        )
        return receipt

    def appointments(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._client.get_json("/v1/consents/appointments")
        return found

    def accesses(self, **filters: Any) -> list[dict[str, Any]]:
        """Who accessed this patient's data at this hospital, under which grant, and the outcome."""
        page: dict[str, Any] = self._client.get_json("/v1/access-log", params=filters or None)
        return list(page["items"])

    def erase(self) -> dict[str, Any]:
        """Ask this hospital to erase the patient's records: refused within their retention period
        (``retention.period_running``), after it the hospital destroys its key for them."""
        path = f"/v1/patients/{self.pseudonym.address}/erasure"
        receipt: dict[str, Any] = self._client.post_json(path)
        return receipt

    def consent_domain(self) -> ConsentDomain:
        if self._consent_domain is None:
            raw = self._client.get_json("/v1/consents/domain")
            self._consent_domain = ConsentDomain(raw["chainId"], raw["verifyingContract"])
        return self._consent_domain

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PatientWallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def days_from_now(days: float) -> int:
    return int(time.time() + days * 86_400)


class AgentWallet:
    """An agent's own key speaking to one hospital's gateway for the patients who appointed it
    there: it signs grants and revocations for them, and reads their data, as itself."""

    def __init__(self, agent: LocalAccount, gateway_url: str, *, timeout: float = 30.0) -> None:
        domain = fetch_domain(gateway_url, timeout=timeout)
        self.agent = agent
        self._client = GatewayClient(gateway_url, agent, domain, timeout=timeout)
        raw = self._client.get_json("/v1/consents/domain")
        self._consent_domain = ConsentDomain(raw["chainId"], raw["verifyingContract"])

    def grant(
        self, patient: str, grantee: str, scope: Scope, purpose: Purpose, *, expires_at: int
    ) -> dict[str, Any]:
        """Sign a grant for ``patient`` with the agent's key; the chain names the agent."""
        signed = sign_grant(
            self.agent,
            self._consent_domain,
            grantee=grantee,
            scope=scope,
            purpose=purpose,
            expires_at=expires_at,
            patient=patient,
        )
        receipt: dict[str, Any] = self._client.post_json("/v1/consents", signed.to_wire())
        return receipt

    def revoke(self, grant_id: str) -> dict[str, Any]:
        signed = sign_revocation(
            self.agent, self._consent_domain, bytes.fromhex(grant_id.removeprefix("0x"))
        )
        receipt: dict[str, Any] = self._client.post_json(
            "/v1/consents/revocations", signed.to_wire()
        )
        return receipt

    def grants(self, patient: str) -> list[dict[str, Any]]:
        grants: list[dict[str, Any]] = self._client.get_json(
            "/v1/consents", params={"patient": patient}
        )
        return grants

    def accesses(self, patient: str, **filters: Any) -> list[dict[str, Any]]:
        """Who accessed ``patient``'s data at this hospital, this agent's own reads among them."""
        page: dict[str, Any] = self._client.get_json(
            "/v1/access-log", params={"patient": patient, **filters}
        )
        return list(page["items"])

    def record(self, record_id: str) -> dict[str, Any]:
        """A record of a patient this agent acts for, whole, as the patient would read it."""
        document: dict[str, Any] = self._client.get_json(f"/v1/records/{record_id}")
        return document

    def appointments(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._client.get_json("/v1/consents/appointments")
        return found

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AgentWallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
