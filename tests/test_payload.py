"""Payload parsing: what is accepted as FHIR R4, what is refused and why, the canonical bytes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings, strategies as st

from ledger import payload as payload_module
from ledger.errors import PayloadNotFhir, PayloadNotJson, PayloadTooLarge
from ledger.payload import MAX_DEPTH, canonicalize, load_json, parse_payload

EXAMPLES = sorted((Path(__file__).parent / "fixtures" / "fhir").glob("*.json"))
LIMIT = 1 << 20


def _raw(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource).encode()


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(child, rng) for key, child in items}
    if isinstance(value, list):
        return [_shuffled(child, rng) for child in value]
    return value


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_hl7_example_is_accepted_as_received(example: Path) -> None:
    raw = example.read_bytes()
    payload = parse_payload(raw, max_bytes=LIMIT)
    assert payload.resource == json.loads(raw)
    assert payload.resource_type == payload.resource["resourceType"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_canonical_bytes_of_hl7_example_parse_back_to_the_same_payload(example: Path) -> None:
    payload = parse_payload(example.read_bytes(), max_bytes=LIMIT)
    assert parse_payload(payload.canonical, max_bytes=LIMIT) == payload


def test_bundle_of_hl7_examples_is_accepted() -> None:
    entries = [{"resource": json.loads(example.read_bytes())} for example in EXAMPLES]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    assert parse_payload(_raw(bundle), max_bytes=LIMIT).resource_type == "Bundle"


def test_canonical_bytes_sort_keys_and_drop_whitespace() -> None:
    raw = b'{ "name": [ {"family": "Chalmers"} ],\n  "active": true, "resourceType": "Patient" }'
    assert parse_payload(raw, max_bytes=LIMIT).canonical == (
        b'{"active":true,"name":[{"family":"Chalmers"}],"resourceType":"Patient"}'
    )


@settings(max_examples=25)
@given(example=st.sampled_from(EXAMPLES), rng=st.randoms(use_true_random=False))
def test_canonical_bytes_do_not_depend_on_key_order_or_layout(
    example: Path, rng: random.Random
) -> None:
    original = parse_payload(example.read_bytes(), max_bytes=LIMIT)
    reordered = json.dumps(_shuffled(original.resource, rng), indent=rng.choice([None, 1, 4]))
    assert parse_payload(reordered.encode(), max_bytes=LIMIT).canonical == original.canonical


def test_payload_over_limit_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_payload(b"not even json" * 100, max_bytes=1000)


def test_payload_at_limit_is_accepted() -> None:
    raw = b'{"resourceType":"Patient"}'
    assert parse_payload(raw, max_bytes=len(raw)).resource_type == "Patient"


@pytest.mark.parametrize(
    "raw",
    [b"<Patient/>", b"", b'{"resourceType": "Patient"', b"\xff\xfe{}", b'\xef\xbb\xbf{"a":1}'],
    ids=["xml", "empty", "truncated", "not-utf8", "bom"],
)
def test_non_json_is_refused(raw: bytes) -> None:
    with pytest.raises(PayloadNotJson):
        parse_payload(raw, max_bytes=LIMIT)


@pytest.mark.parametrize("raw", [b"[]", b'"Patient"', b"1", b"null"])
def test_json_that_is_not_an_object_is_refused(raw: bytes) -> None:
    with pytest.raises(PayloadNotJson, match="not an object"):
        parse_payload(raw, max_bytes=LIMIT)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(PayloadNotJson, match="duplicate key 'gender'"):
        parse_payload(
            b'{"resourceType":"Patient","gender":"male","gender":"female"}', max_bytes=LIMIT
        )


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_refused(constant: bytes) -> None:
    with pytest.raises(PayloadNotJson):
        parse_payload(b'{"resourceType":"Patient","x":' + constant + b"}", max_bytes=LIMIT)


def test_nesting_past_the_limit_is_refused_without_crashing() -> None:
    # ledger.payload's own imports leave the recursion limit high (py_ecc sets 100000), where an
    # unguarded json.loads of this input overflows the C stack.
    with pytest.raises(PayloadNotJson, match="nested deeper"):
        parse_payload(b"[" * 100_000, max_bytes=LIMIT)


@pytest.mark.timeout(10)
def test_nesting_check_stays_linear_on_an_unterminated_string_of_escaped_quotes() -> None:
    raw = b'["' + b'\\"' * 500_000 + b"[" * MAX_DEPTH
    with pytest.raises(PayloadNotJson):
        parse_payload(raw, max_bytes=LIMIT)


def test_nesting_at_the_limit_is_parsed() -> None:
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '\\"[{' * 200
    resource = {"resourceType": "Patient", "name": [{"text": text}]}
    assert parse_payload(_raw(resource), max_bytes=LIMIT).resource == resource


def test_missing_resource_type_is_refused() -> None:
    with pytest.raises(PayloadNotFhir, match="resourceType is missing"):
        parse_payload(b'{"id":"example"}', max_bytes=LIMIT)


def test_unknown_resource_type_is_refused() -> None:
    with pytest.raises(PayloadNotFhir, match="not a FHIR R4 resource type"):
        parse_payload(b'{"resourceType":"Spaceship"}', max_bytes=LIMIT)


@pytest.mark.parametrize("resource_type", ["Resource", "DomainResource", "HumanName"])
def test_abstract_type_or_datatype_is_refused(resource_type: str) -> None:
    with pytest.raises(PayloadNotFhir, match="not a concrete FHIR R4 resource type"):
        parse_payload(_raw({"resourceType": resource_type}), max_bytes=LIMIT)


def test_type_outside_allowed_types_is_refused() -> None:
    with pytest.raises(PayloadNotFhir, match="'Patient' is not accepted here"):
        parse_payload(
            b'{"resourceType":"Patient"}', max_bytes=LIMIT, allowed_types=frozenset({"Bundle"})
        )


def test_type_inside_allowed_types_is_accepted() -> None:
    payload = parse_payload(
        b'{"resourceType":"Patient"}', max_bytes=LIMIT, allowed_types=frozenset({"Patient"})
    )
    assert payload.resource_type == "Patient"


def test_invalid_element_is_refused_naming_it() -> None:
    with pytest.raises(PayloadNotFhir, match=r"^Patient\.birthDate: "):
        parse_payload(b'{"resourceType":"Patient","birthDate":"1970-13-45"}', max_bytes=LIMIT)


def test_invalid_element_inside_a_bundle_is_refused_naming_its_path() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "gender": 5}}],
    }
    with pytest.raises(PayloadNotFhir, match=r"^Bundle\.entry\.0\.resource\.gender: "):
        parse_payload(_raw(bundle), max_bytes=LIMIT)


def test_unknown_nested_resource_type_is_refused() -> None:
    entry = {"resource": {"resourceType": "Spaceship"}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [entry]}
    with pytest.raises(PayloadNotFhir):
        parse_payload(_raw(bundle), max_bytes=LIMIT)


def test_refusal_reason_stays_short_and_quotes_no_input() -> None:
    resource = {"resourceType": "Patient", "gender": "x" * 50_000, "bogus": "y" * 50_000}
    with pytest.raises(PayloadNotFhir) as refused:
        parse_payload(_raw(resource), max_bytes=LIMIT)
    assert len(str(refused.value)) < 300
    assert "xxxx" not in str(refused.value)
    assert "yyyy" not in str(refused.value)


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({"resourceType": "Patient", "active": "true"}, "Patient.active"),
        ({"resourceType": "Patient", "active": 1}, "Patient.active"),
        ({"resourceType": "Patient", "multipleBirthInteger": True}, "Patient.multipleBirthInteger"),
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "weight"},
                "valueQuantity": {"value": "1.50"},
            },
            "Observation.valueQuantity.value",
        ),
    ],
    ids=["string-for-boolean", "number-for-boolean", "boolean-for-integer", "string-for-decimal"],
)
def test_primitive_of_the_wrong_json_kind_is_refused(resource: dict[str, Any], where: str) -> None:
    with pytest.raises(PayloadNotFhir, match=rf"^{where}: expected a JSON "):
        parse_payload(_raw(resource), max_bytes=LIMIT)


def test_canonicalize_refuses_integers_outside_ijson() -> None:
    with pytest.raises(PayloadNotJson):
        canonicalize({"value": 2**60})


# The fast paths: canonical bytes by orjson where it agrees with RFC 8785, and the coercion check
# by walking the validated model rather than its dump. Each must answer what the slow path does.

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400)
@given(value=_JSON)
def test_canonicalize_writes_what_rfc8785_writes_or_refuses_as_it_does(value: Any) -> None:
    try:
        expected: bytes | None = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        expected = None
    if expected is None:
        with pytest.raises(PayloadNotJson):
            canonicalize(value)
    else:
        assert canonicalize(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"é": 1, "z": 2, "\ue000": 3, "\U0001f600": 4},  # UTF-16 order differs from UTF-8's
        [100.0, -0.0, 1e16, 2.1e-6, 1.5e-5, 0.1, 2**53 - 1],
        ["\x00\x1f\x7f\u2028\ufeff", "\ud800"],
    ],
    ids=["non-ascii-keys", "floats", "strings"],
)
def test_canonicalize_matches_rfc8785_where_orjson_differs(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(PayloadNotJson):
            canonicalize(value)
    else:
        assert canonicalize(value) == expected


_WRONG_KINDS = st.sampled_from(["true", "1.5", "x", 1, 0, 2.5, True, False, None, [], {}])


def _mutated(value: Any, rng: random.Random, wrong: list[Any]) -> Any:
    """``value`` with some primitives swapped for values of other JSON kinds."""
    if isinstance(value, dict):
        return {k: v if k == "resourceType" else _mutated(v, rng, wrong) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutated(child, rng, wrong) for child in value]
    return rng.choice(wrong) if rng.random() < 0.08 else value


@settings(max_examples=150, deadline=None)
@given(
    example=st.sampled_from(EXAMPLES),
    rng=st.randoms(use_true_random=False),
    wrong=st.lists(_WRONG_KINDS, min_size=1, max_size=3),
)
def test_the_coercion_walk_finds_what_comparing_with_the_dump_finds(
    example: Path, rng: random.Random, wrong: list[Any]
) -> None:
    resource = _mutated(json.loads(example.read_bytes()), rng, wrong)
    try:
        model = payload_module._validate(resource["resourceType"], resource)
    except PayloadNotFhir:
        return  # refused by the validator: the coercion check never runs
    dumped = model.model_dump(mode="json")
    path = resource["resourceType"]
    expected = payload_module._first_coerced(resource, dumped, path)
    assert payload_module.first_coerced(resource, model, path) == expected
