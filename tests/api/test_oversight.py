"""GET /v1/oversight/*: the regulator's overview of the consortium, for its console.

Organisations with their kind, standing and directory entry; filings by status, so that a filing a
hospital just made is in the regulator's queue until it is decided, and leaves it once approved.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.gateway.client import GatewayError
from tests.api.test_practice import as_regulator, decide, file, register, register_staff
from tests.world import World


def test_the_regulator_sees_every_organisation_with_its_kind_and_standing(world: World) -> None:
    with as_regulator(world) as regulator:
        listed = {o["org"]: o for o in regulator.get_json("/v1/oversight/organisations")}
    for name, record in world.consortium.orgs.items():
        entry = listed[record.address]
        assert entry["kind"] == record.kind.lower(), name
        assert entry["status"] == "active"
        assert entry["directory"] == "usable"
        assert entry["directory_updated_at"] > 0
        assert entry["admin"].startswith("0x")


def test_a_new_filing_waits_in_the_queue_until_the_regulator_approves_it(world: World) -> None:
    doctor = register_staff(world, "hospital-b")
    register(world, doctor.address)
    filed = file(world, doctor.address)
    fid = filed["filing_id"]
    with as_regulator(world) as regulator:
        pending = regulator.get_json("/v1/oversight/filings", params={"status": "pending"})
        assert fid in [f["filing_id"] for f in pending]
        assert all(f["status"] == "pending" for f in pending)
        mine = next(f for f in pending if f["filing_id"] == fid)
        assert mine["doctor"] == doctor.address
        assert mine["institution"] == world.org_address("hospital-a")
        regulator.post_json(f"/v1/practice/filings/{fid}/approve", {"reason": "multi-site.ok"})
        after = regulator.get_json("/v1/oversight/filings", params={"status": "pending"})
        assert fid not in [f["filing_id"] for f in after]
        every = {f["filing_id"]: f for f in regulator.get_json("/v1/oversight/filings")}
    assert every[fid]["status"] == "approved"


def test_an_approvals_reason_is_kept_in_the_regulators_access_log(world: World) -> None:
    doctor = register_staff(world, "hospital-b")
    register(world, doctor.address)
    fid = file(world, doctor.address)["filing_id"]
    with as_regulator(world) as regulator:
        regulator.post_json(f"/v1/practice/filings/{fid}/approve", {"reason": "staffing.2026"})
        page = regulator.get_json("/v1/access-log", params={"actor": regulator.account.address})
    approvals = [
        e for e in page["items"] if e["action"] == "POST /v1/practice/filings/{filing_id}/approve"
    ]
    assert "approve:staffing.2026" in [e["purpose"] for e in approvals]
    assert decide(world, fid, "revoke", "review.failed")["status"] == "revoked"


@pytest.mark.parametrize("path", ["/v1/oversight/organisations", "/v1/oversight/filings"])
def test_only_a_regulator_sees_the_overview(world: World, path: str) -> None:
    with world.as_staff("hospital-a", "clerk") as clerk, pytest.raises(GatewayError) as err:
        clerk.get_json(path)
    assert (err.value.status, err.value.problem_code) == (403, "auth.not_regulator")
    with world.client(Account.create()) as stranger, pytest.raises(GatewayError) as err:
        stranger.get_json(path)
    assert (err.value.status, err.value.problem_code) == (403, "auth.not_member")


def test_an_unknown_status_is_refused(world: World) -> None:
    with as_regulator(world) as regulator, pytest.raises(GatewayError) as err:
        regulator.get_json("/v1/oversight/filings", params={"status": "maybe"})
    assert err.value.status == 422
