"""One insurer's side of claims: receive a claim under the patient's grant, decide it against the
chain and its own coverage rules, settle it; and the chain's record of every claim, read back.

The insurer's gateway keeps what it was shown (the FHIR Claim and the payment document) sealed for
itself under (claim id, version 1); its ClaimResponse under version 2 and its PaymentNotice under
version 3. Whether a service was already claimed elsewhere is decided by the contract alone
(docs/claims.md).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic

from ledger.chain.connection import Chain
from ledger.claiming import (
    CoverageRules,
    ItemFacts,
    Reason,
    adjudicate,
)
from ledger.claiming.authorisation import drawn_items
from ledger.claiming.evidence import (
    Shown,
    parse_shown,
    payment_check,
    service_check,
    shown_bundle,
)
from ledger.claiming.fhir import (
    PaidService,
    claim_items,
    claim_response,
    diagnoses,
    paid_services,
    payment_notice,
)
from ledger.claiming.onchain import (
    FIGURE_FIELD,
    ClaimEvent,
    ClaimStatus,
    DecisionReceipt,
    InstitutionFigures,
    OnchainClaim,
    SubmitReceipt,
)
from ledger.crypto import envelope
from ledger.errors import ContractRevert, LedgerError
from ledger.payload import Payload, canonicalize, parse_payload
from ledger.prescribing import encode_reason
from ledger.records.anchoring import Anchored, seal_store_anchor
from ledger.store import ContentStore, cid_from_bytes

__all__ = ["ClaimBook", "ClaimForeign"]

CLAIM_VERSION, RESPONSE_VERSION, SETTLEMENT_VERSION = 1, 2, 3
_CLAIM_EVENTS = ("ClaimSubmitted", "ClaimDuplicateCaught", "ClaimDecided", "ClaimSettled")
_PLACEHOLDER = b"\x01" * 32  # a nonzero commitment for a call that only predicts the outcome


class ClaimForeign(LedgerError):
    """The claim was submitted to another insurer: only that insurer's gateway holds it."""

    code = "claim.foreign"


_OUTCOME = {
    ClaimStatus.APPROVED: ("complete", "approved"),
    ClaimStatus.PARTIAL: ("partial", "approved in part"),
    ClaimStatus.DENIED: ("complete", "denied"),
    ClaimStatus.DUPLICATE: ("error", "already claimed elsewhere"),
}


