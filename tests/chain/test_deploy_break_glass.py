"""The BreakGlassRegistry is deployed with the MEDLEDGER_BREAK_GLASS_* settings and the reason
codes of the reasons file, wired to the registries it consults; a bad reasons file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from ledger.chain import _artifacts
from ledger.chain.deploy import BreakGlassTerms, deploy_contracts
from ledger.consent.emergency import load_reasons, reason_mask
from ledger.errors import ConfigError
from ledger.settings import Settings

DEPLOYER = Account.from_key(Web3.keccak(text="medledger/tests/deploy-break-glass/deployer"))
REGULATOR = Account.from_key(Web3.keccak(text="medledger/tests/deploy-break-glass/regulator"))


def test_the_registry_takes_its_terms_from_the_settings(w3: Web3, tmp_path: Path) -> None:
    reasons = tmp_path / "reasons.toml"
    reasons.write_text('[2]\nname = "a"\ntext = "A."\n[7]\nname = "b"\ntext = "B."\n')
    settings = Settings(
        break_glass_daily_limit=5,
        break_glass_window_s=600,
        break_glass_review_window_s=3_600,
        break_glass_reasons_file=reasons,
    )
    terms = BreakGlassTerms.from_settings(settings)
    assert terms == BreakGlassTerms(5, 600, 3_600, (1 << 2) | (1 << 7))
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address, break_glass=terms)
    registry = w3.eth.contract(
        address=deployment.address("BreakGlassRegistry"),
        abi=_artifacts.load("BreakGlassRegistry").abi,
    )
    fns = registry.functions
    assert (fns.dailyLimit().call(), fns.window().call(), fns.reviewWindow().call()) == (
        5,
        600,
        3_600,
    )
    assert fns.reasonCodes().call() == terms.reasons
    assert fns.membership().call() == deployment.address("Membership")


def test_the_default_terms_are_the_settings_defaults() -> None:
    assert BreakGlassTerms() == BreakGlassTerms.from_settings(Settings())
    assert BreakGlassTerms().reasons == reason_mask(load_reasons())


@pytest.mark.parametrize(
    "text",
    ['[0]\nname = "a"\ntext = "A."\n', '[1]\nname = "a"\n', '[1]\nname = "a"\ntext = "A."\n[2]\n'
     'name = "a"\ntext = "B."\n', "", "not toml ["],
    ids=["code-zero", "no-text", "name-twice", "empty", "not-toml"],
)  # fmt: skip
def test_a_reasons_file_that_is_no_coded_list_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "reasons.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_reasons(path)
