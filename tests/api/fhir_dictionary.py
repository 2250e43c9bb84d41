"""An attacker's dictionary: plausible small FHIR payloads, in the canonical bytes the gateway
commits to, generated fast enough to hash a million of them in seconds.

Each family is a resource builder and the values its slots take (a vital sign or lab result with
its LOINC code and plausible values; a prescription of a common drug at common doses). Its
canonical bytes are built from a template: the builder is canonicalised once with a sentinel in
each slot, and each entry joins the template's pieces with the canonical form of its values, which
is what RFC 8785 would give for the whole resource (`check_templates` proves it on samples).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger.payload import canonicalize

LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
STATUSES = ("final", "preliminary", "amended")


def _steps(low: str, high: str, step: str) -> list[float | int]:
    """Values from low to high inclusive, as a client would send them (ints where whole)."""
    lo, hi, st = Decimal(low), Decimal(high), Decimal(step)
    count = int((hi - lo) / st) + 1
    values = (lo + st * n for n in range(count))
    return [int(v) if st == st.to_integral() else float(v) for v in values]


# (code, display, unit, values): common vital signs and laboratory results.
OBSERVATIONS: tuple[tuple[str, str, str, list[float | int]], ...] = (
    ("8867-4", "Heart rate", "/min", _steps("20", "250", "1")),
    ("8310-5", "Body temperature", "Cel", _steps("30.0", "44.0", "0.1")),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", _steps("50", "260", "1")),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", _steps("20", "160", "1")),
    ("9279-1", "Respiratory rate", "/min", _steps("4", "60", "1")),
    (
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "%",
        _steps("50", "100", "1"),
    ),
    ("29463-7", "Body weight", "kg", _steps("0.5", "250.0", "0.1")),
    ("8302-2", "Body height", "cm", _steps("30.0", "230.0", "0.1")),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", _steps("10.0", "70.0", "0.1")),
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", _steps("20", "800", "1")),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", _steps("3.0", "20.0", "0.1")),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", _steps("3.0", "25.0", "0.1")),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", _steps("50", "500", "1")),
    ("2085-9", "HDL Cholesterol", "mg/dL", _steps("5", "150", "1")),
    ("2089-1", "LDL Cholesterol", "mg/dL", _steps("10", "400", "1")),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", _steps("10", "2000", "1")),
    (
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        _steps("0.10", "20.00", "0.01"),
    ),
    ("6690-2", "Leukocytes [#/volume] in Blood", "10*3/uL", _steps("0.1", "100.0", "0.1")),
    ("777-3", "Platelets [#/volume] in Blood", "10*3/uL", _steps("5", "1500", "1")),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", _steps("100", "180", "1")),
    (
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        _steps("1.5", "9.0", "0.1"),
    ),
)

# (RxNorm code, drug, doses): commonly prescribed drugs and their usual strengths.
DRUGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("723", "amoxicillin", ("250 mg", "500 mg", "875 mg", "1 g")),
    ("29046", "lisinopril", ("2.5 mg", "5 mg", "10 mg", "20 mg", "40 mg")),
    ("6809", "metformin", ("500 mg", "850 mg", "1000 mg")),
    ("83367", "atorvastatin", ("10 mg", "20 mg", "40 mg", "80 mg")),
    ("17767", "amlodipine", ("2.5 mg", "5 mg", "10 mg")),
    ("7646", "omeprazole", ("10 mg", "20 mg", "40 mg")),
    ("5640", "ibuprofen", ("200 mg", "400 mg", "600 mg", "800 mg")),
    ("161", "acetaminophen", ("325 mg", "500 mg", "650 mg", "1 g")),
    ("10582", "levothyroxine", ("25 mcg", "50 mcg", "75 mcg", "100 mcg", "125 mcg")),
    ("1202", "atenolol", ("25 mg", "50 mg", "100 mg")),
    ("4603", "furosemide", ("20 mg", "40 mg", "80 mg")),
    ("1191", "aspirin", ("75 mg", "81 mg", "100 mg", "325 mg")),
    ("2551", "ciprofloxacin", ("250 mg", "500 mg", "750 mg")),
    ("11289", "warfarin", ("1 mg", "2 mg", "2.5 mg", "5 mg")),
    ("8787", "prednisone", ("5 mg", "10 mg", "20 mg", "40 mg")),
)
FREQUENCIES = (
    "once daily",
    "twice daily",
    "three times daily",
    "four times daily",
    "every 6 hours",
    "every 8 hours",
    "every 12 hours",
    "at bedtime",
    "as needed",
)


def observation(code: str, display: str, unit: str) -> Callable[..., dict[str, Any]]:
    def build(status: Any, value: Any) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": status,
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }

    return build


def medication_request(code: str, drug: str) -> Callable[..., dict[str, Any]]:
    def build(dosage: Any, subject: Any) -> dict[str, Any]:
        return {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": code, "display": drug}]
            },
            "subject": {"reference": subject},
            "dosageInstruction": [{"text": dosage}],
        }

    return build


@dataclass
class Family:
    """A resource builder and the values each of its slots takes, in product order."""

    build: Callable[..., dict[str, Any]]
    slots: Sequence[Sequence[Any]]
    _pieces: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        sentinels = [f"\u2063slot{n}\u2063" for n in range(len(self.slots))]
        template = canonicalize(self.build(*sentinels))
        self._pieces = [template]
        for sentinel in sentinels:
            head, quoted, tail = self._pieces.pop().partition(canonicalize(sentinel))
            assert quoted, f"sentinel {sentinel!r} is not where the builder puts it"
            self._pieces += [head, tail]

    def __len__(self) -> int:
        return _product_size(self.slots)

    def values(self) -> Iterator[tuple[Any, ...]]:
        return itertools.product(*self.slots)

    def canonical(self) -> Iterator[bytes]:
        """Each entry's canonical bytes, in `values` order, without canonicalising each."""
        tokens = [[canonicalize(v) for v in slot] for slot in self.slots]
        pieces = self._pieces
        for combination in itertools.product(*tokens):
            values = (*combination, b"")
            yield b"".join(itertools.chain.from_iterable(zip(pieces, values, strict=True)))


