"""The regulator's rules engine on a real chain and real gateways: each rule's triggering events
driven as the acting member would (through its gateway, or by raw transactions where a hostile
member bypasses it), each alert found with its evidence; a restart raises nothing twice; the
alerts are served on the regulator's gateway to its staff only, and by `medledger alerts`."""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from ledger.audit.alerts import Alert, AlertStore
from ledger.audit.supervision import Supervisor
from ledger.audit.supervision_rules import load_supervision_rules
from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.consent.grants import Purpose
from ledger.crypto.envelope import parse_envelope, seal
from ledger.demo.claims import FOLLOW_UP, MEDICATION
from ledger.store import cid_to_bytes
from tests.api.test_claims import body, care, pay, submit
from tests.api.test_consent import grant, relay
from tests.api.test_practice import decide, file
from tests.api.test_prescriptions import MEDICATION_REQUEST, diagnosis_record, issue, refused
from tests.contracts.prescribe_signing import as_tuple, signed_fields
from tests.contracts.raw_tx import send_raw
from tests.world import Patient, World, anchor, enrol_patient, fhir, private_world

RAMIPRIL = ("http://www.whocc.no/atc", "C09AA05")
#: Thresholds low enough for a handful of events to cross each one.
RULES: dict[str, Any] = {
    "rules": [
        {
            "id": "rx-qty",
            "kind": "prescription_over_quantity",
            "severity": "medium",
            "params": {"drugs": [{"system": RAMIPRIL[0], "code": RAMIPRIL[1], "max_quantity": 20}]},
        },
        {
            "id": "rx-value",
            "kind": "prescription_high_value",
            "severity": "low",
            "params": {
                "max_value": 100,
                "unit_prices": [{"system": RAMIPRIL[0], "code": RAMIPRIL[1], "price": 10}],
            },
        },
        {"id": "rx-unreported", "kind": "prescription_unreported", "severity": "high"},
        {
            "id": "rx-rate",
            "kind": "prescriber_rate",
            "severity": "medium",
            "params": {"max_prescriptions": 2, "window_s": 3600},
        },
        {"id": "rx-filing", "kind": "prescribing_outside_filing", "severity": "high"},
        {
            "id": "claim-high",
            "kind": "claim_over_threshold",
            "severity": "medium",
            "params": {"max_amount": 100, "events": ["submitted"]},
        },
        {
            "id": "cross-reads",
            "kind": "cross_institution_reads",
            "severity": "high",
            "params": {"max_patients": 1, "window_s": 3600},
        },
        {
            "id": "bg-repeated",
            "kind": "break_glass_repeated",
            "severity": "high",
            "params": {"max_declarations": 2, "window_s": 86_400},
        },
        {
            "id": "bg-unreviewed",
            "kind": "break_glass_unreviewed",
            "severity": "high",
            "params": {"review_window_s": 1},
        },
        {"id": "bg-unjustified", "kind": "break_glass_unjustified", "severity": "critical"},
    ]
}
#: BreakGlassRegistry's reason code 2: a life-threatening emergency.
LIFE_THREATENING = 2


@dataclass
class Supervised:
    world: World
    supervisor: Supervisor
    root: Path

    def alerts(self, rule: str | None = None) -> list[Alert]:
        self.supervisor.run_once()
        return self.supervisor.alerts.alerts(rule=rule, limit=10_000)


def _supervisor(world: World, db: Path, rules: Path) -> Supervisor:
    gateway = world.gateways["regulator"].gateway
    return Supervisor(
        gateway.chain,
        gateway.store,
        gateway.trail,
        AlertStore(db),
        org=gateway.org.address,
        org_key=gateway.org_key,
        rules=load_supervision_rules(rules),
        retry_s=0.1,
    )


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    """A consortium of its own (the rules count every doctor's prescriptions), its regulator's
    gateway serving a rules engine with the thresholds above."""
    root = tmp_path_factory.mktemp("supervised")
    (root / "rules.json").write_text(json.dumps(RULES))
    with private_world(root) as (world, _node):
        gateway = world.gateways["regulator"].gateway
        shipped = gateway.supervision
        supervisor = _supervisor(world, root / "alerts.sqlite", root / "rules.json")
        gateway.supervision = supervisor
        try:
            yield Supervised(world, supervisor, root)
        finally:
            gateway.supervision = shipped
            supervisor.alerts.close()


