"""What the hostile-member API tests share: a FHIR resource to write, hospital-a's anchorer running
for the module, and gateways that re-read their nonces after an attack spent them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.world import World

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    "valueQuantity": {"value": 131, "unit": "mmHg"},
}


@pytest.fixture(scope="module")
def anchoring(world: World) -> Iterator[None]:
    with world.gateways["hospital-a"].gateway.anchorer.running():
        yield


@pytest.fixture
def resynchronised(world: World) -> Iterator[None]:
    """The attacks spend organisation nonces behind the gateways' backs; a gateway resynchronises
    on its next refused write (issue 13, item 7), and these tests start each one from the node's
    count so that none of them depends on that first refusal."""
    yield
    for served in world.gateways.values():
        served.gateway.chain._next_nonce = None
