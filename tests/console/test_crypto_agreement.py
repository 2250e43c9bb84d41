"""The console's crypto (console/src/crypto) and the Python agree, both ways: what the Python made
opens in the TS modules, and what they signed verifies in the Python and is accepted by the
contract through a real gateway. The TS half is console/test/crypto/agreement.test.ts, run in Node.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account

from ledger.consent.agents import (
    APPOINTMENT_TYPES,
    REVOKE_APPOINTMENT_TYPES,
    AgentKind,
    Appointment,
)
from ledger.consent.grants import (
    GRANT_TYPES,
    REVOKE_TYPES,
    ConsentDomain,
    Grant,
    Purpose,
    Scope,
    ScopeKind,
)
from ledger.consent.patients import ENROLMENT_TYPES
from ledger.crypto import envelope
from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from ledger.errors import CryptoError
from ledger.gateway.auth import SqliteNonceStore, recover_typed_data, verify_request
from ledger.gateway.client import GatewayError
from ledger.payload import canonicalize
from tests.console import crypto_vectors
from tests.world import World, anchor, enrol_patient, fhir

CONSOLE = Path(__file__).resolve().parents[2] / "console"
VECTORS = CONSOLE / "test" / "crypto" / "vectors.json"
#: Full-width Latin (U+FF50...): NFKC, which ethers applies to a string, would make it ASCII;
#: eth-account hashes the UTF-8 as typed, and so must the page.
PASSPHRASE = "病历的钥匙 \uff50\uff41\uff53\uff53"
DAY = 86_400


@dataclass(frozen=True)
class Agreed:
    """What the Python handed the TS modules, and what they computed and signed with it."""

    given: dict[str, Any]
    made: dict[str, Any]
    master: bytes
    keys: PatientKeys
    tmp: Path


def _run_node(directory: Path) -> None:
    vitest = CONSOLE / "node_modules" / ".bin" / "vitest"
    if not vitest.exists():
        pytest.fail("console/node_modules is missing: `cd console && npm ci` (make deps does it)")
    done = subprocess.run(
        [str(vitest), "run", "test/crypto/agreement.test.ts"],
        cwd=CONSOLE,
        env={**os.environ, "MEDLEDGER_AGREEMENT": str(directory)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"the TS side failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def agreed(world: World, tmp_path_factory: pytest.TempPathFactory) -> Agreed:
    tmp = tmp_path_factory.mktemp("crypto-agreement")
    key_file = tmp / "patient.json"
    new_key_file(key_file, PASSPHRASE, iterations=1024)
    master = load_key(key_file, PASSPHRASE)
    keys = PatientKeys(master)
    hospital = world.org_address("hospital-a")
    pseudonym = keys.pseudonym(hospital)
    record_id, version = os.urandom(32), 3
    sealed = envelope.seal(
        "出院小结 discharge summary".encode(),
        record_id=record_id,
        version=version,
        recipients={pseudonym.address: keys.encryption_key(hospital).public_key()},
    )
    anchored = _anchored_envelope(world, keys)
    gateway = world.gateways["hospital-a"].gateway
    given = {
        "keystore": key_file.read_text(),
        # A staff key file as the demo consortium writes it: the empty passphrase.
        "staff_keystore": Path(
            world.consortium.orgs["hospital-a"].staff["clerk"].key_file
        ).read_text(),
        "passphrase": PASSPHRASE,
        "hospitals": [hospital, world.org_address("hospital-b")],
        "gateway_domain": gateway.domain.as_eip712(),
        "consent_domain": ConsentDomain.of(gateway.chain.deployment).to_wire(),
        "envelope": {
            "text": sealed.decode(),
            "label": pseudonym.address,
            "record_id": "0x" + record_id.hex(),
            "version": version,
        },
        "anchored": anchored,
        "variants": _variants(sealed, pseudonym.address),
        "grantee": world.org_address("insurer"),
        "agent": Account.create().address,
        "expires_at": int(time.time()) + 30 * DAY,
    }
    (tmp / "in.json").write_text(json.dumps(given))
    _run_node(tmp)
    return Agreed(given, json.loads((tmp / "out.json").read_text()), master, keys, tmp)


def _anchored_envelope(world: World, keys: PatientKeys) -> dict[str, Any]:
    """A record a doctor anchored for the patient, its envelope as the gateway serves it to them."""
    patient = enrol_patient(world, "hospital-a", keys)
    receipt = anchor(world, patient, fhir("observation-example.json"))
    with world.client(patient.pseudonym) as as_patient:
        served = as_patient.request("GET", f"/v1/records/{receipt['record_id']}/envelope")
    assert served.status_code == 200, served.text
    return {"text": served.text, "record_id": receipt["record_id"], "version": receipt["version"]}


def _variants(sealed: bytes, label: str) -> list[dict[str, str]]:
    """The envelope as sent, and altered in each way an opener must notice, with the label to open
    it under."""
    header = json.loads(sealed)
    ciphertext = bytearray(base64.b64decode(header["ciphertext"]))
    ciphertext[-1] ^= 1
    wrapped = header["wrapped_keys"][label]

    def spelt(**changes: Any) -> str:
        return canonicalize({**header, **changes}).decode()

    texts = [
        sealed.decode(),
        spelt(ciphertext=base64.b64encode(bytes(ciphertext)).decode()),
        spelt(version=header["version"] + 1),
        spelt(record_id="0x" + "ab" * 32),
        spelt(wrapped_keys={label: wrapped.rstrip("=")}),
        spelt(nonce=base64.b64encode(bytes(11)).decode()),
        spelt(v=2),
        spelt(extra=7),
        json.dumps(header),  # not canonical: spaces after the separators
        sealed.decode().replace("{", '{"v":1,', 1),  # a repeated key
        "[]",
    ]
    return [{"text": text, "label": label} for text in texts] + [
        {"text": sealed.decode(), "label": label.lower()}
    ]


def _python_opens(agreed: Agreed, variant: dict[str, str]) -> str:
    sealed = agreed.given["envelope"]
    try:
        plaintext = envelope.open_envelope(
            variant["text"].encode(),
            private_key=agreed.keys.encryption_key(agreed.given["hospitals"][0]),
            label=variant["label"],
            record_id=bytes.fromhex(sealed["record_id"][2:]),
            version=sealed["version"],
        )
    except CryptoError as exc:
        return exc.code
    return "0x" + plaintext.hex()


def _recovered(
    agreed: Agreed, types: dict[str, Any], primary: str, message: dict[str, Any], signature: str
) -> str:
    domain = ConsentDomain.from_wire(agreed.given["consent_domain"])
    return recover_typed_data(domain.as_eip712(), types, primary, message, signature)


def _post(world: World, path: str, signed: dict[str, Any]) -> requests.Response:
    """Send the exact bytes and headers the page signed, as the page's fetch would."""
    with requests.Session() as session:
        session.trust_env = False
        return session.post(
            world.gateways["hospital-a"].url + path,
            data=signed["body"].encode(),
            headers={**signed["headers"], "Content-Type": "application/json"},
            timeout=60,
        )


