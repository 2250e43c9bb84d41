"""The regulator's real-time supervision: a follower on the regulator's gateway that reads the
chain's events as they arrive (prescriptions, practice filings, claims, break-glass), opens each
prescription from the copy sealed for this regulator, reads the consortium's access trail, and
applies the rules file's rules (ledger.audit.supervision_checks) to every fact, raising alerts
with their evidence into ledger.audit.alerts. Cursor and alerts live in one SQLite file, so a
restart resumes where it stopped and raises nothing twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from ledger.audit.alerts import AlertStore
from ledger.audit.supervision_checks import Checks, Evidence
from ledger.audit.supervision_rules import SupervisionRules
from ledger.audit.trail_index import OK, TrailIndex
from ledger.chain.connection import Chain
from ledger.crypto.envelope import open_envelope
from ledger.errors import (
    ChainUnavailable,
    CryptoError,
    DeploymentError,
    LedgerError,
    PayloadError,
    StoreError,
)
from ledger.payload import parse_payload
from ledger.prescribing.signature import (
    prescriber_commitment,
    prescriber_salt,
    recover_prescriber,
)
from ledger.store import ContentStore, cid_from_bytes

__all__ = ["WATCHED", "Supervisor"]

log = logging.getLogger("medledger.supervision")

#: The contracts and events the rules read. A contract not in the deployment is skipped.
WATCHED: dict[str, tuple[str, ...]] = {
    "PrescriptionRegistry": ("PrescriptionIssued",),
    "PracticeRegistry": (
        "PracticeRegistrationRecorded",
        "PracticeFilingSubmitted",
        "PracticeFilingApproved",
        "PracticeFilingRevoked",
    ),
    "ClaimRegistry": ("ClaimSubmitted", "ClaimDecided", "ClaimSettled"),
    "BreakGlassRegistry": ("BreakGlassDeclared", "BreakGlassReviewed"),
}


#: Blocks asked for in one eth_getLogs, so that a long catch-up is several bounded queries.
MAX_BLOCK_SPAN = 2_000
#: Claim statuses (IClaimRegistry.Status) a decision approves an amount under.
_APPROVING = {2: "approved", 3: "approved"}
#: A prescription's MedicationRequest is sealed under (prescription id, version 1).
_REQUEST_VERSION = 1


class Supervisor:
    """Follows the chain and the consortium trail for one regulator, raising alerts."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        trail: TrailIndex,
        alerts: AlertStore,
        *,
        org: str,
        org_key: X25519PrivateKey,
        rules: SupervisionRules,
        interval_s: float = 2.0,
        retry_s: float = 30.0,
    ) -> None:
        self.chain = chain
        self.store = store
        self.trail = trail
        self.alerts = alerts
        self.org = Web3.to_checksum_address(org)
        self._org_key = org_key
        self.checks = Checks(alerts, rules)
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._decoders: dict[tuple[str, bytes], tuple[str, Any]] = {}
        self._round_lock = threading.Lock()
        self._wake = threading.Event()
        for contract, events in WATCHED.items():
            self._add_decoders(contract, events)
        self.checks.review_window_s = self._review_window()

    def _add_decoders(self, contract: str, events: tuple[str, ...]) -> None:
        try:
            bound = self.chain.contract(contract)
        except DeploymentError:
            log.info("%s is not deployed here: its rules see nothing", contract)
            return
        for name in events:
            abi: Any = next(
                a for a in bound.abi if a.get("type") == "event" and a.get("name") == name
            )
            topic = bytes(event_abi_to_log_topic(abi))
            self._decoders[(str(bound.address).lower(), topic)] = (contract, bound.events[name]())

    def _review_window(self) -> int | None:
        """BreakGlassRegistry's own review window, for rules that name none."""
        try:
            registry = self.chain.contract("BreakGlassRegistry")
        except DeploymentError:
            return None
        return int(self.chain.call(registry.functions.reviewWindow()))

    def run_once(self) -> None:
        """One round: the chain's new events, prescriptions not read yet, overdue reviews, and
        the access-log batches not read yet."""
        with self._round_lock:
            self._follow_chain()
            self._read_prescriptions()
            with self.alerts.transaction():
                self.checks.break_glass_overdue(int(time.time()))
            self._read_trail()

    # -- the chain -------------------------------------------------------------------------------

    def _follow_chain(self) -> None:
        head = self.chain.head()
        cursor = self.alerts.cursor()
        start = self.chain.deployment.block_number if cursor is None else cursor + 1
        addresses = sorted({Web3.to_checksum_address(a) for a, _ in self._decoders})
        while start <= head:
            end = min(head, start + MAX_BLOCK_SPAN - 1)
            try:
                logs = self.chain.w3.eth.get_logs(
                    {"address": addresses, "fromBlock": start, "toBlock": end}
                )
            except (OSError, ValueError) as exc:
                raise ChainUnavailable(f"events of blocks {start}-{end} not read: {exc}") from exc
            ordered = sorted(logs, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"])))
            times: dict[int, int] = {}
            with self.alerts.transaction():
                for entry in ordered:
                    topics = entry["topics"]
                    key = (str(entry["address"]).lower(), bytes(topics[0]) if topics else b"")
                    if key in self._decoders:
                        contract, event = self._decoders[key]
                        self._on_event(contract, event.process_log(entry), times)
                self.alerts.set_cursor(end)
            start = end + 1

    def _block_time(self, block: int, times: dict[int, int]) -> int:
        if block not in times:
            times[block] = int(self.chain.w3.eth.get_block(block)["timestamp"])
        return times[block]

    def _on_event(self, contract: str, decoded: Any, times: dict[int, int]) -> None:
        args, name = decoded["args"], str(decoded["event"])
        block = int(decoded["blockNumber"])
        at = self._block_time(block, times)
        evidence: Evidence = {
            "type": "transaction",
            "contract": contract,
            "event": name,
            "tx": decoded["transactionHash"].to_0x_hex(),
            "block": block,
            "log_index": int(decoded["logIndex"]),
            "at": at,
            "args": {k: _plain(v) for k, v in args.items()},
        }
        handler = getattr(self, f"_on_{name}", None)
        if handler is not None:
            handler(args, at, evidence)

    def _on_PrescriptionIssued(self, args: Any, at: int, evidence: Evidence) -> None:
        pid = "0x" + bytes(args["prescriptionId"]).hex()
        institution = str(args["institution"])
        prescriber = self._prescriber(evidence["tx"], institution)
        if prescriber is not None:  # how the regulator knows it, beside the transaction
            evidence = {**evidence, "prescriber": prescriber, "prescriber_from": "signature"}
        fact = {
            "prescription_id": pid,
            "institution": institution,
            "prescriber": prescriber,
            "prescriber_commitment": "0x" + bytes(args["prescriberCommitment"]).hex(),
            "online": bool(args["online"]),
            "cid": bytes(args["cid"]).hex(),
            "at": at,
        }
        self.checks.prescription_issued(fact, evidence)
        # Opened after this span commits: a fetch may wait the node's timeout.
        self.alerts.defer(pid, {"fact": fact, "evidence": evidence}, retry_s=0)

    def _prescriber(self, tx: str, institution: str) -> str | None:
        """The doctor whose EIP-712 signature the issuing transaction carries, recovered from its
        calldata as any node operator can (the chain checked that signature and that its signer
        may prescribe at ``institution``); None if the transaction is no direct call of
        issuePrescription (then the regulator's copy of the MedicationRequest names them)."""
        transaction = self.chain.w3.eth.get_transaction(tx)  # type: ignore[arg-type]
        registry = self.chain.contract("PrescriptionRegistry")
        return recover_prescriber(registry, transaction, institution)

    def _on_PracticeRegistrationRecorded(self, args: Any, at: int, evidence: Evidence) -> None:
        del evidence
        self.checks.registration(str(args["doctor"]), str(args["institution"]), at)

    def _on_PracticeFilingSubmitted(self, args: Any, at: int, evidence: Evidence) -> None:
        fact = {
            "filing_id": "0x" + bytes(args["filingId"]).hex(),
            "doctor": str(args["doctor"]),
            "institution": str(args["institution"]),
            "scope": int(args["scope"]),
            "valid_from": int(args["validFrom"]),
            "valid_to": int(args["validTo"]),
            "status": "pending",
            "at": at,
        }
        self.checks.filing(fact, evidence)

    def _on_PracticeFilingApproved(self, args: Any, at: int, evidence: Evidence) -> None:
        self.checks.filing_decided("0x" + bytes(args["filingId"]).hex(), "approved", at, evidence)

    def _on_PracticeFilingRevoked(self, args: Any, at: int, evidence: Evidence) -> None:
        self.checks.filing_decided("0x" + bytes(args["filingId"]).hex(), "revoked", at, evidence)

    def _claim(self, event: str, args: Any, amount: int, at: int, evidence: Evidence) -> None:
        fact = {
            "claim_id": "0x" + bytes(args["claimId"]).hex(),
            "insurer": str(args["insurer"]),
            "provider": str(args["provider"]),
            "amount": amount,
            "at": at,
        }
        self.checks.claim(event, fact, evidence)

    def _on_ClaimSubmitted(self, args: Any, at: int, evidence: Evidence) -> None:
        self._claim("submitted", args, int(args["claimedAmount"]), at, evidence)

    def _on_ClaimDecided(self, args: Any, at: int, evidence: Evidence) -> None:
        if int(args["status"]) in _APPROVING:
            self._claim("approved", args, int(args["approvedAmount"]), at, evidence)

    def _on_ClaimSettled(self, args: Any, at: int, evidence: Evidence) -> None:
        self._claim("settled", args, int(args["amount"]), at, evidence)

    def _on_BreakGlassDeclared(self, args: Any, at: int, evidence: Evidence) -> None:
        fact = {
            "access_id": "0x" + bytes(args["accessId"]).hex(),
            "org": str(args["org"]),
            "doctor": str(args["doctor"]),
            "record_id": "0x" + bytes(args["recordId"]).hex(),
            "reason": int(args["reason"]),
            "declared_at": int(args["declaredAt"]) or at,
        }
        self.checks.break_glass_declared(fact, evidence)

    def _on_BreakGlassReviewed(self, args: Any, at: int, evidence: Evidence) -> None:
        fact = {
            "access_id": "0x" + bytes(args["accessId"]).hex(),
            "reviewer": str(args["reviewer"]),
            "justified": bool(args["justified"]),
            "reviewed_at": int(args["reviewedAt"]) or at,
        }
        self.checks.break_glass_reviewed(fact, evidence)

    # -- prescriptions, opened from this regulator's copy ---------------------------------------

    def _read_prescriptions(self) -> None:
        for key, data, _attempts in self.alerts.due():
            fact, evidence = data["fact"], data["evidence"]
            try:
                resource, salt = self._open(fact)
            except StoreError as exc:  # no node had it yet: asked again later, less often
                log.info("prescription %s not read yet: %s", key, exc)
                self.alerts.defer(key, data, retry_s=self.retry_s)
                continue
            with self.alerts.transaction():
                if fact.get("prescriber") is None and salt is not None:
                    self._prescriber_from_copy(fact, evidence, salt)
                self.checks.prescription_read(fact, resource, evidence)
                self.alerts.undefer(key)

    def _prescriber_from_copy(self, fact: dict[str, Any], evidence: Evidence, salt: bytes) -> None:
        """A prescription whose signer the transaction did not give up (issued through another
        contract): the regulator's copy holds the salt the prescriber commitment is opened with,
        tried on each doctor the chain has registered or filed; the found one is checked as at
        issue, with the commitment as its evidence."""
        opening = prescriber_salt(salt)
        known = {
            str(f["doctor"])
            for kind in ("registration", "filing")
            for f in self.alerts.facts(kind)
            if "doctor" in f
        }
        for doctor in sorted(known):
            if "0x" + prescriber_commitment(doctor, opening).hex() == fact["prescriber_commitment"]:
                fact["prescriber"] = doctor
                evidence.update(prescriber=doctor, prescriber_from="regulator_copy")
                self.checks.prescription_issued(fact, evidence)
                return

    def _open(self, fact: dict[str, Any]) -> tuple[dict[str, Any] | None, bytes | None]:
        """The MedicationRequest from the copy sealed for this regulator and its salt; None for
        either if there is none (or it does not open, or is not one)."""
        try:
            cid = cid_from_bytes(bytes.fromhex(fact["cid"]))
        except (ValueError, LedgerError):
            return None, None
        blob = self.store.get(cid)
        try:
            plaintext = open_envelope(
                blob,
                private_key=self._org_key,
                label=self.org,
                record_id=bytes.fromhex(fact["prescription_id"][2:]),
                version=_REQUEST_VERSION,
            )
            body = json.loads(plaintext)
            # Validated as the issuing gateway validates it: a hospital sealing its own plaintext
            # past its gateway may put anything there, and the checks read only FHIR.
            raw = json.dumps(body["resource"]).encode()
            payload = parse_payload(
                raw, max_bytes=len(raw), allowed_types=frozenset({"MedicationRequest"})
            )
        except (CryptoError, PayloadError, ValueError, KeyError, TypeError):
            return None, None
        try:
            salt: bytes | None = bytes.fromhex(str(body["salt"])[2:])
        except (KeyError, TypeError, ValueError):
            salt = None
        return dict(payload.resource), salt

    # -- the consortium's access trail ----------------------------------------------------------

    def _read_trail(self) -> None:
        self.trail.sync()
        for batch in self.trail.batches(limit=2**62):
            if batch.status != OK or not batch.readable:
                continue
            if self.alerts.batch_read(batch.chain_batch_id):
                continue
            with self.alerts.transaction():
                for found in self.trail.entries(batch=batch.chain_batch_id):
                    self.checks.access_entry(
                        found.chain_batch_id, found.leaf_index, found.org, found.entry
                    )
                self.alerts.mark_batch_read(batch.chain_batch_id)

    # -- running ---------------------------------------------------------------------------------

    def nudge(self) -> None:
        """Start the next round now."""
        self._wake.set()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Supervise in a background thread while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.run_once()
                except LedgerError as exc:  # chain or node down a while: the cursor waits
                    log.warning("supervision round not finished: %s", exc)
                except Exception:  # a fault of ours must not end the regulator's watch for good
                    log.exception("supervision round failed")
                self._wake.wait(self.interval_s)
                self._wake.clear()

        thread = threading.Thread(target=loop, name="supervision", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            self._wake.set()
            thread.join()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    return str(value)
