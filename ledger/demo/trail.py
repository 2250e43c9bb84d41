"""The demo's audit steps: waiting until the organisations' access logs are sealed and published,
and the record's whole trail as the regulator's own gateway assembles it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium

#: How a step's condition is checked: the demo's own check, which raises DemoFailed.
Check = Callable[[bool, str], None]


def consortium_trail(
    consortium: Consortium, regulator: LocalAccount, record_id: str, check: Check
) -> dict[str, Any]:
    """The record's trail as the regulator's own gateway assembles it from every organisation's
    published batches, once hospital A's and the insurer's accesses are sealed and it is whole."""
    for name in ("hospital-a", "insurer"):
        url = consortium.orgs[name].gateway_url
        assert url is not None
        with GatewayClient(url, regulator, fetch_domain(url)) as at_member:
            await_anchored_trail(at_member, record_id, check)
    url = consortium.orgs["regulator"].gateway_url
    assert url is not None
    wanted = {consortium.orgs[n].address.lower() for n in ("hospital-a", "insurer")}
    deadline = time.monotonic() + 60
    with GatewayClient(url, regulator, fetch_domain(url)) as own:
        while True:
            trail: dict[str, Any] = own.get_json("/v1/audit/trail", params={"record_id": record_id})
            orgs = {i["org"].lower() for i in trail["items"]}
            if (trail["complete"] and wanted <= orgs) or time.monotonic() > deadline:
                check(trail["complete"], f"the trail is not whole: {trail['problems']}")
                check(wanted <= orgs, "the trail lacks hospital A's or the insurer's accesses")
                return trail
            time.sleep(0.5)


def await_anchored_trail(client: GatewayClient, record_id: str, check: Check) -> dict[str, Any]:
    """The gateway seals its access log every few seconds; wait until this record's is anchored."""
    deadline = time.monotonic() + 60
    while True:
        result: dict[str, Any] = client.get_json(
            "/v1/access-log/verification", params={"record_id": record_id}
        )
        if result["unanchored"] == 0 or time.monotonic() > deadline:
            check(result["unanchored"] == 0, "the access log was not anchored within a minute")
            return result
        time.sleep(0.5)