def test_the_page_reads_the_cli_key_file_and_derives_the_same_pseudonyms(agreed: Agreed) -> None:
    assert agreed.made["master"] == "0x" + agreed.master.hex()
    for hospital in agreed.given["hospitals"]:
        assert agreed.made["identities"][hospital] == agreed.keys.public_identity(hospital)
    a, b = agreed.given["hospitals"]
    assert agreed.made["identities"][a]["address"] != agreed.made["identities"][b]["address"]


def test_an_envelope_sealed_in_python_opens_in_the_page(agreed: Agreed) -> None:
    assert bytes.fromhex(agreed.made["plaintext"][2:]) == "出院小结 discharge summary".encode()


def test_a_record_anchored_by_a_doctor_opens_in_the_page_under_the_derived_pseudonym(
    agreed: Agreed,
) -> None:
    anchored = agreed.given["anchored"]
    plaintext = envelope.open_envelope(
        anchored["text"].encode(),
        private_key=agreed.keys.encryption_key(agreed.given["hospitals"][0]),
        label=agreed.keys.pseudonym(agreed.given["hospitals"][0]).address,
        record_id=bytes.fromhex(anchored["record_id"][2:]),
        version=anchored["version"],
    )
    assert agreed.made["anchored_plaintext"] == "0x" + plaintext.hex()
    assert json.loads(plaintext)["resource"]["resourceType"] == "Observation"  # beside its salt


