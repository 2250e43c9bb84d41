"""Role-shaped views of FHIR R4 payloads: who sees which elements, declared once in
``views.toml`` as an allow-list and enforced here, in one place (see docs/segmentation.md)."""

from __future__ import annotations

import copy
import json
import re
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any, Literal, NamedTuple

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.consent.grants import Purpose
from ledger.errors import ConfigError
from ledger.types import OrgKind

__all__ = ["VIEWS_PATH", "Segmentation", "apply_view", "load_segmentation", "view_for"]

VIEWS_PATH = Path(__file__).with_name("views.toml")
"""The declaration shipped with the ledger."""

_NO_VIEW = "none"
_LOCAL_REFERENCE = re.compile(r'"reference":"#([^"]+)"')
# Elements that change the meaning of the object carrying them: never silently dropped.
_MODIFIERS = ("modifierExtension", "implicitRules")
_KINDS = {kind.name.lower(): kind for kind in OrgKind if kind is not OrgKind.NONE}
_PURPOSES = {purpose.name.lower(): purpose for purpose in Purpose}


class _Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    access: dict[str, dict[str, str]]
    access_with_legal_basis: dict[str, dict[str, str]] = {}
    views: dict[str, Literal["*"] | dict[str, list[str]]]


@dataclass(frozen=True, slots=True)
class _Shape:
    """One object's allow-list: element name -> its own shape (None keeps the element whole)."""

    keep: Mapping[str, _Shape | None]
    required: tuple[frozenset[str], ...]


# A resource inside a resource (contained, Bundle.entry.resource), shaped by the view itself.
_NESTED = _Shape({}, ())
_Shapes = Mapping[str, _Shape]
_Cell = tuple[OrgKind, Purpose, bool]


class _Element(NamedTuple):
    name: str
    choice: str | None
    child: type[FHIRAbstractModel] | None
    required: bool