def _about(alerts: list[Alert], **args: str) -> list[Alert]:
    """The alerts whose evidence has an event with these arguments."""
    return [
        a
        for a in alerts
        if any(all(e.get("args", {}).get(k) == v for k, v in args.items()) for e in a.evidence)
    ]


def _tx_of(world: World, tx: str, topic: str) -> bool:
    """Whether transaction ``tx`` emitted a log naming ``topic``, as the chain holds it."""
    receipt = world.w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
    return any(topic in [t.to_0x_hex() for t in log["topics"]] for log in receipt["logs"])


@pytest.fixture
def patient(supervised: Supervised) -> Patient:
    return enrol_patient(supervised.world)


# -- prescriptions ------------------------------------------------------------------------------


def test_every_prescription_is_sealed_for_the_regulator_too(
    supervised: Supervised, patient: Patient
) -> None:
    world = supervised.world
    pid = issue(world, patient, record=diagnosis_record(world, patient))["prescription_id"]
    regulator = world.gateways["regulator"].gateway
    cid = regulator.prescriptions.onchain(bytes.fromhex(pid[2:])).cid
    labels = set(parse_envelope(regulator.store.get(cid)).wrapped_keys)
    assert labels == {
        world.org_address("hospital-a"),
        patient.pseudonym.address,
        regulator.org.address,
    }


def test_an_over_quantity_prescription_alerts_with_its_transaction(
    supervised: Supervised, patient: Patient
) -> None:
    world = supervised.world
    receipt = issue(world, patient, record=diagnosis_record(world, patient))
    pid = receipt["prescription_id"]
    (alert,) = _about(supervised.alerts("rx-qty"), prescriptionId=pid)
    (evidence,) = alert.evidence
    assert (evidence["event"], evidence["tx"]) == ("PrescriptionIssued", receipt["transaction"])
    assert _tx_of(world, evidence["tx"], pid)
    assert evidence["quantity"] == 30
    assert alert.institution == world.org_address("hospital-a")
    assert alert.subject == world.staff("hospital-a", "doctor").address.lower()
    (valued,) = _about(supervised.alerts("rx-value"), prescriptionId=pid)
    assert valued.evidence[0]["value"] == 300


def test_a_prescription_within_the_limits_raises_nothing(
    supervised: Supervised, patient: Patient
) -> None:
    world = supervised.world
    small = copy.deepcopy(MEDICATION_REQUEST)
    small["dispenseRequest"]["quantity"]["value"] = 5
    pid = issue(world, patient, record=diagnosis_record(world, patient), resource=small)[
        "prescription_id"
    ]
    assert _about(supervised.alerts("rx-qty"), prescriptionId=pid) == []
    assert _about(supervised.alerts("rx-value"), prescriptionId=pid) == []


def _issue_past_the_gateway(
    world: World, patient: Patient, pid: bytes, envelope: bytes
) -> tuple[str, str]:
    """Hospital A's own key relays ``pid`` by raw transaction, under its doctor's real EIP-712
    signature of the issuance (a doctor colluding, or whose key the hospital holds), with
    ``envelope`` as the content: (prescription id, transaction hash). The chain accepts it: the
    signer may prescribe at A, and the follow-up record is the patient's at A."""
    record = diagnosis_record(world, patient)
    hostile = world.consortium.account(world.consortium.orgs["hospital-a"].key_file)
    cid = world.gateways["hospital-a"].gateway.store.put(envelope)
    registry = world.gateways["hospital-a"].gateway.chain.contract("PrescriptionRegistry")
    fields = signed_fields(
        registry,
        world.staff("hospital-a", "doctor"),
        pid,
        hostile.address,
        commitment=secrets.token_bytes(32),
        cid=cid_to_bytes(cid),
        patient=patient.pseudonym.address,
        online=True,
        record=bytes.fromhex(record[2:]),
    )
    receipt = send_raw(world.w3, hostile, registry, "issuePrescription", pid, as_tuple(fields))
    assert receipt["status"] == 1
    return "0x" + pid.hex(), receipt["transactionHash"].to_0x_hex()


