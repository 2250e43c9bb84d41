"""Record documents: their validation, and each verdict produced by the tamper it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import ValidationError

from ledger.crypto import commitment
from ledger.crypto.envelope import open_envelope, parse_envelope, seal
from ledger.crypto.keys import PatientKeys
from ledger.payload import canonicalize, parse_payload
from ledger.records.document import RecordDocument, Verdict, verify_document
from ledger.types import Address, Cid, OnchainVersion

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "fhir" / "medicationrequest0302.json"
RECORD = bytes.fromhex("11" * 32)
HOSPITAL = Address("0x5B38Da6a701c568545dCfcB03FcB875f56beddC4")
OTHER_HOSPITAL = Address("0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2")
PATIENT = PatientKeys(bytes(range(1, 33)))
PSEUDONYM = Address(PATIENT.pseudonym(HOSPITAL).address)
CID = Cid("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
ORG_KEY = X25519PrivateKey.generate()


def _anchor() -> tuple[dict[str, Any], OnchainVersion, bytes]:
    """Write one version as the gateway does: the document, the chain's facts, the envelope."""
    payload = parse_payload(EXAMPLE.read_bytes(), max_bytes=1 << 20)
    salt = commitment.new_salt()
    plaintext = canonicalize({"resource": payload.resource, "salt": "0x" + salt.hex()})
    blob = seal(
        plaintext,
        record_id=RECORD,
        version=1,
        recipients={
            HOSPITAL: ORG_KEY.public_key(),
            PSEUDONYM: PATIENT.encryption_key(HOSPITAL).public_key(),
        },
        extra_header={"salt_check": "0x" + commitment.salt_check(salt).hex()},
    )
    document = {
        "record_id": "0x" + RECORD.hex(),
        "version": 1,
        "hospital": HOSPITAL,
        "patient": PSEUDONYM,
        "cid": CID,
        "salt": "0x" + salt.hex(),
        "resource": payload.resource,
    }
    onchain = OnchainVersion(commitment.commit(salt, payload.canonical), CID, HOSPITAL, PSEUDONYM)
    return document, onchain, blob


DOCUMENT, ONCHAIN, ENVELOPE = _anchor()
SALT_CHECK = parse_envelope(ENVELOPE).salt_check


def _verdict(
    document: dict[str, Any],
    onchain: OnchainVersion | None = ONCHAIN,
    salt_check: bytes | None = SALT_CHECK,
) -> Verdict:
    doc = RecordDocument.model_validate_json(json.dumps(document))
    return verify_document(doc, onchain=onchain, envelope_salt_check=salt_check)


def _changed(**fields: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(DOCUMENT)), **fields}


def test_document_as_written_is_intact() -> None:
    assert _verdict(DOCUMENT) is Verdict.INTACT


def test_document_read_back_from_the_patients_envelope_is_intact() -> None:
    plaintext = json.loads(
        open_envelope(
            ENVELOPE,
            private_key=PATIENT.encryption_key(HOSPITAL),
            label=PSEUDONYM,
            record_id=RECORD,
            version=1,
        )
    )
    document = _changed(salt=plaintext["salt"], resource=plaintext["resource"])
    assert _verdict(document) is Verdict.INTACT


def test_reordered_keys_in_the_resource_stay_intact() -> None:
    reordered = dict(reversed(list(DOCUMENT["resource"].items())))
    assert _verdict(_changed(resource=reordered)) is Verdict.INTACT


def test_unanchored_version_is_not_anchored() -> None:
    assert _verdict(DOCUMENT, onchain=None) is Verdict.NOT_ANCHORED


def test_another_hospital_is_a_hospital_mismatch() -> None:
    assert _verdict(_changed(hospital=OTHER_HOSPITAL)) is Verdict.HOSPITAL_MISMATCH