@dataclass(frozen=True)
class Segmentation:
    """A loaded declaration: which view each (kind, purpose) gets, and each view's shapes."""

    access: Mapping[_Cell, str | None]
    views: Mapping[str, _Shapes | None]  # None: every element, as written

    def view_for(
        self, org_kind: OrgKind, purpose: Purpose, *, legal_basis: bool = False
    ) -> str | None:
        """The view a grant for ``purpose`` opens to an ``org_kind`` member; None: nothing."""
        return self.access.get((OrgKind(org_kind), Purpose(purpose), legal_basis))

    def apply_view(self, view: str, resource: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of ``resource`` (a resource or Bundle) cut to ``view``; None if it is withheld."""
        if view not in self.views:
            raise ConfigError(f"no view named {view!r}")
        shapes = self.views[view]
        shaped = dict(resource) if shapes is None else _resource(shapes, resource)
        return None if shaped is None else copy.deepcopy(shaped)


def load_segmentation(path: Path = VIEWS_PATH) -> Segmentation:
    """Read and check a declaration; ConfigError names what is wrong with it."""
    try:
        declared = _Declaration.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        raise ConfigError(f"{path.name}: {reasons}") from exc
    views = {
        name: None if types == "*" else {t: _compile_resource(t, p, name) for t, p in types.items()}
        for name, types in declared.views.items()
    }
    return Segmentation(_access(declared, views.keys()), views)


@cache
def shipped() -> Segmentation:
    """The shipped declaration, loaded once per process."""
    return load_segmentation()


def view_for(org_kind: OrgKind, purpose: Purpose, *, legal_basis: bool = False) -> str | None:
    """The view a grant for ``purpose`` opens to an ``org_kind`` member, per the shipped table."""
    return shipped().view_for(org_kind, purpose, legal_basis=legal_basis)


def apply_view(view: str, resource: Mapping[str, Any]) -> dict[str, Any] | None:
    """``resource`` cut to the shipped ``view``; None if nothing of it may be shown."""
    return shipped().apply_view(view, resource)


def _access(declared: _Declaration, views: Iterable[str]) -> dict[_Cell, str | None]:
    known, table = {*views, _NO_VIEW}, dict[_Cell, str | None]()
    for legal_basis, rows in ((False, declared.access), (True, declared.access_with_legal_basis)):
        for kind, row in rows.items():
            for why, view in row.items():
                if kind not in _KINDS or why not in _PURPOSES or view not in known:
                    raise ConfigError(f"access: {kind}.{why} = {view!r}: unknown cell or view")
                cell = (_KINDS[kind], _PURPOSES[why], legal_basis)
                table[cell] = None if view == _NO_VIEW else view
    for (kind, org_kind), (why, purpose) in product(_KINDS.items(), _PURPOSES.items()):
        if (org_kind, purpose, False) not in table:
            raise ConfigError(f"access: {kind}.{why} is missing")
        table.setdefault((org_kind, purpose, True), table[org_kind, purpose, False])
    return table


def _compile_resource(resource_type: str, paths: list[str], view: str) -> _Shape:
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"views.{view}: {resource_type!r} is not a FHIR resource type") from exc
    if not issubclass(model, Resource):
        raise ConfigError(f"views.{view}: {resource_type!r} is not a FHIR resource type")
    shape = _compile(model, ["id", *paths], f"views.{view}.{resource_type}")
    return _Shape({"resourceType": None, **shape.keep}, shape.required)


def _compile(model: type[FHIRAbstractModel], paths: Iterable[str], where: str) -> _Shape:
    parts: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        parts.setdefault(head, []).append(rest)
    elements, keep = _elements(model), dict[str, _Shape | None]()
    for head, rests in parts.items():
        found = [element for element in elements if head in (element.name, element.choice)]
        if not found:
            raise ConfigError(f"{where}: {model.__name__} has no element {head!r}")
        for element in found:
            keep[element.name] = _compile_element(element.child, rests, f"{where}.{head}")
    groups: dict[str, set[str]] = {}
    for element in elements:
        if element.required:
            groups.setdefault(element.choice or element.name, set()).add(element.name)
    missing = sorted(name for name, group in groups.items() if not group & keep.keys())
    if missing:
        raise ConfigError(f"{where}: leaves out required {', '.join(missing)}")
    return _Shape(keep, tuple(frozenset(group) for group in groups.values()))


def _compile_element(
    child: type[FHIRAbstractModel] | None, rests: list[str], where: str
) -> _Shape | None:
    if _is_resource(child):
        if any(rests):
            raise ConfigError(f"{where}: a resource is shaped by the view; name it whole")
        return _NESTED
    if "" in rests:  # named whole: any parts also named are in it
        if child is not None and any(_is_resource(inner.child) for inner in _elements(child)):
            # Kept whole, Bundle.entry would let its resources through unshaped.
            raise ConfigError(f"{where}: holds resources; name its parts instead")
        return None
    if child is None:
        raise ConfigError(f"{where}: a primitive element has no parts")
    return _compile(child, rests, where)


@cache
def _elements(model: type[FHIRAbstractModel]) -> list[_Element]:
    # fhir.resources marks FHIR elements, choice groups and cardinality in each field's extras.
    elements = []
    for field in model.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("element_property") and field.alias:
            choice = f"{extra['one_of_many']}[x]" if "one_of_many" in extra else None
            required = extra.get("element_required") or extra.get("one_of_many_required")
            child = _model_of(field.annotation)
            elements.append(
                _Element(field.alias, choice, child, bool(required) or field.is_required())
            )
    return elements


def _model_of(annotation: object) -> type[FHIRAbstractModel] | None:
    model_klass = getattr(annotation, "get_model_klass", None)
    if callable(model_klass):
        found: type[FHIRAbstractModel] = model_klass()
        return found
    return next(filter(None, map(_model_of, typing.get_args(annotation))), None)


def _is_resource(model: type[FHIRAbstractModel] | None) -> bool:
    return model is not None and issubclass(model, Resource)


def _resource(shapes: _Shapes, resource: Mapping[str, Any]) -> dict[str, Any] | None:
    resource_type = resource.get("resourceType")
    shape = shapes.get(resource_type) if isinstance(resource_type, str) else None
    shaped = None if shape is None else _keep(shapes, resource, shape)
    if shaped is None or "contained" not in shaped:
        return shaped
    # dom-3: a contained resource must be pointed to ("#id") from what is kept. FHIR ids are
    # [A-Za-z0-9.-], so a reference to one is found in the JSON text as written.
    pointed = set(_LOCAL_REFERENCE.findall(json.dumps(shaped, separators=(",", ":"))))
    contained = [inner for inner in shaped.pop("contained") if inner.get("id") in pointed]
    if contained:
        shaped["contained"] = contained
    return shaped


def _keep(shapes: _Shapes, obj: Mapping[str, Any], shape: _Shape) -> dict[str, Any] | None:
    if any(modifier in obj and modifier not in shape.keep for modifier in _MODIFIERS):
        return None
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        name = key.removeprefix("_")  # "_birthDate" carries birthDate's id and extensions
        if name not in shape.keep:
            continue
        inner = shape.keep[name]
        part = value if inner is None else _each(shapes, value, inner)
        if part is None and inner is _NESTED and not isinstance(value, list):
            return None  # a Bundle entry whose resource is withheld goes with it
        if part is not None:
            kept[key] = part
    if not kept or any(not any(n in kept or f"_{n}" in kept for n in g) for g in shape.required):
        return None
    return kept


def _each(shapes: _Shapes, value: Any, shape: _Shape) -> Any:
    if isinstance(value, list):
        items = [
            part for part in (_each(shapes, item, shape) for item in value) if part is not None
        ]
        return items or None
    if not isinstance(value, Mapping):
        return None
    return _resource(shapes, value) if shape is _NESTED else _keep(shapes, value, shape)