class ClaimBook:
    """Receives, decides and settles claims as this insurer, and reads every claim back."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        *,
        org: LocalAccount,
        org_key: X25519PrivateKey,
        rules: CoverageRules,
        currency: str,
        max_payload_bytes: int,
    ) -> None:
        self._chain = chain
        self._store = store
        self._org = org
        self._org_key = org_key
        self._rules = rules
        self._currency = currency
        self._max_payload_bytes = max_payload_bytes
        self._registry = chain.contract("ClaimRegistry")

    # -- writes ---------------------------------------------------------------------------------

    def submit(
        self,
        claim: dict[str, Any],
        *,
        payment: dict[str, Any],
        payment_salt: bytes,
        payment_id: bytes,
        provider: str,
        patient: str,
        submitter: str,
        claim_id: bytes,
        deadline: int,
        authorisation: bytes,
    ) -> SubmitReceipt:
        """Anchor ``claim_id`` on services the shown payment pays, with the submitter's signed
        authorisation of it (`ledger.claiming.authorisation`); the contract refuses it without
        that, or without the patient's claim-verification grant to this insurer, or if a service
        was not paid to ``provider`` for ``patient``."""
        claim = self._validated(claim, "Claim")
        payment = self._validated(payment, "PaymentReconciliation")
        keys, amounts = drawn_items(claim, payment, self._currency)
        bundle = shown_bundle(claim, payment, payment_salt, payment_id)
        submission = (
            provider,
            patient,
            submitter,
            list(keys),
            list(amounts),
            deadline,
            authorisation,
        )
        anchored = seal_store_anchor(
            self._chain,
            self._store,
            Payload("Bundle", bundle, canonicalize(bundle)),
            context_id=claim_id,
            version=CLAIM_VERSION,
            recipients={self._org.address: self._org_key.public_key()},
            build=lambda digest, cid: self._registry.functions.submitClaim(
                claim_id, (digest, cid, *submission)
            ),
        )
        return SubmitReceipt("0x" + claim_id.hex(), sum(amounts), anchored)

    def decide(self, claim_id: bytes, *, adjuster: str) -> DecisionReceipt:
        """Check the claim against the chain, the payment and the coverage rules; anchor the
        ClaimResponse with the approved amounts. The contract alone decides a duplicate."""
        onchain = self.own(claim_id)
        shown = self._shown(onchain)
        items = claim_items(shown.claim, self._currency)
        paid = paid_services(shown.payment, self._currency)
        chain_keys = self._chain.call(self._registry.functions.claimItems(claim_id))[0]
        facts = [
            ItemFacts(
                item.sequence,
                item.amount,
                item.codings,
                service_check(self._chain, item.service, onchain),
                _paid_amount(paid.get(item.service), bytes(key)),
            )
            for item, key in zip(items, chain_keys, strict=True)
        ]
        adjudication = adjudicate(
            payment_check(self._chain, shown, onchain), diagnoses(shown.claim), facts, self._rules
        )
        approved = tuple(item.approved for item in adjudication.items)
        reasons = tuple(str(r) for r in adjudication.reasons)

        def call(digest: bytes, cid: bytes, why: tuple[str, ...]) -> Any:
            codes = [encode_reason(r) for r in why]
            return self._registry.functions.decideClaim(
                claim_id, adjuster, list(approved), codes, digest, cid
            )

        predicted = ClaimStatus(self._chain.call(call(_PLACEHOLDER, _PLACEHOLDER, reasons)))
        if predicted is ClaimStatus.DUPLICATE:
            reasons = (str(Reason.DUPLICATE),)
        outcome, disposition = _OUTCOME[predicted]
        response = claim_response(
            onchain.claim_id,
            patient=onchain.patient,
            insurer=self._org.address,
            adjudication=adjudication,
            approved=approved if predicted is not ClaimStatus.DUPLICATE else (0,) * len(approved),
            outcome=outcome,
            disposition=disposition,
            reasons=reasons,
            currency=self._currency,
        )
        anchored = seal_store_anchor(
            self._chain,
            self._store,
            self._validated_payload(response, "ClaimResponse"),
            context_id=claim_id,
            version=RESPONSE_VERSION,
            recipients={self._org.address: self._org_key.public_key()},
            build=lambda digest, cid: call(digest, cid, reasons),
        )
        decided = self.onchain(claim_id)  # the chain's word, should another insurer have raced
        return DecisionReceipt(
            decided.claim_id,
            decided.status,
            decided.approved_amount,
            reasons,
            adjudication,
            anchored,
        )

    def settle(self, claim_id: bytes, *, adjuster: str, reference: str) -> Anchored:
        """Anchor the payout of an approved claim as a PaymentNotice naming ``reference``."""
        onchain = self.own(claim_id)
        notice = payment_notice(
            onchain.claim_id,
            provider=onchain.provider,
            amount=onchain.approved_amount,
            reference=reference,
            currency=self._currency,
        )
        return seal_store_anchor(
            self._chain,
            self._store,
            self._validated_payload(notice, "PaymentNotice"),
            context_id=claim_id,
            version=SETTLEMENT_VERSION,
            recipients={self._org.address: self._org_key.public_key()},
            build=lambda digest, cid: self._registry.functions.settleClaim(
                claim_id, adjuster, digest, cid
            ),
        )

    # -- reads ----------------------------------------------------------------------------------

    def onchain(self, claim_id: bytes) -> OnchainClaim:
        """The chain's record; ClaimUnknown (as ContractRevert) if never submitted."""
        raw = self._chain.call(self._registry.functions.claim(claim_id))
        insurer, provider, patient, submitter, status, submitted_at, claimed, approved = raw[:8]
        digest, cid = raw[8:]
        if ClaimStatus(status) is ClaimStatus.NONE:
            raise ContractRevert("ClaimUnknown", {"claimId": "0x" + claim_id.hex()})
        return OnchainClaim(
            "0x" + claim_id.hex(),
            insurer,
            provider,
            patient,
            submitter,
            ClaimStatus(status),
            int(submitted_at),
            int(claimed),
            int(approved),
            "0x" + bytes(digest).hex(),
            cid_from_bytes(bytes(cid)),
        )

    def own(self, claim_id: bytes) -> OnchainClaim:
        """The chain's record of a claim submitted to this insurer; ClaimForeign otherwise."""
        onchain = self.onchain(claim_id)
        if onchain.insurer != self._org.address:
            raise ClaimForeign(f"claim {onchain.claim_id} was submitted to {onchain.insurer}")
        return onchain

    def content(self, onchain: OnchainClaim) -> dict[str, Any]:
        """The FHIR Claim as this insurer received it."""
        return self._shown(onchain).claim

    def response(self, claim_id: bytes) -> dict[str, Any] | None:
        """This insurer's ClaimResponse, once decided."""
        decision = self._chain.call(self._registry.functions.decision(claim_id))
        if int(decision[1]) == 0:
            return None
        resource: dict[str, Any] = self._open(
            claim_id, cid_from_bytes(bytes(decision[3])), RESPONSE_VERSION
        )["resource"]
        return resource

    def history(self, claim_id: bytes) -> list[ClaimEvent]:
        """Every event of the claim, oldest first, from one log query: every claim event is
        indexed by the claim id first."""
        logs = self._chain.w3.eth.get_logs(
            {
                "address": self._registry.address,
                "fromBlock": self._chain.deployment.block_number,
                "topics": [None, "0x" + claim_id.hex()],
            }
        )
        by_topic = {
            event_abi_to_log_topic(abi): abi["name"]
            for abi in self._registry.abi
            if abi["type"] == "event" and abi["name"] in _CLAIM_EVENTS
        }
        events = []
        for log in logs:
            name = by_topic.get(bytes(log["topics"][0]))
            if name is None:
                continue
            decoded = self._registry.events[name]().process_log(log)
            events.append(
                ClaimEvent(
                    name,
                    int(log["blockNumber"]),
                    log["transactionHash"].to_0x_hex(),
                    {k: _text(v) for k, v in decoded["args"].items()},
                )
            )
        return events

    def queue(self, *, open_only: bool) -> list[OnchainClaim]:
        """The claims submitted to this insurer, oldest first: all, or those awaiting a decision."""
        events = self._registry.events.ClaimSubmitted().get_logs(
            from_block=self._chain.deployment.block_number,
            argument_filters={"insurer": self._org.address},
        )
        claims = [self.onchain(bytes(e["args"]["claimId"])) for e in events]
        return [c for c in claims if not open_only or c.status is ClaimStatus.SUBMITTED]

    def figures(self) -> list[InstitutionFigures]:
        """Per institution, as provider and as insurer: claims, decisions, duplicates caught,
        settlements. Counted from events alone: no content is read."""
        start = self._chain.deployment.block_number
        events = self._registry.events
        figures: dict[tuple[str, str], InstitutionFigures] = {}

        def of(address: str, role: str) -> InstitutionFigures:
            return figures.setdefault((address, role), InstitutionFigures(address, role))

        for e in events.ClaimSubmitted().get_logs(from_block=start):
            of(e["args"]["provider"], "provider").claims += 1
            of(e["args"]["insurer"], "insurer").claims += 1
        for e in events.ClaimDecided().get_logs(from_block=start):
            field = FIGURE_FIELD[ClaimStatus(e["args"]["status"])]
            for address, role in (
                (e["args"]["provider"], "provider"),
                (e["args"]["insurer"], "insurer"),
            ):
                entry = of(address, role)
                setattr(entry, field, getattr(entry, field) + 1)
        for e in events.ClaimSettled().get_logs(from_block=start):
            of(e["args"]["provider"], "provider").settled += 1
            of(e["args"]["insurer"], "insurer").settled += 1
        return sorted(figures.values(), key=lambda f: (f.role, f.institution))

    # -- helpers --------------------------------------------------------------------------------

    def _validated(self, resource: dict[str, Any], resource_type: str) -> dict[str, Any]:
        return self._validated_payload(resource, resource_type).resource

    def _validated_payload(self, resource: dict[str, Any], resource_type: str) -> Payload:
        return parse_payload(
            canonicalize(resource),
            max_bytes=self._max_payload_bytes,
            allowed_types=frozenset({resource_type}),
        )

    def _shown(self, onchain: OnchainClaim) -> Shown:
        claim_id = bytes.fromhex(onchain.claim_id[2:])
        return parse_shown(self._open(claim_id, onchain.cid, CLAIM_VERSION)["resource"])

    def _open(self, claim_id: bytes, cid: str, version: int) -> dict[str, Any]:
        plaintext = envelope.open_envelope(
            self._store.get(cid),
            private_key=self._org_key,
            label=self._org.address,
            record_id=claim_id,
            version=version,
        )
        body: dict[str, Any] = json.loads(plaintext)
        return body


def _paid_amount(paid: PaidService | None, chain_key: bytes) -> int | None:
    """What the payment pays for the item's service, if its key is the one the claim drew on."""
    return paid.amount if paid is not None and paid.key == chain_key else None


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value)