def test_the_page_recomputes_the_commitment_the_chain_anchored(
    world: World, agreed: Agreed
) -> None:
    anchored = agreed.given["anchored"]
    registry = world.gateways["hospital-a"].gateway.chain.contract("RecordRegistry")
    version = registry.functions.recordVersion(
        bytes.fromhex(anchored["record_id"][2:]), anchored["version"]
    ).call()
    assert agreed.made["anchored_commitment"] == "0x" + bytes(version[0]).hex()
    assert agreed.made["anchored_salt_check"] is True


def test_the_page_refuses_each_altered_envelope_as_the_python_does(agreed: Agreed) -> None:
    python = [_python_opens(agreed, variant) for variant in agreed.given["variants"]]
    assert python[0] == agreed.made["plaintext"]
    assert set(python[1:]) == {"crypto.error", "crypto.decryption_failed"}
    assert agreed.made["variants"] == python


def test_the_page_opens_a_staff_key_file_under_the_empty_passphrase(
    world: World, agreed: Agreed
) -> None:
    clerk = world.staff("hospital-a", "clerk")
    assert agreed.made["staff_private_key"] == "0x" + bytes(clerk.key).hex()


def test_a_keystore_made_in_the_page_opens_with_load_key(agreed: Agreed) -> None:
    made = agreed.made["keystore"]
    path = agreed.tmp / "made-in-page.json"
    path.write_text(made["json"])
    key = load_key(path, PASSPHRASE)
    assert "0x" + key.hex() == made["private_key"]
    assert Account.from_key(key).address == made["address"]


def test_what_the_page_signs_recovers_to_the_pseudonym_in_the_pythons_verifiers(
    agreed: Agreed,
) -> None:
    hospital = agreed.given["hospitals"][0]
    pseudonym = agreed.keys.pseudonym(hospital).address
    made = agreed.made
    grant = _grant(made["grant"])
    assert made["grant_id"] == "0x" + grant.grant_id.hex()
    assert (
        _recovered(agreed, GRANT_TYPES, "Grant", grant.message(), made["grant"]["signature"])
        == pseudonym
    )
    revocation = made["revocation"]
    assert revocation["grant_id"] == made["grant_id"]
    message = {
        "grantId": bytes.fromhex(revocation["grant_id"][2:]),
        "nonce": int(revocation["nonce"]),
    }
    assert _recovered(agreed, REVOKE_TYPES, "Revoke", message, revocation["signature"]) == pseudonym
    wire = made["appointment"]
    appointment = Appointment(
        patient=wire["patient"],
        agent=wire["agent"],
        kind=AgentKind[wire["kind"].upper()],
        expires_at=wire["expires_at"],
        nonce=int(wire["nonce"]),
    )
    assert made["appointment_id"] == "0x" + appointment.appointment_id.hex()
    signature = wire["signature"]
    assert (
        _recovered(agreed, APPOINTMENT_TYPES, "Appointment", appointment.message(), signature)
        == pseudonym
    )
    ended = made["appointment_revocation"]
    message = {"appointmentId": appointment.appointment_id, "nonce": int(ended["nonce"])}
    assert (
        _recovered(
            agreed, REVOKE_APPOINTMENT_TYPES, "RevokeAppointment", message, ended["signature"]
        )
        == pseudonym
    )
    enrolment = made["enrolment"]
    message = {
        "hospital": hospital,
        "encryptionKey": bytes.fromhex(enrolment["encryption_key"][2:]),
    }
    domain = agreed.given["gateway_domain"]
    assert (
        recover_typed_data(domain, ENROLMENT_TYPES, "Enrolment", message, enrolment["signature"])
        == pseudonym
    )