def _product_size(slots: Sequence[Sequence[Any]]) -> int:
    size = 1
    for slot in slots:
        size *= len(slot)
    return size


def families(subjects: int) -> list[Family]:
    """Observations of every code, status and value; prescriptions for ``subjects`` patients."""
    found = [Family(observation(c, d, u), (STATUSES, v)) for c, d, u, v in OBSERVATIONS]
    references = [f"Patient/{n}" for n in range(1, subjects + 1)]
    found += [
        Family(medication_request(code, drug), (dosages(doses), references))
        for code, drug, doses in DRUGS
    ]
    return found


def dosages(doses: Sequence[str]) -> list[str]:
    return [f"{dose} {frequency}" for dose in doses for frequency in FREQUENCIES]


def dictionary(size: int) -> list[Family]:
    """Families holding at least ``size`` entries: every observation, and prescriptions for as
    many patient references as it takes."""
    observations = len(STATUSES) * sum(len(values) for *_, values in OBSERVATIONS)
    per_subject = sum(len(dosages(doses)) for *_, doses in DRUGS)
    return families(max(1, -(-(size - observations) // per_subject)))


def check_templates(found: list[Family], samples: int, seed: int = 0) -> None:
    """RFC 8785 of the whole resource equals the template's bytes, on random entries."""
    rng = random.Random(seed)
    for family in rng.sample(found, k=min(len(found), samples)):
        combos = list(itertools.islice(family.values(), 2000))
        canonical = list(itertools.islice(family.canonical(), 2000))
        for index in rng.sample(range(len(combos)), k=min(5, len(combos))):
            assert canonical[index] == canonicalize(family.build(*combos[index])), combos[index]
