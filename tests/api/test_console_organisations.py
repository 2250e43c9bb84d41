"""GET /v1/console/organisations: the directory's organisations and their kinds, unsigned, for the
patient's consent form (a patient is no member and may not read /v1/directory)."""

from __future__ import annotations

import httpx

from tests.world import World


def test_anyone_lists_the_organisations_with_the_kind_the_chain_admitted(world: World) -> None:
    response = httpx.get(f"{world.gateways['hospital-a'].url}/v1/console/organisations")
    assert response.status_code == 200
    listed = {o["org"]: o for o in response.json()}
    for org in world.consortium.orgs.values():
        assert listed[org.address]["kind"] == org.kind
        assert listed[org.address]["usable"] is True
    assert len(listed) == len(world.consortium.orgs)
