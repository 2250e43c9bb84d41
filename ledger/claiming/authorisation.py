"""The submitter's authorisation of a claim: the EIP-712 ``ClaimAuthorisation`` that a provider's
staff member or the patient signs and the insurer relays with the claim, so that the chain, not the
insurer's word, says who submitted it (ClaimRegistry checks it; docs/claims.md).

The claim id, chosen by the signer and submitted once, is the authorisation's nonce.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from ledger.claiming.fhir import ClaimMalformed, claim_items, paid_services
from ledger.crypto.typed_data import ContractDomain

if TYPE_CHECKING:
    from ledger.gateway.client import GatewayClient

__all__ = [
    "AUTHORISATION_TYPES",
    "CLAIM_CONTRACT",
    "DEFAULT_LIFETIME",
    "ClaimAuthorisation",
    "ClaimDomain",
    "authorise_claim",
    "authorise_for",
    "drawn_items",
]

#: The contract's name in a `Deployment`.
CLAIM_CONTRACT = "ClaimRegistry"
#: How long a claimant's authorisation stays valid by default, in seconds.
DEFAULT_LIFETIME = 3600

AUTHORISATION_TYPES: dict[str, list[dict[str, str]]] = {
    "ClaimAuthorisation": [
        {"name": "claimId", "type": "bytes32"},
        {"name": "insurer", "type": "address"},
        {"name": "provider", "type": "address"},
        {"name": "patient", "type": "address"},
        {"name": "serviceKeys", "type": "bytes32[]"},
        {"name": "amounts", "type": "uint128[]"},
        {"name": "deadline", "type": "uint64"},
    ]
}


@dataclass(frozen=True)
class ClaimDomain(ContractDomain):
    """The EIP-712 domain claim authorisations are signed under: one ClaimRegistry on one chain."""

    NAME = "MedLedger Claims"
    CONTRACT = CLAIM_CONTRACT


@dataclass(frozen=True)
class ClaimAuthorisation:
    """What the submitter signs: this claim id, to this insurer, from this provider for this
    patient, drawing these amounts on these services, until ``deadline``."""

    claim_id: bytes
    insurer: str
    provider: str
    patient: str
    service_keys: tuple[bytes, ...]
    amounts: tuple[int, ...]
    deadline: int

    def typed_data(self, domain: ClaimDomain) -> dict[str, Any]:
        return {
            "domain": domain.as_eip712(),
            "types": AUTHORISATION_TYPES,
            "primaryType": "ClaimAuthorisation",
            "message": {
                "claimId": self.claim_id,
                "insurer": to_checksum_address(self.insurer),
                "provider": to_checksum_address(self.provider),
                "patient": to_checksum_address(self.patient),
                "serviceKeys": list(self.service_keys),
                "amounts": list(self.amounts),
                "deadline": self.deadline,
            },
        }

    def sign(self, signer: LocalAccount, domain: ClaimDomain) -> bytes:
        """``signer``'s 65-byte signature of this authorisation under ``domain``."""
        signed = signer.sign_message(encode_typed_data(full_message=self.typed_data(domain)))
        return bytes(signed.signature)


def drawn_items(
    claim: dict[str, Any], payment: dict[str, Any], currency: str
) -> tuple[tuple[bytes, ...], tuple[int, ...]]:
    """The claim key and claimed amount of each item of ``claim``, in order, the keys taken from
    the payment document that pays its services; ClaimMalformed for an item it does not pay."""
    paid = paid_services(payment, currency)
    keys, amounts = [], []
    for item in claim_items(claim, currency):
        found = paid.get(item.service)
        if found is None:
            raise ClaimMalformed(
                f"item {item.sequence} claims for {item.service.reference}, "
                "which the payment shown does not pay"
            )
        keys.append(found.key)
        amounts.append(item.amount)
    return tuple(keys), tuple(amounts)


def authorise_claim(
    body: dict[str, Any],
    signer: LocalAccount,
    domain: ClaimDomain,
    *,
    insurer: str,
    currency: str,
    lifetime: int = DEFAULT_LIFETIME,
) -> dict[str, Any]:
    """``body`` (of ``POST /v1/claims``) with a fresh claim id and ``signer``'s authorisation of it
    for ``insurer``, valid for ``lifetime`` seconds."""
    keys, amounts = drawn_items(body["claim"], body["payment"]["resource"], currency)
    terms = ClaimAuthorisation(
        claim_id=secrets.token_bytes(32),
        insurer=insurer,
        provider=body["provider"],
        patient=body["patient"],
        service_keys=keys,
        amounts=amounts,
        deadline=int(time.time()) + lifetime,
    )
    return {
        **body,
        "claim_id": "0x" + terms.claim_id.hex(),
        "deadline": terms.deadline,
        "authorisation": "0x" + terms.sign(signer, domain).hex(),
    }


def authorise_for(client: GatewayClient, body: dict[str, Any], *, currency: str) -> dict[str, Any]:
    """``body`` authorised by ``client``'s account for the insurer whose gateway it speaks to,
    under the domain that gateway names."""
    try:
        domain = ClaimDomain.from_wire(client.get_json("/v1/claims/domain"))
        return authorise_claim(
            body, client.account, domain, insurer=client.domain.gateway, currency=currency
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ClaimMalformed(f"cannot authorise this claim: {exc!r}") from exc
