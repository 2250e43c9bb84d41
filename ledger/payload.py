"""Clinical payloads: strict JSON in, a validated FHIR R4 resource and its RFC 8785 bytes out.

The canonical bytes are those of the JSON *as received* (once it validates), not of the
``fhir.resources`` model's re-serialisation: the model rewrites clinical values (``...10.239+01:00``
becomes ``...10.239000+01:00``, ``.000Z`` is dropped) and would tie every commitment to one
library version. Key order and whitespace never matter; the same resource gives the same bytes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson
import rfc8785
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError

from ledger.errors import PayloadNotFhir, PayloadNotJson, PayloadTooLarge

__all__ = ["MAX_DEPTH", "Payload", "canonicalize", "load_json", "parse_payload"]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; FHIR resources stay far below it."""

_ABSTRACT_TYPES = frozenset({"Resource", "DomainResource"})
# A string token always matches, to its closing quote or to the end of the input, so the scan
# never restarts inside a string: linear time, whatever the input.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\(?:.|\Z)[^"\\]*)*(?:"|\Z)|[\[\]{}]', re.DOTALL)
_REASON_LIMIT = 160
_PRIMITIVE_KINDS = frozenset({"boolean", "number", "string"})


@dataclass(frozen=True, slots=True)
class Payload:
    """A FHIR resource that passed validation, as received, with its canonical bytes."""

    resource_type: str
    resource: dict[str, Any]
    canonical: bytes


def parse_payload(
    raw: bytes, *, max_bytes: int, allowed_types: frozenset[str] | None = None
) -> Payload:
    """Accept ``raw`` as one FHIR R4 resource or Bundle, or raise the reason it is refused.

    ``allowed_types`` restricts the top-level ``resourceType`` only (a Bundle's entries are
    validated but not filtered).
    """
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"payload is {len(raw)} bytes; the limit is {max_bytes}")
    resource = load_json(raw)
    if not isinstance(resource, dict):
        raise PayloadNotJson(f"payload is a JSON {_kind(resource)}, not an object")
    canonical = canonicalize(resource)
    resource_type = _resource_type(resource, allowed_types)
    coerced = first_coerced(resource, _validate(resource_type, resource), resource_type)
    if coerced is not None:
        raise PayloadNotFhir(coerced)
    return Payload(resource_type=resource_type, resource=resource, canonical=canonical)