def test_a_hostile_hospital_issuing_past_its_gateway_is_caught_unreported(
    supervised: Supervised, patient: Patient
) -> None:
    """An envelope sealed for nobody the regulator knows: the regulator alerts on it."""
    world = supervised.world
    pid, tx = _issue_past_the_gateway(
        world, patient, secrets.token_bytes(32), b'{"not": "an envelope"}'
    )
    (alert,) = _about(supervised.alerts("rx-unreported"), prescriptionId=pid)
    assert alert.severity == "high"
    assert alert.evidence[0]["tx"] == tx
    # Who signed it, recovered from the transaction's calldata: the alert is about the doctor.
    doctor = world.staff("hospital-a", "doctor").address
    assert (alert.evidence[0]["prescriber"], alert.evidence[0]["prescriber_from"]) == (
        doctor,
        "signature",
    )
    assert alert.subject == doctor.lower()
    assert _about(supervised.alerts("rx-qty"), prescriptionId=pid) == []


def test_a_signature_not_in_the_calldata_is_found_from_the_regulators_copy(
    supervised: Supervised, patient: Patient
) -> None:
    """Issued through some other contract, the issuing transaction does not give up its signer:
    the regulator opens the prescriber commitment with the salt in its own copy, trying each
    doctor the chain has registered, and finds the one who prescribed."""
    world = supervised.world
    supervisor = supervised.supervisor
    receipt = issue(world, patient, record=diagnosis_record(world, patient))
    supervisor.run_once()
    stored = supervisor.alerts.fact("rx", receipt["prescription_id"])
    assert stored is not None
    fact = {k: v for k, v in stored.items() if k != "evidence"}
    doctor = world.staff("hospital-a", "doctor").address
    assert stored["evidence"]["prescriber"] == fact["prescriber"] == doctor
    fact["prescriber"] = None  # as if nothing was recovered from the transaction
    evidence = {"tx": receipt["transaction"]}
    resource, salt = supervisor._open(fact)
    assert resource is not None
    assert salt is not None
    with supervisor.alerts.transaction():
        supervisor._prescriber_from_copy(fact, evidence, salt)
    assert fact["prescriber"] == doctor
    assert evidence == {
        "tx": receipt["transaction"],
        "prescriber": doctor,
        "prescriber_from": "regulator_copy",
    }
    # A salt that is not the prescription's opens the commitment to no one.
    fact["prescriber"], evidence = None, {}
    with supervisor.alerts.transaction():
        supervisor._prescriber_from_copy(fact, evidence, secrets.token_bytes(32))
    assert fact["prescriber"] is None
    assert evidence == {}


def test_a_regulator_copy_that_is_no_medication_request_is_unreported_and_stops_nothing(
    supervised: Supervised, patient: Patient
) -> None:
    """Sealed for the regulator, but not FHIR the checks could read: unreported; the follower
    goes on to the next prescription."""
    world = supervised.world
    regulator = world.gateways["regulator"].gateway
    plaintext = json.dumps(
        {"resource": {"resourceType": "MedicationRequest", "medicationCodeableConcept": 5}}
    ).encode()
    pid_bytes = secrets.token_bytes(32)
    envelope = seal(
        plaintext,
        record_id=pid_bytes,
        version=1,
        recipients={regulator.org.address: regulator.org_key.public_key()},
    )
    pid, tx = _issue_past_the_gateway(world, patient, pid_bytes, envelope)
    (alert,) = _about(supervised.alerts("rx-unreported"), prescriptionId=pid)
    assert alert.evidence[0]["tx"] == tx
    other = enrol_patient(world)
    honest = issue(world, other, record=diagnosis_record(world, other))["prescription_id"]
    assert _about(supervised.alerts("rx-qty"), prescriptionId=honest)


