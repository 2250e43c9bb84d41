"""Slither over every contract in contracts/, compiled as scripts/compile.mjs compiles them.

Fails on any finding of High, Medium or Low impact in our code (OpenZeppelin, under node_modules/,
is filtered out). A deliberate Low is silenced at its line with
``// slither-disable-next-line DETECTOR - why it is safe``; a silencing comment without a reason, or
one that silences nothing, fails too. Informational and optimisation findings are printed only.

Before trusting a clean result it checks that the run could have failed: every contract under
contracts/ was analysed, and a canary with a known bug of each gating impact is caught.

Runs in its own venv (slither-analyzer pins web3 below the project's): ``make slither``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from crytic_compile import CryticCompile
from crytic_compile.platform.solc_standard_json import SolcStandardJson
from slither import Slither  # type: ignore[import-untyped]
from slither.detectors import all_detectors  # type: ignore[import-untyped]
from slither.detectors.abstract_detector import AbstractDetector  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SOLC = HERE / "solc"
CONTRACTS = "contracts"
CANARY = HERE / "canary"
# compile.mjs records the settings it compiled with; check-artifacts keeps the manifest in step.
MANIFEST = ROOT / "ledger" / "artifacts" / "manifest.json"
DEPENDENCIES = r"node_modules/"

GATING = ("High", "Medium", "Low")
IMPACTS = (*GATING, "Informational", "Optimization")
# What the canary must trip: one detector per gating impact.
CANARY_EXPECTED = {"arbitrary-send-eth": "High", "tx-origin": "Medium", "missing-zero-check": "Low"}

_DECLARATION = re.compile(r"^\s*(?:abstract\s+)?(?:contract|interface|library)\s+(\w+)", re.M)
_DISABLE = re.compile(r"//\s*slither-disable-(?:next-line|start)\s*([A-Za-z0-9_,-]*)(.*)$")


def sources(folder: Path) -> list[str]:
    """Every .sol file under ``folder``, as paths relative to the repo root (solc's unit names)."""
    return sorted(str(p.relative_to(ROOT)) for p in folder.rglob("*.sol"))


def analyse(files: list[str]) -> tuple[Slither, list[dict[str, Any]]]:
    """Compile ``files`` through solc-js with the artifacts' settings and run every detector."""
    standard_json = SolcStandardJson()
    standard_json.add_source_files(files)
    standard_json.to_dict()["settings"].update(json.loads(MANIFEST.read_text())["settings"])
    compiled = CryticCompile(standard_json, solc=str(SOLC), solc_working_dir=str(ROOT))
    slither = Slither(compiled, filter_paths=[DEPENDENCIES])
    for detector in vars(all_detectors).values():
        if inspect.isclass(detector) and issubclass(detector, AbstractDetector):
            slither.register_detector(detector)
    return slither, [result for batch in slither.run_detectors() for result in batch]


def declared_contracts(files: list[str]) -> set[str]:
    return {name for f in files for name in _DECLARATION.findall((ROOT / f).read_text())}


def analysed_contracts(slither: Slither) -> set[str]:
    return {
        c.name
        for c in slither.contracts
        if Path(c.source_mapping.filename.absolute).resolve().is_relative_to(ROOT / CONTRACTS)
    }


def unexplained_silencing(files: list[str]) -> list[str]:
    """``file:line`` of each slither-disable comment that names no detector or gives no reason."""
    bad = []
    for f in files:
        for number, line in enumerate((ROOT / f).read_text().splitlines(), start=1):
            match = _DISABLE.search(line)
            if match and (not match.group(1) or len(match.group(2).strip(" -:")) < 10):
                bad.append(f"{f}:{number}")
    return bad


def check_canary() -> list[str]:
    """Problems with the canary run: a gating detector that did not fire means a blind setup."""
    _, results = analyse(sources(CANARY))
    fired = {r["check"]: r["impact"] for r in results}
    return [
        f"canary: {check} ({impact}) did not fire; the Slither set-up cannot be trusted"
        for check, impact in CANARY_EXPECTED.items()
        if fired.get(check) != impact
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write every finding to this file")
    args = parser.parse_args()

    files = sources(ROOT / CONTRACTS)
    slither, results = analyse(files)
    problems = check_canary()

    missing = declared_contracts(files) - analysed_contracts(slither)
    problems += [f"{name} is declared under {CONTRACTS}/ but was not analysed" for name in missing]
    problems += [
        f"{at}: slither-disable comment without a reason" for at in unexplained_silencing(files)
    ]
    problems += sorted(
        {
            f"{Path(u['file']).relative_to(ROOT)}:{u['line']}: slither-disable for "
            f"{', '.join(u['unused_detectors'])} silences nothing; remove it"
            for u in slither.get_unused_ignore_comments()
        }
    )

    by_impact = Counter(r["impact"] for r in results)
    for result in sorted(results, key=lambda r: IMPACTS.index(r["impact"])):
        print(f"[{result['impact']}/{result['confidence']}] {result['check']}")
        print("    " + result["description"].strip().replace("\n", "\n    "))
    problems += [
        f"{by_impact[impact]} finding(s) of {impact} impact"
        for impact in GATING
        if by_impact[impact]
    ]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")

    counts = ", ".join(f"{impact} {by_impact[impact]}" for impact in IMPACTS)
    print(f"slither: {len(analysed_contracts(slither))} contracts in {len(files)} files; {counts}")
    for problem in problems:
        print(f"slither: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