def canonicalize(obj: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value; PayloadNotJson for anything JCS cannot represent.

    Values whose orjson encoding is exactly their JCS encoding (``_jcs_plain``) are encoded by
    orjson, ~20x faster than ``rfc8785``'s pure-Python encoder; anything else goes to ``rfc8785``.
    """
    try:
        plain = _jcs_plain(obj)
    except RecursionError:
        plain = False
    if plain:
        try:
            return orjson.dumps(obj, option=_ORJSON_JCS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, an integer beyond 2**53: rfc8785 says why
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, RecursionError) as exc:
        raise PayloadNotJson(f"not representable as RFC 8785 JSON: {_clip(str(exc))}") from exc


# Sorted keys, and integers past 2**53 refused (JCS's I-JSON range) rather than written.
_ORJSON_JCS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _jcs_plain(value: object) -> bool:
    """Whether orjson writes ``value`` byte for byte as RFC 8785 does: objects with ASCII keys
    (orjson sorts by UTF-8 bytes, JCS by UTF-16 units: they agree on ASCII), arrays, strings
    (both escape exactly ``"``, ``\\`` and the control characters, in the same spelling), ints,
    booleans, null, and floats that are finite, not integral (JCS writes 100.0 as 100) and not
    below 1e-5 in magnitude (there orjson writes an exponent where ECMAScript does not). The
    property test in tests/test_payload.py checks the agreement against rfc8785."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        return all(
            type(key) is str and key.isascii() and _jcs_plain(child)
            for key, child in value.items()  # type: ignore[attr-defined]
        )
    if kind is list:
        return all(_jcs_plain(child) for child in value)  # type: ignore[attr-defined]
    if kind is float:
        number: float = value  # type: ignore[assignment]
        return math.isfinite(number) and not number.is_integer() and abs(number) >= 1e-5
    return False


def load_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """Parse UTF-8 JSON strictly: no duplicate keys, no NaN/Infinity, nesting bounded.

    The depth is checked before parsing because importing eth-account (via py_ecc) raises the
    interpreter's recursion limit to 100000, past which ``json.loads`` overflows the C stack
    and kills the process instead of raising.
    """
    if _nested_deeper_than(raw, max_depth):
        raise PayloadNotJson(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadNotJson(f"not valid JSON: {_clip(str(exc))}") from exc


def _nested_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects outside string literals nest deeper than ``limit``."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for token in _TOKEN.finditer(raw):
        if token.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token.group() in (b"]", b"}"):
            depth -= 1
    return False


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins, so what is committed could differ from what
    # a reader sees: refuse the ambiguity.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {_clip(key)!r}")
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _resource_type(resource: dict[str, Any], allowed_types: frozenset[str] | None) -> str:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise PayloadNotFhir("resourceType is missing or not a string")
    if allowed_types is not None and resource_type not in allowed_types:
        raise PayloadNotFhir(f"resource type {_clip(resource_type)!r} is not accepted here")
    return resource_type


def _validate(resource_type: str, resource: dict[str, Any]) -> FHIRAbstractModel:
    try:
        model_class = get_fhir_model_class(resource_type)
    except ValueError as exc:
        raise PayloadNotFhir(f"{_clip(resource_type)!r} is not a FHIR R4 resource type") from exc
    if not issubclass(model_class, Resource) or resource_type in _ABSTRACT_TYPES:
        raise PayloadNotFhir(f"{resource_type!r} is not a concrete FHIR R4 resource type")
    try:
        return model_class.model_validate(resource)
    except ValidationError as exc:
        raise PayloadNotFhir(_first_error(resource_type, exc)) from exc
    except Exception as exc:
        # fhir_core reports some malformed content with other types (a KeyError for an unknown
        # nested resourceType); nothing a caller sends may surface as an internal error.
        reason = f"{resource_type}: {type(exc).__name__} {_clip(str(exc))}"
        raise PayloadNotFhir(reason) from exc


def _first_error(resource_type: str, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    where = ".".join([resource_type, *(str(part) for part in errors[0]["loc"])])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {_clip(errors[0]['msg'])}{more}"


def first_coerced(received: dict[str, Any], model: FHIRAbstractModel, path: str) -> str | None:
    """Where the validator accepted a primitive of the wrong JSON kind (``"true"`` for a boolean,
    ``"1.5"`` for a decimal), say so: what comparing ``received`` with ``model``'s JSON dump
    finds (``_first_coerced``), found by walking the model's attributes against ``received``
    instead of dumping it, which cost ~60% of a record's validation. A value whose dumped kind
    the walk does not know sends the whole check to the dump."""
    try:
        return _first_coerced_in(received, model, path)
    except _DumpNeeded:
        return _first_coerced(received, model.model_dump(mode="json"), path)


class _DumpNeeded(Exception):
    """The attribute walk met a value whose JSON kind only the dump tells."""


# What a validated primitive's JSON dump is: fhir_core keeps booleans, integers and decimals as
# numbers, dates, times and every string type as strings.
_DUMPED_KIND: dict[type, str] = {
    bool: "boolean",
    int: "number",
    float: "number",
    Decimal: "number",
    str: "string",
    date: "string",
    datetime: "string",
    time: "string",
}
_ALIASES: dict[type, dict[str, str]] = {}


def _aliases(model_class: type[FHIRAbstractModel]) -> dict[str, str]:
    """JSON key -> attribute name of a model class, built once per class."""
    found = _ALIASES.get(model_class)
    if found is None:
        fields = model_class.model_fields.items()
        found = {info.alias or name: name for name, info in fields}
        _ALIASES[model_class] = found
    return found


def _first_coerced_in(received: object, validated: object, path: str) -> str | None:
    if isinstance(validated, FHIRAbstractModel):
        if not isinstance(received, dict):
            return None  # an object against a primitive or array: not a primitive coercion
        aliases = _aliases(type(validated))
        for key, child in received.items():
            if key == "resourceType":
                validated_child: object = validated.get_resource_type()
            else:
                name = aliases.get(key)
                validated_child = None if name is None else getattr(validated, name, None)
            found = _first_coerced_in(child, validated_child, f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(validated, list):
        if not isinstance(received, list) or len(received) != len(validated):
            return None
        for index, (child, validated_child) in enumerate(zip(received, validated, strict=True)):
            found = _first_coerced_in(child, validated_child, f"{path}.{index}")
            if found is not None:
                return found
        return None
    if validated is None:
        return None
    expected = _DUMPED_KIND.get(type(validated))
    if expected is None:
        expected = next((k for t, k in _DUMPED_KIND.items() if isinstance(validated, t)), None)
        if expected is None or isinstance(validated, dict):
            raise _DumpNeeded(type(validated).__name__)
    got = _kind(received)
    if got != expected and got in _PRIMITIVE_KINDS:
        return f"{path}: expected a JSON {expected}, got a {got}"
    return None


def _first_coerced(received: object, validated: object, path: str) -> str | None:
    """Where the validator accepted a primitive of the wrong JSON kind, say so.

    ``fhir.resources`` takes ``"true"`` or ``1`` for a boolean and ``"1.5"`` for a decimal;
    committing those would anchor a resource that strict FHIR readers reject or misread.
    """
    if isinstance(received, dict) and isinstance(validated, dict):
        children = [(key, value, validated.get(key)) for key, value in received.items()]
    elif isinstance(received, list) and isinstance(validated, list):
        if len(received) != len(validated):
            return None
        pairs = zip(received, validated, strict=True)
        children = [(str(index), *pair) for index, pair in enumerate(pairs)]
    else:
        got, expected = _kind(received), _kind(validated)
        if got != expected and {got, expected} <= _PRIMITIVE_KINDS:
            return f"{path}: expected a JSON {expected}, got a {got}"
        return None
    for name, child, validated_child in children:
        found = _first_coerced(child, validated_child, f"{path}.{name}")
        if found is not None:
            return found
    return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _REASON_LIMIT else flat[: _REASON_LIMIT - 3] + "..."
