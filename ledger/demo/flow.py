"""`medledger demo`: one whole flow against the running stack, each step printed with its proof.

A hospital anchors a patient's record; the hospital and the patient read it back; the hospital
amends it; an insurer verifies both versions; a tampered copy is caught; the regulator audits the
record's access trail against the roots anchored on chain. In between, the patient grants an
insurer claim verification of the record, the insurer reads its segmented view, the patient
revokes, the insurer is refused, and the patient sees all of it. Then prescriptions
(ledger.demo.prescriptions): rights, eligibility, pre-review, review, one dispense. Then claims
(ledger.demo.claims): a payment, an approval and settlement, a duplicate caught across insurers, a
denial for the amount, a refusal without the grant, the regulator's figures. Then break-glass
(ledger.demo.breakglass): an emergency read, highlighted to the patient, reviewed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ledger.audit.trail_index import verify_consortium_trail
from ledger.chain.connection import Chain, connect
from ledger.chain.deploy import load_deployment
from ledger.consent.grants import Purpose, Scope
from ledger.consent.patients import sign_enrolment
from ledger.consent.wallet import PatientWallet, days_from_now
from ledger.crypto.envelope import open_envelope
from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from ledger.demo.breakglass import break_glass_steps
from ledger.demo.claims import claim_steps
from ledger.demo.guardian import guardian_steps
from ledger.demo.prescriptions import prescription_steps
from ledger.demo.trail import consortium_trail
from ledger.errors import ConfigError, LedgerError
from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
from ledger.network.consortium import DEMO_KDF_N, Consortium, demo_dir
from ledger.network.org import OrgNode
from ledger.records.document import RecordDocument, Verdict
from ledger.records.verify import access_batch_lookup, verify_against_ledger
from ledger.store import ContentStore, KuboStore

DEMO_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "urn:uuid:5d1a2f1e-3b0a-4f7e-9a55-1f3c2b9d0a01",
            "resource": {
                "resourceType": "Patient",
                "id": "p1",
                "name": [{"family": "Li", "given": ["Hua"]}],
                "gender": "female",
                "birthDate": "1968-04-12",
            },
        },
        {
            "fullUrl": "urn:uuid:5d1a2f1e-3b0a-4f7e-9a55-1f3c2b9d0a02",
            "resource": {
                "resourceType": "Condition",
                "id": "c1",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/sid/icd-10",
                            "code": "I10",
                            "display": "Essential hypertension",
                        }
                    ]
                },
                "subject": {"reference": "urn:uuid:5d1a2f1e-3b0a-4f7e-9a55-1f3c2b9d0a01"},
                "recordedDate": "2026-11-20",
            },
        },
        {
            "fullUrl": "urn:uuid:5d1a2f1e-3b0a-4f7e-9a55-1f3c2b9d0a03",
            "resource": {
                "resourceType": "Observation",
                "id": "bp1",
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "8480-6",
                            "display": "Systolic blood pressure",
                        }
                    ]
                },
                "subject": {"reference": "urn:uuid:5d1a2f1e-3b0a-4f7e-9a55-1f3c2b9d0a01"},
                "effectiveDateTime": "2026-11-20T09:30:00+08:00",
                "valueQuantity": {
                    "value": 152,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
        },
    ],
}


class DemoFailed(LedgerError):
    """A step of the demo did not hold."""

    code = "demo.failed"


def _step(n: int | str, title: str, **facts: object) -> None:
    print(f"[{n}] {title}")
    for key, value in facts.items():
        print(f"      {key:<12} {value}")


def run_demo(data_dir: Path) -> None:
    """Walk the flow; raises LedgerError (the CLI prints it) if any step does not hold."""
    path = demo_dir(data_dir) / "consortium.json"
    if not path.exists():
        raise ConfigError(f"{path} not found: start the stack first with `make run`")
    consortium = Consortium.load(path)
    hospital = consortium.orgs["hospital-a"]
    insurer = consortium.orgs["insurer"]
    assert hospital.gateway_url is not None
    domain = fetch_domain(hospital.gateway_url)

    patient_file = demo_dir(data_dir) / "patient-li-hua.json"
    if not patient_file.exists():
        new_key_file(patient_file, "", iterations=DEMO_KDF_N)
    patient = PatientKeys(load_key(patient_file, ""))
    pseudonym = patient.pseudonym(hospital.address)
    identity = patient.public_identity(hospital.address)
    _step(
        1,
        "patient key (held by the patient; the service never sees it)",
        file=patient_file,
        pseudonym=pseudonym.address,
    )

    doctor = consortium.account(hospital.staff["doctor"].key_file)
    clerk = consortium.account(hospital.staff["clerk"].key_file)
    enc_key = bytes.fromhex(identity["encryption_key"][2:])
    signature = sign_enrolment(pseudonym, domain.as_eip712(), hospital.address, enc_key)
    with GatewayClient(hospital.gateway_url, clerk, domain) as as_clerk:
        as_clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": signature,
            },
        )
    _step(
        2, "clerk enrols the patient's pseudonym, signed by the patient", hospital=hospital.address
    )

    with GatewayClient(hospital.gateway_url, doctor, domain) as as_doctor:
        body = json.dumps(DEMO_BUNDLE).encode()
        v1 = as_doctor.post_json("/v1/records", content=body, params={"patient": pseudonym.address})
        record_id = v1["record_id"]
        _step(
            3,
            "doctor anchors the record (FHIR Bundle, encrypted, stored, anchored)",
            record=record_id,
            version=v1["version"],
            cid=v1["cid"],
            transaction=v1["transaction"],
            block=v1["block"],
        )

        as_hospital = as_doctor.get_json(f"/v1/records/{record_id}")
        _check(
            as_hospital["resource"] == DEMO_BUNDLE,
            "hospital read-back differs from what was anchored",
        )
        _step(4, "hospital reads it back, decrypted with its key", resource=_summary(as_hospital))

    with GatewayClient(hospital.gateway_url, pseudonym, domain) as as_patient:
        served = as_patient.get_json(f"/v1/records/{record_id}")
        blob = as_patient.request("GET", f"/v1/records/{record_id}/envelope").content
    opened = json.loads(
        open_envelope(
            blob,
            private_key=patient.encryption_key(hospital.address),
            label=pseudonym.address,
            record_id=bytes.fromhex(record_id[2:]),
            version=1,
        )
    )
    _check(served["resource"] == DEMO_BUNDLE == opened["resource"], "patient read-back differs")
    _step(
        5,
        "patient reads it: by signature, and by opening the envelope with their own key",
        served=_summary(served),
        opened="identical",
    )

    amended = copy.deepcopy(DEMO_BUNDLE)
    amended["entry"][2]["resource"]["valueQuantity"]["value"] = 148
    with GatewayClient(hospital.gateway_url, doctor, domain) as as_doctor:
        v2 = as_doctor.post_json(
            f"/v1/records/{record_id}/versions",
            content=json.dumps(amended).encode(),
            params={"expected_version": 1},
        )
        _step(
            6,
            "doctor amends the record (version 2 chains to version 1)",
            version=v2["version"],
            cid=v2["cid"],
            transaction=v2["transaction"],
        )
        documents = [
            as_doctor.get_json(f"/v1/records/{record_id}", params={"version": n}) for n in (1, 2)
        ]

    auditor = consortium.account(insurer.staff["auditor"].key_file)
    assert insurer.gateway_url is not None
    # On the insurer's own gateway: its own IPFS node fetches hospital A's envelopes from its peers.
    insurer_domain = fetch_domain(insurer.gateway_url)
    with GatewayClient(insurer.gateway_url, auditor, insurer_domain) as as_insurer:
        check = as_insurer.get_json(f"/v1/records/{record_id}/verification")
    _check(
        check["intact"] and check["latest_version"] == 2,
        "verification did not find both versions intact",
    )
    _step(
        7,
        "insurer verifies on its own gateway: anchored, by whom, when, every version intact",
        hospital=check["hospital"],
        latest=check["latest_version"],
        versions=", ".join(
            f"v{v['version']}@block{v['block']}:{v['content']}" for v in check["versions"]
        ),
    )

    chain, store, where = _insurers_view(data_dir)
    with store:
        for doc in documents:
            verdict = verify_against_ledger(RecordDocument.model_validate(doc), chain, store)
            _check(verdict is Verdict.INTACT, f"v{doc['version']} verified as {verdict.value}")
        tampered = copy.deepcopy(documents[1])
        tampered["resource"]["entry"][2]["resource"]["valueQuantity"]["value"] = 120
        verdict = verify_against_ledger(RecordDocument.model_validate(tampered), chain, store)
    _check(verdict is Verdict.PAYLOAD_ALTERED, f"tampered copy verified as {verdict.value}")
    _step(
        8,
        "the insurer checks both versions against the chain and its own IPFS node; "
        "a tampered copy is caught",
        v1="intact",
        v2="intact",
        tampered=verdict.value,
        store=where,
    )
    _consent_steps(consortium, patient, record_id)
    regulator = consortium.account(consortium.orgs["regulator"].staff["auditor"].key_file)
    trail = consortium_trail(consortium, regulator, record_id, _check)
    checked, mismatches = verify_consortium_trail(trail["items"], access_batch_lookup(chain))
    _check(not mismatches and checked == len(trail["items"]), f"trail mismatches: {mismatches}")
    names = {o.address.lower(): name for name, o in consortium.orgs.items()}
    _step(
        13,
        "regulator audits the record's whole trail on its own gateway: every organisation's "
        "accesses, read from IPFS, each proven against the chain",
        entries=len(trail["items"]),
        organisations=", ".join(sorted({names[i["org"].lower()] for i in trail["items"]})),
        accesses=", ".join(
            sorted({i["entry"]["action"] + " " + i["entry"]["outcome"] for i in trail["items"]})
        ),
        anchored=f"{checked} checked here against the chain, 0 mismatched",
    )
    prescription_id = prescription_steps(consortium, pseudonym, record_id, _step, _check)
    claim_steps(consortium, patient, record_id, prescription_id, _step, _check)
    guardian_steps(consortium, _step, _check)
    break_glass_steps(consortium, patient, record_id, _step, _check)
    print("demo complete")


def _consent_steps(consortium: Consortium, patient: PatientKeys, record_id: str) -> None:
    """Steps 9-12: the patient grants the insurer claim verification of this one record, the
    insurer reads its claim view and nothing more, the patient revokes, the insurer is refused,
    and the patient sees all of it."""
    hospital, insurer = consortium.orgs["hospital-a"], consortium.orgs["insurer"]
    assert hospital.gateway_url is not None
    auditor = consortium.account(insurer.staff["auditor"].key_file)
    read = {"purpose": "claim_verification"}
    # The insurer asks hospital A's gateway: only the writer holds the data key, and cuts the
    # view the grant allows (keys follow consent); the patient's wallet relays through it too.
    with (
        PatientWallet(patient, hospital.gateway_url) as wallet,
        GatewayClient(
            hospital.gateway_url, auditor, fetch_domain(hospital.gateway_url)
        ) as as_insurer,
    ):
        granted = wallet.grant(
            insurer.address,
            Scope.record(record_id),
            Purpose.CLAIM_VERIFICATION,
            expires_at=days_from_now(30),
        )
        _step(
            9,
            "patient grants the insurer claim verification of this record, by signing",
            grant=granted["grant_id"],
            relayed_in=granted["transaction"],
        )

        view = as_insurer.get_json(f"/v1/records/{record_id}", params=read)
        kinds = [e["resource"]["resourceType"] for e in view["resource"].get("entry", [])]
        _check("Patient" not in kinds and "salt" not in view, "the claim view shows too much")
        _step(
            10,
            "insurer reads its segmented view under the grant, and nothing more",
            view=view["view"],
            keeps=", ".join(kinds) or "nothing",
            withheld="Patient (name, birth date), salt, notes",
        )

        revoked = wallet.revoke(granted["grant_id"])
        try:
            as_insurer.get_json(f"/v1/records/{record_id}", params=read)
        except GatewayError as exc:
            refusal = f"{exc.status} {exc.problem_code}"
        else:
            raise DemoFailed("the insurer could still read after the revocation")
        _step(
            11,
            "patient revokes; the insurer is refused at once",
            revoked_in=revoked["transaction"],
            insurer_gets=refusal,
        )

        # Hospital A's log: the read of step 10 and the refusal of step 11. The insurer's own
        # verification (step 7) is in the insurer's gateway's log; the regulator's trail of
        # step 13 holds both, and `medledger audit mine` gives the patient both from any gateway.
        seen = [e for e in wallet.accesses(record_id=record_id) if e["actor"] == auditor.address]
        _check(
            [e["outcome"] for e in seen] == ["allowed", "denied:record.forbidden"],
            f"the patient's trail of the insurer: {[e['outcome'] for e in seen]}",
        )
        _step(
            12,
            "patient sees who accessed their data, under which grant, and the refusal",
            entries="; ".join(f"{e['view']} {e['outcome']} grant={e['grant']}" for e in seen),
        )


def _insurers_view(data_dir: Path) -> tuple[Chain, ContentStore, str]:
    """What the insurer checks documents against, as `medledger verify` does: its own view of the
    chain and its own IPFS node, from its organisation's directory."""
    node = OrgNode.of(data_dir, "insurer")
    settings = node.settings()
    w3 = connect(settings.local_rpc_url)
    deployment = load_deployment(w3, node.root, chain_id=settings.chain_id)
    return Chain(w3, deployment), KuboStore(settings.kubo_url), settings.kubo_url


def _summary(document: dict[str, Any]) -> str:
    resource = document["resource"]
    kinds = [e["resource"]["resourceType"] for e in resource.get("entry", [])]
    return f"{resource['resourceType']}({', '.join(kinds)}) v{document['version']}"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)