def test_a_doctor_prescribing_fast_alerts_once_per_window(supervised: Supervised) -> None:
    world = supervised.world
    doctor = ("hospital-b", "doctor")
    pids = []
    for _ in range(4):
        patient = enrol_patient(world)
        record = diagnosis_record(world, patient)
        pids.append(issue(world, patient, record=record, doctor=doctor)["prescription_id"])
    subject = world.staff(*doctor).address.lower()
    (alert,) = [a for a in supervised.alerts("rx-rate") if a.subject == subject]
    assert [e["args"]["prescriptionId"] for e in alert.evidence] == pids[:3]
    assert alert.institution == world.org_address("hospital-a")


def test_online_prescribing_under_a_filing_without_internet_diagnosis_then_revoked(
    supervised: Supervised, patient: Patient
) -> None:
    """Hospital B's locum is filed at hospital A for prescribing only: the chain lets them
    prescribe there, but an online prescription is outside the filing's scope; once the
    regulator revokes the filing, the prescriptions just before it are flagged too."""
    world = supervised.world
    locum = world.staff("hospital-b", "locum").address
    filing = file(world, locum, ["prescribing"])["filing_id"]
    decide(world, filing, "approve")
    record = diagnosis_record(world, patient)
    online = issue(world, patient, record=record, doctor=("hospital-b", "locum"))
    other = enrol_patient(world)  # not the same drug twice for one patient: pre-review
    offline = issue(
        world,
        other,
        record=diagnosis_record(world, other),
        doctor=("hospital-b", "locum"),
        online=False,
    )
    scope = [a for a in supervised.alerts("rx-filing") if a.subject == locum.lower()]
    assert [a.evidence[0]["tx"] for a in scope] == [online["transaction"]]
    assert scope[0].evidence[1]["event"] == "PracticeFilingSubmitted"
    decide(world, filing, "revoke", "misconduct")
    (revoked,) = [
        a
        for a in supervised.alerts("rx-filing")
        if a.subject == locum.lower() and a.evidence[-1]["event"] == "PracticeFilingRevoked"
    ]
    assert [e["tx"] for e in revoked.evidence[:-1]] == [
        online["transaction"],
        offline["transaction"],
    ]


# -- claims -------------------------------------------------------------------------------------


def test_a_claim_above_the_threshold_alerts_and_one_below_does_not(
    supervised: Supervised,
) -> None:
    world = supervised.world
    who = care(world)
    paid = pay(world, who, [(who.medication, 12000), (who.visit, 8000)])
    high = submit(world, body(world, who, paid, [(who.medication, MEDICATION, 12000)]))
    low = submit(world, body(world, who, paid, [(who.visit, FOLLOW_UP, 8000)]))
    flagged = supervised.alerts("claim-high")
    (alert,) = _about(flagged, claimId=high["claim_id"])
    assert alert.evidence[0]["event"] == "ClaimSubmitted"
    assert alert.evidence[0]["args"]["claimedAmount"] == 12000
    assert alert.institution == world.org_address("hospital-a")
    assert _about(flagged, claimId=low["claim_id"]) == []


# -- the access trail ---------------------------------------------------------------------------


def test_a_doctor_reading_patients_of_another_hospital_alerts_with_the_access_entries(
    supervised: Supervised,
) -> None:
    world = supervised.world
    reader = world.staff("hospital-b", "doctor").address
    records = []
    for _ in range(2):
        patient = enrol_patient(world)
        rid = str(anchor(world, patient, fhir("observation-example.json"))["record_id"])
        relay(world, patient, grant(world, patient, rid, reader, Purpose.TREATMENT).to_wire())
        with world.as_staff("hospital-b", "doctor") as doctor:
            doctor.get_json(f"/v1/records/{rid}", params={"purpose": "treatment"})
        records.append(rid)
    hospital_a = world.gateways["hospital-a"].gateway
    while hospital_a.seal_access_log() is not None:
        pass
    (alert,) = [a for a in supervised.alerts("cross-reads") if a.subject == reader.lower()]
    assert [e["record_id"] for e in alert.evidence] == records
    assert alert.institution == world.org_address("hospital-b")
    trail = world.gateways["regulator"].gateway.trail
    for item in alert.evidence:
        (found,) = [
            f
            for f in trail.entries(batch=item["chain_batch_id"])
            if f.leaf_index == item["leaf_index"]
        ]
        assert (found.entry.actor, found.entry.record_id) == (reader, item["record_id"])
        assert found.org == world.org_address("hospital-a")


