"""`medledger demo`, steps 28-31: break-glass. The demo patient arrives unconscious at hospital B;
B's doctor declares an emergency read of hospital A's record on chain (at B's own gateway), reads
it at A's gateway on that declaration alone, the patient sees the read highlighted in their
access log, and the regulator reviews it. A doctor past the daily limit (a demo run more than
three times a day) is refused on chain: the demo shows that refusal instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.consent.wallet import PatientWallet
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
from ledger.network.consortium import Consortium

REASON = "unconscious_patient"


def break_glass_steps(
    consortium: Consortium,
    patient: PatientKeys,
    record_id: str,
    step: Callable[..., None],
    check: Callable[[bool, str], None],
) -> None:
    """Steps 28-31 (see the module docstring); ``step`` prints, ``check`` raises DemoFailed."""
    hospital_b, regulator = consortium.orgs["hospital-b"], consortium.orgs["regulator"]
    assert hospital_b.gateway_url is not None
    assert regulator.gateway_url is not None
    doctor = consortium.account(hospital_b.staff["doctor"].key_file)
    with GatewayClient(
        hospital_b.gateway_url, doctor, fetch_domain(hospital_b.gateway_url)
    ) as at_b:
        try:
            declared = at_b.post_json("/v1/break-glass", {"record_id": record_id, "reason": REASON})
        except GatewayError as exc:
            check(exc.problem_code == "break_glass.daily_limit_reached", str(exc))
            step(
                28,
                "hospital B's doctor declares break-glass: refused on chain, the daily limit "
                "per doctor is reached (the demo ran more than the limit today)",
                refusal=f"{exc.status} {exc.problem_code}",
            )
            return
    step(
        28,
        "patient arrives unconscious at hospital B: its doctor declares break-glass on chain, "
        "for a coded reason, to read hospital A's record without a grant",
        access_id=declared["access_id"],
        reason=f"{declared['reason']} ({declared['reason_name']})",
        window_s=declared["expires_at"] - declared["declared_at"],
        declared_in=declared["transaction"],
    )
    _read_steps(consortium, patient, record_id, declared, step, check)
    auditor = consortium.account(regulator.staff["auditor"].key_file)
    with GatewayClient(
        regulator.gateway_url, auditor, fetch_domain(regulator.gateway_url)
    ) as at_regulator:
        queued = at_regulator.get_json("/v1/break-glass", params={"status": "pending"})["items"]
        check(
            declared["access_id"] in {d["access_id"] for d in queued},
            "the declaration is not in the regulator's review queue",
        )
        reviewed = at_regulator.post_json(
            f"/v1/break-glass/{declared['access_id']}/review",
            {"justified": True, "note": "unconscious-confirmed"},
        )
    check(reviewed["status"] == "justified", f"the review left it {reviewed['status']}")
    step(
        31,
        "the regulator finds it in its review queue and marks it justified, on chain, on time",
        queued=f"{len(queued)} pending",
        status=reviewed["status"],
        late=reviewed["late"],
        note=reviewed["note"],
    )


def _read_steps(
    consortium: Consortium,
    patient: PatientKeys,
    record_id: str,
    declared: dict[str, Any],
    step: Callable[..., None],
    check: Callable[[bool, str], None],
) -> None:
    """Steps 29-30: the read at hospital A's gateway, refused without the declaration, and the
    patient's access log showing it highlighted."""
    hospital_a, hospital_b = consortium.orgs["hospital-a"], consortium.orgs["hospital-b"]
    assert hospital_a.gateway_url is not None
    doctor = consortium.account(hospital_b.staff["doctor"].key_file)
    with GatewayClient(
        hospital_a.gateway_url, doctor, fetch_domain(hospital_a.gateway_url)
    ) as at_a:
        try:
            at_a.get_json(f"/v1/records/{record_id}")
        except GatewayError as exc:
            without = f"{exc.status} {exc.problem_code}"
        else:
            check(False, "hospital B's doctor read hospital A's record with no grant")
        document = at_a.get_json(
            f"/v1/records/{record_id}", params={"break_glass": declared["access_id"]}
        )
    kinds = [e["resource"]["resourceType"] for e in document["resource"].get("entry", [])]
    step(
        29,
        "hospital A's gateway checks the declaration on chain and releases the whole record to "
        "that doctor only",
        without_it=without,
        with_it=f"version {document['version']}: {', '.join(kinds)}",
    )
    with PatientWallet(patient, hospital_a.gateway_url) as wallet:
        seen = [e for e in wallet.accesses(record_id=record_id) if e["break_glass"]]
    check(
        any(e["actor"] == doctor.address and e["outcome"] == "allowed" for e in seen),
        "the patient's access log does not show the break-glass read",
    )
    step(
        30,
        "the patient's access log shows the read highlighted as break-glass",
        entries="; ".join(f"!! {e['purpose']} {e['outcome']} by {e['actor']}" for e in seen),
    )