def test_a_request_signed_in_the_page_verifies_as_the_gateway_checks_it(
    world: World, agreed: Agreed
) -> None:
    signed = agreed.made["grant_request"]
    signer = verify_request(
        signed["headers"],
        world.gateways["hospital-a"].gateway.domain,
        "POST",
        "/v1/consents",
        signed["body"].encode(),
        now=int(time.time()),
        max_skew_s=300,
        nonces=SqliteNonceStore(":memory:"),
    )
    assert signer == agreed.keys.pseudonym(agreed.given["hospitals"][0]).address


@pytest.fixture(scope="module")
def relayed(world: World, agreed: Agreed) -> dict[str, Any]:
    """The page's enrolment relayed by the clerk signed in to the page with their key file, then
    the grant sent by the patient's page itself."""
    answer = _post(world, "/v1/patients", agreed.made["enrolment_request"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["pseudonym"] == agreed.made["enrolment"]["pseudonym"]
    answer = _post(world, "/v1/consents", agreed.made["grant_request"])
    assert answer.status_code == 201, answer.text
    receipt: dict[str, Any] = answer.json()
    return receipt


def test_an_enrolment_and_a_grant_signed_in_the_page_are_accepted_by_the_contract(
    world: World, agreed: Agreed, relayed: dict[str, Any]
) -> None:
    assert relayed["grant_id"] == agreed.made["grant_id"]
    state = _consent(world).functions.grant(bytes.fromhex(agreed.made["grant_id"][2:])).call()
    patient, scope_kind, purpose, expires_at, revoked, grantee, scope = state
    wire = agreed.made["grant"]
    assert (patient, grantee, expires_at, revoked) == (
        wire["patient"],
        agreed.given["grantee"],
        agreed.given["expires_at"],
        False,
    )
    assert (ScopeKind(scope_kind), Purpose(purpose)) == (
        ScopeKind.HOSPITAL_RECORDS,
        Purpose.CLAIM_VERIFICATION,
    )
    assert "0x" + bytes(scope).hex() == wire["scope"]


def test_a_grant_signed_in_the_page_then_altered_is_refused(world: World, agreed: Agreed) -> None:
    tampered = {**agreed.made["grant"], "expires_at": agreed.made["grant"]["expires_at"] + 1}
    with world.as_staff("hospital-a", "clerk") as clerk, pytest.raises(GatewayError) as err:
        clerk.post_json("/v1/consents", tampered)
    assert (err.value.status, err.value.problem_code) == (403, "consent.signer_not_patient")


def test_a_revocation_signed_in_the_page_revokes_the_grant_on_chain(
    world: World, agreed: Agreed, relayed: dict[str, Any]
) -> None:
    answer = _post(world, "/v1/consents/revocations", agreed.made["revocation_request"])
    assert answer.status_code == 201, answer.text
    state = _consent(world).functions.grant(bytes.fromhex(relayed["grant_id"][2:])).call()
    assert state[4] is True


def test_the_committed_known_answers_are_still_the_pythons() -> None:
    """console/test/crypto/vectors.json pins the TS unit tests to the Python's answers."""
    committed = json.loads(VECTORS.read_text())
    assert {
        k: committed[k] for k in crypto_vectors.deterministic()
    } == crypto_vectors.deterministic()
    sealed = committed["envelope"]
    keys = PatientKeys(bytes.fromhex(committed["master"][2:]))
    opened = envelope.open_envelope(
        sealed["bytes"].encode(),
        private_key=keys.encryption_key(sealed["hospital"]),
        label=sealed["label"],
        record_id=bytes.fromhex(sealed["record_id"][2:]),
        version=sealed["version"],
    )
    assert opened.decode() == sealed["plaintext"]
    keystore = committed["keystore"]
    key = Account.decrypt(keystore["json"], keystore["passphrase"])
    assert "0x" + bytes(key).hex() == keystore["private_key"]


def _consent(world: World) -> Any:
    return world.gateways["hospital-a"].gateway.chain.contract("ConsentRegistry")


def _grant(wire: dict[str, Any]) -> Grant:
    return Grant(
        patient=wire["patient"],
        grantee=wire["grantee"],
        scope=Scope(ScopeKind[wire["scope_kind"].upper()], bytes.fromhex(wire["scope"][2:])),
        purpose=Purpose[wire["purpose"].upper()],
        expires_at=wire["expires_at"],
        nonce=int(wire["nonce"]),
    )