# -- break-glass --------------------------------------------------------------------------------


def _declare(world: World, label: str) -> tuple[str, str]:
    """Hospital B's own account declares break-glass for its doctor ``label`` on a record of
    hospital A's, by raw transaction: (access id, transaction hash)."""
    patient = enrol_patient(world)
    record = str(anchor(world, patient, fhir("observation-example.json"))["record_id"])
    hospital_b = world.consortium.account(world.consortium.orgs["hospital-b"].key_file)
    registry = world.gateways["hospital-b"].gateway.chain.contract("BreakGlassRegistry")
    access = secrets.token_bytes(32)
    doctor = world.staff("hospital-b", label).address
    args = (access, doctor, bytes.fromhex(record[2:]), LIFE_THREATENING)
    receipt = send_raw(world.w3, hospital_b, registry, "declareBreakGlass", *args)
    assert receipt["status"] == 1
    return "0x" + access.hex(), receipt["transactionHash"].to_0x_hex()


def test_a_doctors_third_break_glass_in_a_day_alerts(supervised: Supervised) -> None:
    world = supervised.world
    declared = [_declare(world, "doctor") for _ in range(3)]
    doctor = world.staff("hospital-b", "doctor").address.lower()
    (alert,) = [a for a in supervised.alerts("bg-repeated") if a.subject == doctor]
    assert [e["tx"] for e in alert.evidence] == [tx for _, tx in declared]
    assert [e["args"]["accessId"] for e in alert.evidence] == [a for a, _ in declared]
    assert alert.institution == world.org_address("hospital-b")


def test_a_break_glass_unreviewed_past_the_window_then_found_unjustified(
    supervised: Supervised,
) -> None:
    world = supervised.world
    access, tx = _declare(world, "locum")
    time.sleep(2.1)  # past the 1 s review window of these rules
    (late,) = _about(supervised.alerts("bg-unreviewed"), accessId=access)
    assert [e["tx"] for e in late.evidence] == [tx]
    holder = world.consortium.account(world.consortium.orgs["hospital-a"].key_file)
    registry = world.gateways["hospital-a"].gateway.chain.contract("BreakGlassRegistry")
    note = Web3.keccak(text="no emergency in the notes")
    review = send_raw(
        world.w3, holder, registry, "reviewBreakGlass", bytes.fromhex(access[2:]), False, note
    )
    assert review["status"] == 1
    (unjustified,) = _about(supervised.alerts("bg-unjustified"), accessId=access)
    assert [e["tx"] for e in unjustified.evidence] == [tx, review["transactionHash"].to_0x_hex()]
    assert unjustified.severity == "critical"
    assert len(_about(supervised.alerts("bg-unreviewed"), accessId=access)) == 1


# -- restart, background ------------------------------------------------------------------------


def test_a_restart_resumes_and_a_replay_raises_nothing_twice(supervised: Supervised) -> None:
    before = [a.id for a in supervised.alerts()]
    assert before
    again = _supervisor(
        supervised.world, supervised.root / "alerts.sqlite", supervised.root / "rules.json"
    )
    try:
        again.run_once()
        assert [a.id for a in again.alerts.alerts(limit=10_000)] == before
        # As if it stopped before committing anything: every event is read again.
        again.alerts.set_cursor(again.chain.deployment.block_number - 1)
        again.run_once()
        assert [a.id for a in again.alerts.alerts(limit=10_000)] == before
        assert again.alerts.cursor() == again.chain.head()
    finally:
        again.alerts.close()


