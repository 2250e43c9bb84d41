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
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from ledger.chain.deploy import Deployment
from ledger.claiming.fhir import ClaimMalformed, claim_items, paid_services

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
class ClaimDomain:
    """The EIP-712 domain claim authorisations are signed under: one ClaimRegistry on one chain."""

    chain_id: int
    verifying_contract: ChecksumAddress

    NAME = "MedLedger Claims"
    VERSION = "1"

    def __post_init__(self) -> None:
        if self.chain_id <= 0:
            raise ValueError(f"chain id must be positive, got {self.chain_id}")
        object.__setattr__(self, "verifying_contract", to_checksum_address(self.verifying_contract))

    @classmethod
    def of(cls, deployment: Deployment) -> ClaimDomain:
        """The domain of ``deployment``'s ClaimRegistry."""
        return cls(deployment.chain_id, deployment.address(CLAIM_CONTRACT))

    def as_eip712(self) -> dict[str, Any]:
        """The domain as EIP-712 names it."""
        return {
            "name": self.NAME,
            "version": self.VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    def to_wire(self) -> dict[str, Any]:
        """The domain as ``GET /v1/claims/domain`` carries it."""
        return {"chainId": self.chain_id, "verifyingContract": self.verifying_contract}

    @classmethod
    def from_wire(cls, data: Any) -> ClaimDomain:
        """Parse `to_wire` output; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"not a claim domain: {data!r}")
        chain_id, contract = data.get("chainId"), data.get("verifyingContract")
        if type(chain_id) is not int or not isinstance(contract, str):
            raise ValueError(f"not a claim domain: {data!r}")
        return cls(chain_id, contract)  # type: ignore[arg-type]


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
