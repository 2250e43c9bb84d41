"""Break-glass through the gateways: hospital B's doctor declares at B's gateway and reads hospital
A's record at A's gateway on the chain's word only; the read is logged as break-glass and shown to
the patient highlighted; A's auditor and the regulator list and review declarations."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from api.gateway import build_gateway
from ledger.audit.patient_trail import consortium_accesses
from ledger.crypto.envelope import open_with_wrapped_key
from ledger.crypto.keys import x25519_from_eth_key, x25519_public_hex
from ledger.errors import ConfigError
from ledger.gateway.client import GatewayClient, GatewayError
from tests.world import Patient, World, anchor, enrol_patient, fhir, private_world

REASON = "unconscious_patient"


def refused(call: Any) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


def declare(world: World, record_id: str, label: str = "doctor", reason: str = REASON) -> Any:
    """B's ``label`` doctor declares break-glass on ``record_id`` at B's own gateway."""
    with world.as_staff("hospital-b", label, "hospital-b") as client:
        return client.post_json("/v1/break-glass", {"record_id": record_id, "reason": reason})


def read(world: World, record_id: str, access_id: str, label: str = "doctor") -> Any:
    """B's ``label`` doctor reads ``record_id`` at A's gateway under ``access_id``."""
    with world.as_staff("hospital-b", label) as client:
        return client.get_json(f"/v1/records/{record_id}", params={"break_glass": access_id})


@pytest.fixture(scope="module")
def emergency(world: World) -> tuple[Patient, str, dict[str, Any]]:
    """A's patient, A's record of them, and one declaration by B's doctor for it (module-wide:
    the daily limit is per doctor, and the session's world is shared)."""
    patient = enrol_patient(world)
    record_id = str(anchor(world, patient, fhir("observation-example.json"))["record_id"])
    return patient, record_id, declare(world, record_id)


