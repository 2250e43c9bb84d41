"""A gateway whose chain node stops answering: 503 `chain.unavailable` with a problem body, never
a 500, and nothing stored on the way."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.api.test_prescriptions import refused
from tests.world import Patient, World, enrol_patient, private_world


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Patient]]:
    """A world with one enrolled patient, whose anvil has then been stopped."""
    with private_world(tmp_path_factory.mktemp("stopped")) as (opened, node):
        patient = enrol_patient(opened)
        node.stop()
        yield opened, patient


def test_health_is_503_when_the_node_is_down(stopped: tuple[World, Patient]) -> None:
    world, _ = stopped
    reply = httpx.get(f"{world.gateways['hospital-a'].url}/v1/health", timeout=30)
    assert reply.status_code == 503
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "chain.unavailable"


def test_a_signed_write_is_503_and_stores_nothing(stopped: tuple[World, Patient]) -> None:
    world, patient = stopped
    before = world.stored_envelopes()
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.post_json(  # noqa: E731
            "/v1/records",
            content=json.dumps({"resourceType": "Basic", "code": {"text": "x"}}).encode(),
            params={"patient": patient.pseudonym.address},
        )
        assert refused(call) == (503, "chain.unavailable")
    assert world.stored_envelopes() == before
