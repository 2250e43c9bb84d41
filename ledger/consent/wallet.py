"""The patient's side, as a phone app would do it: one key file, a pseudonym per hospital, consent
signed locally and relayed by the hospital's gateway, and the trail of who touched their data."""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount

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