def test_the_declaration_is_on_chain_naming_the_doctor_record_and_reason(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, declared = emergency
    assert declared["org"] == world.org_address("hospital-b")
    assert declared["doctor"] == world.staff("hospital-b", "doctor").address
    assert declared["holder"] == world.org_address("hospital-a")
    assert declared["record_id"] == record_id
    assert (declared["reason"], declared["reason_name"]) == (1, REASON)
    assert declared["expires_at"] - declared["declared_at"] == 4 * 3600
    assert declared["status"] == "pending"
    registry = world.gateways["hospital-a"].gateway.chain.contract("BreakGlassRegistry")
    (event,) = [
        e
        for e in registry.events.BreakGlassDeclared().get_logs(from_block=0)
        if "0x" + bytes(e["args"]["accessId"]).hex() == declared["access_id"]
    ]
    assert event["transactionHash"].to_0x_hex() == declared["transaction"]


def test_bs_doctor_reads_as_record_whole_under_break_glass(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, declared = emergency
    document = read(world, record_id, declared["access_id"])
    assert document["resource"] == fhir("observation-example.json")
    assert document["hospital"] == world.org_address("hospital-a")


def test_the_key_is_released_to_the_declared_doctor_only_under_break_glass(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, declared = emergency
    doctor_b = world.staff("hospital-b", "doctor")
    own_key = x25519_from_eth_key(bytes(doctor_b.key))
    params = {"break_glass": declared["access_id"]}
    with world.client(doctor_b) as client:
        wrapped = client.get_json(
            f"/v1/records/{record_id}/key",
            params={**params, "encryption_key": x25519_public_hex(own_key.public_key())},
        )
        blob = client.request("GET", f"/v1/records/{record_id}/envelope", params=params).content
        assert refused(
            lambda: client.get_json(
                f"/v1/records/{record_id}/key",
                params={"encryption_key": x25519_public_hex(own_key.public_key())},
            )
        ) == (403, "record.forbidden")
    plaintext = open_with_wrapped_key(
        blob,
        wrapped=base64.b64decode(wrapped["wrapped_key"]),
        private_key=own_key,
        record_id=bytes.fromhex(record_id[2:]),
        version=1,
    )
    assert json.loads(plaintext)["resource"] == fhir("observation-example.json")


def test_without_a_declaration_bs_doctor_is_refused(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, _ = emergency
    made_up = "0x" + secrets.token_hex(32)
    assert refused(lambda: read(world, record_id, made_up)) == (403, "break_glass.not_in_force")
    with world.as_staff("hospital-b", "doctor") as client:
        assert refused(lambda: client.get_json(f"/v1/records/{record_id}")) == (
            403,
            "record.forbidden",
        )


def test_another_doctor_may_not_read_under_a_colleagues_declaration(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, declared = emergency
    assert refused(lambda: read(world, record_id, declared["access_id"], "locum")) == (
        403,
        "break_glass.not_in_force",
    )


def test_a_declaration_opens_its_own_record_and_no_other(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    patient, _, declared = emergency
    other = str(anchor(world, patient, fhir("patient-example.json"))["record_id"])
    assert refused(lambda: read(world, other, declared["access_id"])) == (
        403,
        "break_glass.not_in_force",
    )


def test_any_member_reads_the_coded_reasons_and_a_stranger_may_not(world: World) -> None:
    with world.as_staff("hospital-b", "doctor", "hospital-b") as client:
        reasons = client.get_json("/v1/break-glass/reasons")
    assert reasons[0] == {
        "code": 1,
        "name": REASON,
        "text": "The patient is unconscious or otherwise unable to consent, and treatment "
        "cannot wait.",
    }
    assert all(r["code"] >= 1 for r in reasons)
    stranger = GatewayClient(
        world.gateways["hospital-b"].url,
        Account.create(),
        world.gateways["hospital-b"].gateway.domain,
        timeout=30,
    )
    with stranger:
        assert refused(lambda: stranger.get_json("/v1/break-glass/reasons")) == (
            403,
            "auth.not_member",
        )


def test_a_broken_reasons_file_stops_the_gateway_at_start_not_mid_request(
    world: World, tmp_path: Path
) -> None:
    broken = tmp_path / "reasons.toml"
    broken.write_text("[1\nname = ")
    settings = world.gateways["hospital-b"].gateway.settings.model_copy(
        update={"break_glass_reasons_file": broken}
    )
    with pytest.raises(ConfigError, match="break-glass reasons file"):
        build_gateway(settings)
    # The served gateway read its file once, when it started.
    assert world.gateways["hospital-b"].gateway.break_glass_reasons


def test_a_reason_outside_the_coded_list_is_refused_before_the_chain(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, _ = emergency
    assert refused(lambda: declare(world, record_id, reason="curiosity")) == (
        422,
        "break_glass.unknown_reason",
    )


def test_only_a_doctor_declares_and_never_on_its_own_hospitals_record(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, _ = emergency
    with world.as_staff("pharmacy", "pharmacist", "pharmacy") as client:
        assert refused(
            lambda: client.post_json("/v1/break-glass", {"record_id": record_id, "reason": REASON})
        ) == (403, "auth.role_forbidden")
    with world.as_staff("hospital-a", "doctor") as client:
        assert refused(
            lambda: client.post_json("/v1/break-glass", {"record_id": record_id, "reason": REASON})
        ) == (403, "break_glass.own_record")


def test_the_read_is_logged_as_break_glass_with_the_reason(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    _, record_id, declared = emergency
    read(world, record_id, declared["access_id"])
    with world.as_staff("regulator", "auditor") as regulator:
        page = regulator.get_json("/v1/access-log", params={"record_id": record_id})
    reads = [
        e
        for e in page["items"]
        if e["action"] == "GET /v1/records/{record_id}"
        and e["outcome"] == "allowed"
        and e["org"] == world.org_address("hospital-b")
    ]
    assert reads
    assert {(e["purpose"], e["grant"], e["break_glass"]) for e in reads} == {
        (f"break-glass:{REASON}", declared["access_id"], True)
    }


def test_the_patient_sees_the_break_glass_read_highlighted(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    patient, record_id, declared = emergency
    read(world, record_id, declared["access_id"])
    made_up = "0x" + secrets.token_hex(32)
    assert refused(lambda: read(world, record_id, made_up))[0] == 403
    with world.client(patient.pseudonym) as client:
        page = client.get_json("/v1/access-log")
    flagged = [e for e in page["items"] if e["break_glass"]]
    allowed = [e for e in flagged if e["outcome"] == "allowed"]
    assert allowed
    assert {e["actor"] for e in allowed} == {world.staff("hospital-b", "doctor").address}
    # The refused attempts (a made-up id, a colleague's) are flagged too.
    assert {e["outcome"] for e in flagged} >= {"denied:break_glass.not_in_force"}
    assert not [
        e for e in page["items"] if e["org"] == world.org_address("hospital-a") and e["break_glass"]
    ]
    # And in the sealed, anchored batches, opened with the patient's own key.
    gateway = world.gateways["hospital-a"].gateway
    while gateway.seal_access_log() is not None:
        pass
    served = world.gateways["hospital-a"]
    hospital = world.org_address("hospital-a")
    with GatewayClient(served.url, patient.pseudonym, served.gateway.domain, timeout=30) as c:
        trail = consortium_accesses(c, [patient.keys.encryption_key(hospital)])
    marked = [a for a in trail.accesses if a.break_glass and a.entry.outcome == "allowed"]
    assert marked
    assert {a.entry.grant for a in marked} == {declared["access_id"]}
    assert made_up in {a.entry.grant for a in trail.accesses if a.break_glass}


def test_the_holder_and_the_regulator_list_it_and_others_may_not(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    access_id = emergency[2]["access_id"]
    for org, label in (
        ("hospital-a", "auditor"),
        ("regulator", "auditor"),
        ("hospital-b", "doctor"),
    ):
        with world.as_staff(org, label, org) as client:
            listed = client.get_json("/v1/break-glass", params={"status": "pending"})
            assert access_id in {d["access_id"] for d in listed["items"]}, org
            assert client.get_json(f"/v1/break-glass/{access_id}")["status"] == "pending"
    with world.as_staff("insurer", "auditor", "insurer") as client:
        assert refused(lambda: client.get_json("/v1/break-glass")) == (403, "break_glass.forbidden")


def test_the_regulator_reviews_and_a_second_review_is_refused(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    declared = declare(world, emergency[1], "locum")
    review = {"justified": True, "note": "confirmed-unconscious"}
    path = f"/v1/break-glass/{declared['access_id']}/review"
    with world.as_staff("regulator", "auditor", "regulator") as client:
        reviewed = client.post_json(path, review)
    assert reviewed["status"] == "justified"
    assert reviewed["reviewer"] == world.org_address("regulator")
    assert (reviewed["late"], reviewed["note"]) == (False, "confirmed-unconscious")
    with world.as_staff("hospital-a", "auditor") as client:
        assert refused(lambda: client.post_json(path, review)) == (
            409,
            "break_glass.already_reviewed",
        )
    assert read(world, emergency[1], declared["access_id"], "locum")["record_id"] == emergency[1]


def test_the_holders_auditor_finds_it_unjustified_and_the_access_closes(
    world: World, emergency: tuple[Patient, str, dict[str, Any]]
) -> None:
    declared = declare(world, emergency[1])
    path = f"/v1/break-glass/{declared['access_id']}/review"
    with world.as_staff("hospital-b", "doctor", "hospital-b") as client:
        assert refused(
            lambda: client.post_json(path, {"justified": True, "note": "self-serving"})
        ) == (403, "auth.role_forbidden")
    with world.as_staff("hospital-a", "auditor") as client:
        assert refused(
            lambda: client.post_json(path, {"justified": False, "note": "Free text, PHI"})
        ) == (422, "request.invalid")
        reviewed = client.post_json(path, {"justified": False, "note": "consent-was-possible"})
    assert reviewed["status"] == "unjustified"
    assert reviewed["reviewer"] == world.org_address("hospital-a")
    assert refused(lambda: read(world, emergency[1], declared["access_id"])) == (
        403,
        "break_glass.not_in_force",
    )


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Any]]:
    with private_world(Path(tmp_path_factory.mktemp("break-glass-clock"))) as opened:
        yield opened


def test_after_the_window_the_declaration_opens_nothing(moved: tuple[World, Any]) -> None:
    world, _node = moved
    patient = enrol_patient(world)
    record_id = str(anchor(world, patient, fhir("observation-example.json"))["record_id"])
    declared = declare(world, record_id)
    assert read(world, record_id, declared["access_id"])["record_id"] == record_id
    window = declared["expires_at"] - declared["declared_at"]
    world.w3.provider.make_request("evm_increaseTime", [window + 1])  # type: ignore[arg-type]
    world.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert refused(lambda: read(world, record_id, declared["access_id"])) == (
        403,
        "break_glass.not_in_force",
    )
    with world.as_staff("hospital-a", "auditor") as client:
        (listed,) = client.get_json("/v1/break-glass")["items"]
    assert listed["status"] == "pending"  # the review is still due within its own window
