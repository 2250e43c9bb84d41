"""What the gateway serves for the browser console (api/console.py): its facts before sign-in, who
a signed key is, the built pages under a same-origin CSP, and /docs from local assets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import requests
from eth_account import Account

from api.console import CONSOLE_CSP
from api.main import create_app
from api.serving import serve
from ledger.gateway.client import GatewayError
from tests.world import World


def test_the_console_config_names_the_gateway_its_kind_and_zone(world: World) -> None:
    for org, kind in (
        ("hospital-a", "hospital"),
        ("pharmacy", "pharmacy"),
        ("regulator", "regulator"),
    ):
        config = requests.get(f"{world.gateways[org].url}/v1/console/config", timeout=10).json()
        assert config["organisation"] == world.org_address(org)
        assert config["kind"] == kind
        assert (config["time_zone"], config["utc_offset_minutes"]) == ("Asia/Shanghai", 480)
        assert config["languages"][0] == config["default_language"] == "zh-CN"


def test_me_is_the_signed_staff_member_and_refuses_anyone_else(world: World) -> None:
    with world.as_staff("pharmacy", "pharmacist", gateway="pharmacy") as pharmacist:
        me = pharmacist.get_json("/v1/console/me")
    assert me == {
        "address": world.staff("pharmacy", "pharmacist").address,
        "organisation": world.org_address("pharmacy"),
        "role": "PHARMACIST_ROLE",
    }
    # Staff of another organisation, and a stranger, are refused as at every staff route.
    other = world.as_staff("pharmacy-b", "pharmacist", gateway="pharmacy")
    with other, pytest.raises(GatewayError) as err:
        other.get_json("/v1/console/me")
    assert (err.value.status, err.value.problem_code) == (403, "auth.wrong_organisation")
    with world.client(Account.create(), "pharmacy") as stranger, pytest.raises(GatewayError) as err:
        stranger.get_json("/v1/console/me")
    assert (err.value.status, err.value.problem_code) == (403, "auth.not_member")


def test_the_built_console_is_served_under_a_same_origin_policy(world: World) -> None:
    # `make test` builds the console first (make console); run alone, build it before.
    base = world.gateways["hospital-a"].url
    page = requests.get(f"{base}/console/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONSOLE_CSP
    assert "/console/assets/" in page.text
    assert "http://" not in page.text.replace(base, "")
    assert "https://" not in page.text


def test_docs_load_swagger_from_the_gateway_itself(world: World) -> None:
    base = world.gateways["hospital-a"].url
    docs = requests.get(f"{base}/docs", timeout=10)
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f'"/console/swagger/{asset}"' in docs.text
        assert requests.get(f"{base}/console/swagger/{asset}", timeout=10).status_code == 200


def test_without_a_build_the_console_and_docs_say_how_to_build(
    world: World, tmp_path: Path
) -> None:
    gateway = world.gateways["hospital-a"].gateway
    unbuilt = dataclasses.replace(
        gateway, settings=gateway.settings.model_copy(update={"console_dir": tmp_path})
    )
    with serve(create_app(unbuilt)) as url:
        for path in ("/console/", "/console/index.html", "/docs"):
            reply = requests.get(f"{url}{path}", timeout=10)
            assert reply.status_code == 503, path
            assert reply.json()["code"] == "console.not_built"
        assert requests.get(f"{url}/v1/console/config", timeout=10).status_code == 200
