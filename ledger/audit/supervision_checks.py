"""What each supervision rule makes of one fact as it arrives: a prescription issued, a filing
decided, a claim, a break-glass declaration or review, a read of another hospital's record. Each
check writes the facts later checks count over and raises its alerts in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.audit.access_log import AccessEntry
from ledger.audit.alerts import AlertStore
from ledger.audit.supervision_rules import SupervisionRule, SupervisionRules
from ledger.claiming.money import MINOR_UNITS
from ledger.prescribing.practice import PracticeScope
from ledger.records.ids import record_hospital

__all__ = ["Checks", "Evidence"]

#: One piece of an alert's evidence: a transaction's event, or an access entry.
Evidence = dict[str, Any]
#: How many pieces of evidence an alert over a window keeps (the latest ones).
MAX_EVIDENCE = 50


class Checks:
    """The rules applied to facts, writing to ``store`` (inside the caller's transaction)."""

    def __init__(self, store: AlertStore, rules: SupervisionRules) -> None:
        self.store = store
        self.rules = rules
        #: BreakGlassRegistry's review window, for a rule whose own is 0 (None: not deployed).
        self.review_window_s: int | None = None

    def _review_window(self, rule: SupervisionRule) -> int | None:
        return int(rule["review_window_s"]) or self.review_window_s

    def _raise(
        self,
        rule: SupervisionRule,
        key: str,
        *,
        institution: str | None,
        subject: str,
        at: int,
        summary: str,
        evidence: list[Evidence],
    ) -> None:
        self.store.raise_alert(
            rule=rule.id,
            kind=rule.kind,
            severity=rule.severity,
            key=key,
            institution=institution,
            subject=subject,
            at=at,
            summary=summary,
            evidence=evidence[-MAX_EVIDENCE:],
        )

    def _windowed(
        self, rule: SupervisionRule, subject: str, at: int, window: int, found: int, limit: float
    ) -> bool:
        """Whether a count of ``found`` over ``limit`` within ``window`` is a new alert: not one
        while the last alert of ``rule`` about ``subject`` is itself within the window."""
        if found <= limit:
            return False
        last = self.store.last_alert_at(rule.id, subject)
        return last is None or last <= at - window

    # -- prescriptions ---------------------------------------------------------------------------

    def prescription_issued(self, fact: Mapping[str, Any], evidence: Evidence) -> None:
        """A PrescriptionIssued event: the prescriber's rate, and the filing it was issued under."""
        pid, at, prescriber = fact["prescription_id"], int(fact["at"]), fact.get("prescriber")
        institution = str(fact["institution"])
        if prescriber is None:  # not recovered from the transaction: perhaps from the copy, later
            return
        self.store.put_fact("rx", pid, prescriber, at, {**fact, "evidence": evidence})
        for rule in self.rules.of("prescriber_rate"):
            window = int(rule["window_s"])
            recent = self.store.facts("rx", prescriber, since=at - window + 1, until=at)
            if self._windowed(rule, prescriber, at, window, len(recent), rule["max_prescriptions"]):
                self._raise(
                    rule,
                    f"{prescriber}:{pid}",
                    institution=institution,
                    subject=prescriber,
                    at=at,
                    summary=f"{len(recent)} prescriptions by {prescriber} within {window} s"
                    f" (more than {rule['max_prescriptions']})",
                    evidence=[f["evidence"] for f in recent],
                )
        registration = self.store.fact("registration", prescriber.lower())
        if registration is None or registration["institution"].lower() == institution.lower():
            return
        filings = [
            f
            for f in self.store.facts("filing", f"{prescriber}|{institution}")
            if f["status"] == "approved" and f["valid_from"] <= at <= f["valid_to"]
        ]
        online = bool(fact["online"])
        if online and not any(f["scope"] & PracticeScope.INTERNET_DIAGNOSIS for f in filings):
            for rule in self.rules.of("prescribing_outside_filing"):
                self._raise(
                    rule,
                    f"scope:{pid}",
                    institution=institution,
                    subject=prescriber,
                    at=at,
                    summary=f"{prescriber} prescribed online at {institution} under a filing"
                    " whose scope lacks internet diagnosis",
                    evidence=[evidence, *(f["evidence"] for f in filings)],
                )

    def prescription_read(
        self, fact: Mapping[str, Any], resource: Mapping[str, Any] | None, evidence: Evidence
    ) -> None:
        """The MedicationRequest opened from this regulator's copy (None: there was none)."""
        pid, at = fact["prescription_id"], int(fact["at"])
        subject = str(fact.get("prescriber") or fact["institution"])
        common = {"institution": fact["institution"], "subject": subject, "at": at}
        if resource is None:
            for rule in self.rules.of("prescription_unreported"):
                self._raise(
                    rule,
                    pid,
                    summary=f"prescription {pid} holds no copy for the regulator",
                    evidence=[evidence],
                    **common,
                )
            return
        coding = _codings(resource)
        quantity = _number(resource, "dispenseRequest", "quantity", "value")
        days = _days(resource)
        for rule in self.rules.of("prescription_over_quantity"):
            limit = min(
                [d["max_quantity"] for d in rule["drugs"] if (d["system"], d["code"]) in coding]
                or [rule["max_quantity"]]
            )
            over = []
            if quantity is not None and quantity > limit:
                over.append(f"quantity {quantity:g} over {limit:g}")
            if days is not None and days > rule["max_days_supply"]:
                over.append(f"{days:g} days' supply over {rule['max_days_supply']:g}")
            if over:
                self._raise(
                    rule,
                    pid,
                    summary=f"prescription {pid}: " + ", ".join(over),
                    evidence=[{**evidence, "quantity": quantity, "days_supply": days}],
                    **common,
                )
        for rule in self.rules.of("prescription_high_value"):
            prices = [p["price"] for p in rule["unit_prices"] if (p["system"], p["code"]) in coding]
            if quantity is None or not prices:
                continue
            value = quantity * max(prices)
            if value > rule["max_value"]:
                self._raise(
                    rule,
                    pid,
                    summary=f"prescription {pid} worth {value:g} (over {rule['max_value']:g})",
                    evidence=[{**evidence, "quantity": quantity, "value": value}],
                    **common,
                )

    # -- practice filings ------------------------------------------------------------------------

    def registration(self, doctor: str, institution: str, at: int) -> None:
        self.store.put_fact(
            "registration",
            doctor.lower(),
            doctor,
            at,
            {"doctor": doctor, "institution": institution},
        )

    def filing(self, fact: Mapping[str, Any], evidence: Evidence) -> None:
        subject = f"{fact['doctor']}|{fact['institution']}"
        self.store.put_fact(
            "filing", fact["filing_id"], subject, int(fact["at"]), {**fact, "evidence": evidence}
        )

    def filing_decided(self, filing_id: str, status: str, at: int, evidence: Evidence) -> None:
        """A filing approved or revoked; prescriptions shortly before a revocation alert."""
        filing = self.store.fact("filing", filing_id)
        if filing is None:
            return
        self.store.put_fact(
            "filing",
            filing_id,
            f"{filing['doctor']}|{filing['institution']}",
            int(filing["at"]),
            {**filing, "status": status},
        )
        if status != "revoked":
            return
        doctor, institution = str(filing["doctor"]), str(filing["institution"])
        for rule in self.rules.of("prescribing_outside_filing"):
            within = int(rule["revoked_within_s"])
            before = [
                f
                for f in self.store.facts("rx", doctor, since=at - within, until=at)
                if str(f["institution"]).lower() == institution.lower()
            ]
            if within and before:
                self._raise(
                    rule,
                    f"revoked:{filing_id}",
                    institution=institution,
                    subject=doctor,
                    at=at,
                    summary=f"{len(before)} prescriptions by {doctor} at {institution} within"
                    f" {within} s before filing {filing_id} was revoked",
                    evidence=[*(f["evidence"] for f in before), evidence],
                )

    # -- claims ----------------------------------------------------------------------------------

    def claim(self, event: str, fact: Mapping[str, Any], evidence: Evidence) -> None:
        """A claim submitted, decided (``approved``) or settled, with its amount (minor units)."""
        amount = int(fact["amount"])
        for rule in self.rules.of("claim_over_threshold"):
            limit = round(rule["max_amount"] * MINOR_UNITS)
            if event in rule["events"] and amount > limit:
                self._raise(
                    rule,
                    f"{event}:{fact['claim_id']}",
                    institution=str(fact["provider"]),
                    subject=str(fact["insurer"]),
                    at=int(fact["at"]),
                    summary=f"claim {fact['claim_id']} {event} for {amount / MINOR_UNITS:g}"
                    f" (over {rule['max_amount']:g})",
                    evidence=[evidence],
                )

    # -- break-glass -----------------------------------------------------------------------------

    def break_glass_declared(self, fact: Mapping[str, Any], evidence: Evidence) -> None:
        doctor, at, access = str(fact["doctor"]), int(fact["declared_at"]), fact["access_id"]
        self.store.put_fact("bg", access, doctor, at, {**fact, "evidence": evidence})
        self.store.put_fact("bg_open", access, doctor, at, {**fact, "evidence": evidence})
        for rule in self.rules.of("break_glass_repeated"):
            window = int(rule["window_s"])
            recent = self.store.facts("bg", doctor, since=at - window + 1, until=at)
            if self._windowed(rule, doctor, at, window, len(recent), rule["max_declarations"]):
                self._raise(
                    rule,
                    f"{doctor}:{access}",
                    institution=str(fact["org"]),
                    subject=doctor,
                    at=at,
                    summary=f"{len(recent)} break-glass declarations by {doctor} within"
                    f" {window} s (more than {rule['max_declarations']})",
                    evidence=[f["evidence"] for f in recent],
                )

    def break_glass_reviewed(self, fact: Mapping[str, Any], evidence: Evidence) -> None:
        access = str(fact["access_id"])
        declared = self.store.fact("bg", access)
        self.store.delete_fact("bg_open", access)
        if declared is None:
            return
        trail = [declared["evidence"], evidence]
        late_by = int(fact["reviewed_at"]) - int(declared["declared_at"])
        for rule in self.rules.of("break_glass_unreviewed"):
            window = self._review_window(rule)
            if window is not None and late_by > window:
                how = f"reviewed {late_by} s after declared"
                self._unreviewed(rule, window, declared, trail, how)
        if not fact["justified"]:
            for rule in self.rules.of("break_glass_unjustified"):
                self._raise(
                    rule,
                    access,
                    institution=str(declared["org"]),
                    subject=str(declared["doctor"]),
                    at=int(fact["reviewed_at"]),
                    summary=f"break-glass {access} by {declared['doctor']} found not justified"
                    f" by {fact['reviewer']}",
                    evidence=trail,
                )

    def break_glass_overdue(self, now: int) -> None:
        """Declarations still unreviewed past a rule's review window."""
        for open_ in self.store.facts("bg_open"):
            waited = now - int(open_["declared_at"])
            for rule in self.rules.of("break_glass_unreviewed"):
                window = self._review_window(rule)
                if window is not None and waited > window:
                    how = f"unreviewed {waited} s"
                    self._unreviewed(rule, window, open_, [open_["evidence"]], how)

    def _unreviewed(
        self,
        rule: SupervisionRule,
        window: int,
        declared: Mapping[str, Any],
        trail: list[Evidence],
        how: str,
    ) -> None:
        self._raise(
            rule,
            str(declared["access_id"]),
            institution=str(declared["org"]),
            subject=str(declared["doctor"]),
            at=int(declared["declared_at"]) + window,
            summary=f"break-glass {declared['access_id']} by {declared['doctor']} {how}"
            f" (review window {window} s)",
            evidence=trail,
        )

    # -- the access trail ------------------------------------------------------------------------

    def access_entry(self, batch_id: int, leaf: int, logger: str, entry: AccessEntry) -> None:
        """An entry of the consortium trail: an allowed read of another hospital's record counts."""
        if entry.outcome != "allowed" or not entry.org or not entry.patient:
            return
        if not entry.action.startswith("GET /v1/records/") or not entry.record_id:
            return
        if entry.action.endswith("/verification"):  # anchoring facts, no patient data
            return
        try:
            hospital = record_hospital(bytes.fromhex(entry.record_id[2:]))
        except ValueError:
            return
        if hospital.lower() == entry.org.lower():
            return
        fact = {
            "actor": entry.actor,
            "org": entry.org,
            "at": entry.at,
            "patient_key": f"{hospital}:{entry.patient}".lower(),
        }
        evidence = {
            "type": "access_entry",
            "chain_batch_id": batch_id,
            "leaf_index": leaf,
            "logged_by": logger,
            "at": entry.at,
            "actor": entry.actor,
            "action": entry.action,
            "record_id": entry.record_id,
            "patient": entry.patient,
            "view": entry.view,
        }
        self.foreign_read(f"{batch_id}:{leaf}", fact, evidence)

    def foreign_read(self, key: str, fact: Mapping[str, Any], evidence: Evidence) -> None:
        """A staff member's allowed read of a record of a hospital other than their own."""
        actor, at = str(fact["actor"]), int(fact["at"])
        self.store.put_fact("read", key, actor, at, {**fact, "evidence": evidence})
        for rule in self.rules.of("cross_institution_reads"):
            window = int(rule["window_s"])
            recent = self.store.facts("read", actor, since=at - window + 1, until=at)
            patients = {f["patient_key"] for f in recent}
            if self._windowed(rule, actor, at, window, len(patients), rule["max_patients"]):
                self._raise(
                    rule,
                    f"{actor}:{key}",
                    institution=str(fact["org"]),
                    subject=actor,
                    at=at,
                    summary=f"{actor} of {fact['org']} read {len(patients)} patients of other"
                    f" hospitals within {window} s (more than {rule['max_patients']})",
                    evidence=[f["evidence"] for f in recent],
                )


def _codings(resource: Mapping[str, Any]) -> set[tuple[str, str]]:
    concept = resource.get("medicationCodeableConcept") or {}
    codings = concept.get("coding") or [] if isinstance(concept, dict) else []
    return {(str(c.get("system")), str(c.get("code"))) for c in codings if isinstance(c, dict)}


def _number(resource: Mapping[str, Any], *path: str) -> float | None:
    value: Any = resource
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_DAYS = {"d": 1.0, "wk": 7.0, "h": 1 / 24, "mo": 30.0}


def _days(resource: Mapping[str, Any]) -> float | None:
    """dispenseRequest.expectedSupplyDuration in days, if it is in a unit of time known here."""
    value = _number(resource, "dispenseRequest", "expectedSupplyDuration", "value")
    duration = (resource.get("dispenseRequest") or {}).get("expectedSupplyDuration") or {}
    factor = _DAYS.get(str(duration.get("code") or duration.get("unit") or "d"))
    return None if value is None or factor is None else value * factor