def test_the_background_follower_raises_an_alert_as_the_event_arrives(
    supervised: Supervised, patient: Patient
) -> None:
    world = supervised.world
    record = diagnosis_record(world, patient)
    supervised.supervisor.run_once()
    with supervised.supervisor.running():
        pid = issue(world, patient, record=record)["prescription_id"]
        deadline = time.monotonic() + 30
        while not _about(supervised.supervisor.alerts.alerts(limit=10_000), prescriptionId=pid):
            assert time.monotonic() < deadline, "no alert within 30 s"
            time.sleep(0.2)


# -- the API and the CLI ------------------------------------------------------------------------


def _get(world: World, path: str, **params: Any) -> Any:
    with world.as_staff("regulator", "auditor", gateway="regulator") as regulator:
        return regulator.get_json(path, params=params or None)


def test_the_regulator_lists_filters_pages_and_reads_alerts(supervised: Supervised) -> None:
    world = supervised.world
    stored = supervised.alerts()
    listed = _get(world, "/v1/alerts", limit=500)
    assert [a["id"] for a in listed["items"]] == [a.id for a in stored]
    high = _get(world, "/v1/alerts", severity="high", limit=500)["items"]
    assert {a["severity"] for a in high} == {"high"}
    b = world.org_address("hospital-b")
    assert {a["institution"] for a in _get(world, "/v1/alerts", institution=b)["items"]} == {b}
    assert {a["rule"] for a in _get(world, "/v1/alerts", rule="rx-qty")["items"]} == {"rx-qty"}
    latest = max(a.at for a in stored)
    assert {a["at"] >= latest for a in _get(world, "/v1/alerts", since=latest)["items"]} == {True}
    first = _get(world, "/v1/alerts", limit=1)
    second = _get(world, "/v1/alerts", limit=1, after=first["next_after"])
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [a.id for a in stored[:2]]
    one = _get(world, f"/v1/alerts/{stored[0].id}")
    assert one["evidence"] == stored[0].evidence


def test_alert_refusals_have_their_codes(supervised: Supervised) -> None:
    world = supervised.world
    assert refused(lambda: _get(world, "/v1/alerts/0x" + "00" * 16)) == (404, "alerts.unknown")
    assert refused(lambda: _get(world, "/v1/alerts/nonsense")) == (422, "request.invalid")
    assert refused(lambda: _get(world, "/v1/alerts", severity="dire")) == (422, "request.invalid")
    with world.as_staff("hospital-a", "doctor", gateway="regulator") as outsider:
        assert refused(lambda: outsider.get_json("/v1/alerts")) == (403, "auth.wrong_organisation")
    with world.as_staff("hospital-a", "clerk") as own:
        assert refused(lambda: own.get_json("/v1/alerts")) == (404, "alerts.not_supervising")


def test_medledger_alerts_lists_and_shows(
    supervised: Supervised, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = supervised.world
    monkeypatch.setenv("PASS", "")
    key = world.consortium.orgs["regulator"].staff["auditor"].key_file
    signed = [
        "--key",
        str(key),
        "--passphrase-env",
        "PASS",
        "--gateway",
        world.gateways["regulator"].url,
    ]
    stored = supervised.alerts("rx-unreported")
    capsys.readouterr()
    assert main(["alerts", "list", "--rule", "rx-unreported", *signed]) == EXIT_OK
    assert stored[0].id in capsys.readouterr().out
    assert main(["alerts", "show", stored[0].id, *signed]) == EXIT_OK
    assert f"tx {stored[0].evidence[0]['tx']}" in capsys.readouterr().out
    assert main(["alerts", "show", "0x" + "00" * 16, *signed]) == EXIT_ERROR
    assert "alerts.unknown" in capsys.readouterr().err


def test_the_regulators_gateway_alone_builds_a_rules_engine(supervised: Supervised) -> None:
    world = supervised.world
    assert world.gateways["hospital-a"].gateway.supervision is None
    assert isinstance(world.gateways["regulator"].gateway.supervision, Supervisor)
    assert Web3.is_checksum_address(world.gateways["regulator"].gateway.supervision.org)
