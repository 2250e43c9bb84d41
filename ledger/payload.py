"""Clinical payloads: strict JSON in, a validated FHIR R4 resource and its RFC 8785 bytes out.

The canonical bytes are those of the JSON *as received* (once it validates), not of the
``fhir.resources`` model's re-serialisation: the model rewrites clinical values (``...10.239+01:00``
becomes ``...10.239000+01:00``, ``.000Z`` is dropped) and would tie every commitment to one
library version. Key order and whitespace never matter; the same resource gives the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

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
    validated = _validate(resource_type, resource).model_dump(mode="json")
    coerced = _first_coerced(resource, validated, resource_type)
    if coerced is not None:
        raise PayloadNotFhir(coerced)
    return Payload(resource_type=resource_type, resource=resource, canonical=canonical)


def canonicalize(obj: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value; PayloadNotJson for anything JCS cannot represent."""
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, RecursionError) as exc:
        raise PayloadNotJson(f"not representable as RFC 8785 JSON: {_clip(str(exc))}") from exc


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
