"""Known answers for the console's crypto (console/test/crypto/vectors.json), made by the Python the
console must agree with. Regenerate with
``.venv/bin/python -m tests.console.crypto_vectors > console/test/crypto/vectors.json``.

Everything is deterministic (fixed keys, nonces and timestamps; RFC 6979 signatures) except the
sealed envelope and the keystore, which carry fresh randomness and are checked by opening them.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account

from ledger.consent.agents import AgentKind, sign_appointment, sign_appointment_revocation
from ledger.consent.grants import (
    ConsentDomain,
    Purpose,
    Scope,
    ScopeKind,
    sign_grant,
    sign_revocation,
)
from ledger.consent.patients import sign_enrolment
from ledger.crypto import envelope
from ledger.crypto.keys import PatientKeys
from ledger.gateway.auth import GatewayDomain, sign_request
from ledger.payload import parse_payload
from ledger.records.anchoring import seal_payload

MASTER = bytes(range(1, 33))
HOSPITAL_A = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
HOSPITAL_B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
GRANTEE = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
CONSENT_DOMAIN = ConsentDomain(31337, "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9")  # type: ignore[arg-type]
GATEWAY_DOMAIN = GatewayDomain(31337, "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9", HOSPITAL_A)  # type: ignore[arg-type]
RECORD_ID = bytes.fromhex("11" * 32)
EXPIRES_AT = 1_796_400_000
#: Full-width digits, as a Chinese input method types them: NFKC would turn them into ASCII.
PASSPHRASE = "密码\uff11\uff12\uff13"
PLAINTEXT = "病历 record ✓"
REQUEST_BODY = b'{"a":1}'
REQUEST_TARGET = "/v1/consents?x=1&y=%20z"


def deterministic() -> dict[str, Any]:
    """The vectors that are the same on every run."""
    keys = PatientKeys(MASTER)
    pseudonym = keys.pseudonym(HOSPITAL_A)
    hospitals = {}
    for hospital in (HOSPITAL_A, HOSPITAL_B):
        identity = keys.public_identity(hospital)
        hospitals[hospital] = {
            "pseudonym_key": "0x" + bytes(keys.pseudonym(hospital).key).hex(),
            "address": identity["address"],
            "encryption_key": identity["encryption_key"],
        }
    category = sign_grant(
        pseudonym,
        CONSENT_DOMAIN,
        grantee=GRANTEE,
        scope=Scope.category(ScopeKind.HOSPITAL_RECORDS, HOSPITAL_A),
        purpose=Purpose.CLAIM_VERIFICATION,
        expires_at=EXPIRES_AT,
        nonce=2**255 + 7,
    )
    one_record = sign_grant(
        pseudonym,
        CONSENT_DOMAIN,
        grantee=GRANTEE,
        scope=Scope.record(RECORD_ID),
        purpose=Purpose.TREATMENT,
        expires_at=EXPIRES_AT,
        nonce=5,
    )
    appointment = sign_appointment(
        pseudonym,
        CONSENT_DOMAIN,
        agent=GRANTEE,
        kind=AgentKind.PROXY,
        expires_at=EXPIRES_AT,
        nonce=3,
    )
    appointment_id = appointment.appointment.appointment_id
    encryption_key = bytes.fromhex(hospitals[HOSPITAL_A]["encryption_key"][2:])
    nonce = bytes.fromhex("ab" * 32)
    return {
        "master": "0x" + MASTER.hex(),
        "hospitals": hospitals,
        "consent_domain": CONSENT_DOMAIN.to_wire(),
        "gateway_domain": GATEWAY_DOMAIN.as_eip712(),
        "grantee": GRANTEE,
        "grant": {**category.to_wire(), "grant_id": "0x" + category.grant_id.hex()},
        "record_grant": {**one_record.to_wire(), "grant_id": "0x" + one_record.grant_id.hex()},
        "revocation": sign_revocation(
            pseudonym, CONSENT_DOMAIN, category.grant_id, nonce=9
        ).to_wire(),
        "appointment": {**appointment.to_wire(), "appointment_id": "0x" + appointment_id.hex()},
        "appointment_revocation": sign_appointment_revocation(
            pseudonym, CONSENT_DOMAIN, appointment_id, nonce=4
        ).to_wire(),
        "enrolment_signature": sign_enrolment(
            pseudonym, GATEWAY_DOMAIN.as_eip712(), HOSPITAL_A, encryption_key
        ),
        "request": {
            "method": "POST",
            "target": REQUEST_TARGET,
            "body": REQUEST_BODY.decode(),
            "timestamp": 1_796_000_000,
            "nonce": "0x" + nonce.hex(),
            "headers": sign_request(
                pseudonym,
                GATEWAY_DOMAIN,
                "POST",
                REQUEST_TARGET,
                REQUEST_BODY,
                timestamp=1_796_000_000,
                nonce=nonce,
            ),
        },
    }


def vectors() -> dict[str, Any]:
    """`deterministic` plus an envelope sealed for the pseudonym at hospital A and a keystore."""
    keys = PatientKeys(MASTER)
    label = keys.pseudonym(HOSPITAL_A).address
    x25519 = keys.encryption_key(HOSPITAL_A)
    blob = envelope.seal(
        PLAINTEXT.encode(),
        record_id=RECORD_ID,
        version=2,
        recipients={label: x25519.public_key()},
        extra_header={envelope.SALT_CHECK_HEADER: "0x" + "22" * 32},
    )
    payload = parse_payload(
        json.dumps(
            {"resourceType": "Observation", "status": "final", "code": {"text": "体温"}}
        ).encode(),
        max_bytes=64 * 1024,
    )
    record = seal_payload(
        payload, context_id=RECORD_ID, version=1, recipients={label: x25519.public_key()}
    )
    key = Account.create().key
    keystore = Account.encrypt(key, PASSPHRASE, kdf="scrypt", iterations=1024)
    return {
        **deterministic(),
        "envelope": {
            "bytes": blob.decode(),
            "hospital": HOSPITAL_A,
            "label": label,
            "record_id": "0x" + RECORD_ID.hex(),
            "version": 2,
            "plaintext": PLAINTEXT,
            "x25519_private": "0x" + x25519.private_bytes_raw().hex(),
        },
        "record": {
            "bytes": record.envelope.decode(),
            "version": 1,
            "commitment": "0x" + record.commitment.hex(),
            "canonical": payload.canonical.decode(),
        },
        "keystore": {
            "json": json.dumps(keystore),
            "passphrase": PASSPHRASE,
            "private_key": "0x" + bytes(key).hex(),
        },
    }


if __name__ == "__main__":
    print(json.dumps(vectors(), indent=2, ensure_ascii=False))