def test_another_hospitals_pseudonym_is_a_pseudonym_mismatch() -> None:
    elsewhere = PATIENT.pseudonym(OTHER_HOSPITAL).address
    assert _verdict(_changed(patient=elsewhere)) is Verdict.PSEUDONYM_MISMATCH


def test_swapped_cid_is_a_cid_mismatch() -> None:
    swapped = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    assert _verdict(_changed(cid=swapped)) is Verdict.CID_MISMATCH


def test_wrong_salt_is_a_salt_mismatch() -> None:
    assert _verdict(_changed(salt="0x" + commitment.new_salt().hex())) is Verdict.SALT_MISMATCH


def test_wrong_salt_without_the_envelope_reads_as_payload_altered() -> None:
    wrong = _changed(salt="0x" + commitment.new_salt().hex())
    assert _verdict(wrong, salt_check=None) is Verdict.PAYLOAD_ALTERED


def test_changed_payload_byte_is_payload_altered() -> None:
    document = _changed()
    document["resource"]["dosageInstruction"][0]["text"] = "Two tablets at oncf"
    assert _verdict(document) is Verdict.PAYLOAD_ALTERED


def test_unchanged_payload_without_the_envelope_is_intact() -> None:
    assert _verdict(DOCUMENT, salt_check=None) is Verdict.INTACT


def test_chain_address_case_does_not_matter() -> None:
    lowercase = OnchainVersion(
        ONCHAIN.commitment,
        ONCHAIN.cid,
        Address(ONCHAIN.hospital.lower()),
        Address(ONCHAIN.patient.lower()),
    )
    assert _verdict(DOCUMENT, onchain=lowercase) is Verdict.INTACT


def test_verdicts_follow_the_documented_order() -> None:
    faults: list[tuple[Verdict, dict[str, Any]]] = [
        (Verdict.HOSPITAL_MISMATCH, {"hospital": OTHER_HOSPITAL}),
        (Verdict.PSEUDONYM_MISMATCH, {"patient": PATIENT.pseudonym(OTHER_HOSPITAL).address}),
        (
            Verdict.CID_MISMATCH,
            {"cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"},
        ),
        (Verdict.SALT_MISMATCH, {"salt": "0x" + commitment.new_salt().hex()}),
        (Verdict.PAYLOAD_ALTERED, {"resource": {"resourceType": "Patient"}}),
    ]
    assert _verdict(DOCUMENT, onchain=None) is Verdict.NOT_ANCHORED
    for index, (expected, _) in enumerate(faults):
        document = _changed(**{k: v for _, fault in faults[index:] for k, v in fault.items()})
        assert _verdict(document) is expected


def test_verdict_names_are_the_documented_ones() -> None:
    assert [verdict.value for verdict in Verdict] == [
        "not_anchored",
        "not_in_batch",
        "hospital_mismatch",
        "author_not_permitted",
        "version_conflict",
        "version_skipped",
        "pseudonym_mismatch",
        "cid_mismatch",
        "salt_mismatch",
        "payload_altered",
        "intact",
    ]


def test_every_verdict_has_a_one_line_explanation() -> None:
    explanations = [verdict.explanation for verdict in Verdict]
    assert all(text and "\n" not in text for text in explanations)
    assert len(set(explanations)) == len(explanations)


@pytest.mark.parametrize(
    "fields",
    [
        {"record_id": "0x" + "11" * 31},
        {"record_id": "11" * 32},
        {"version": 0},
        {"version": "1"},
        {"hospital": HOSPITAL.lower()},
        {"patient": "0x1234"},
        {"cid": ""},
        {"salt": "0x" + "00" * 16},
        {"resource": []},
        {"signature": "0x00"},
    ],
    ids=[
        "short-record-id",
        "record-id-without-0x",
        "version-zero",
        "version-as-string",
        "unchecksummed-hospital",
        "short-patient",
        "empty-cid",
        "short-salt",
        "resource-not-object",
        "unknown-field",
    ],
)
def test_malformed_document_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecordDocument.model_validate_json(json.dumps(_changed(**fields)))
