"""The models ``py_sp_api/specs/messaging.json`` calls for, read by the tests themselves.

This is an independent reading of the spec (not the package's code generator), shared by the
model tests: every definition with properties is a model, and so is every inline object with
properties (named owner + property in PascalCase), e.g. ``GetAttributesResponseBuyer``.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any, Dict, List

from .http_server import SPEC_PATH

SPEC: Dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
DEFS: Dict[str, Any] = SPEC["definitions"]
MODELS_PACKAGE = "py_sp_api.generated.messaging.models"


def pascal(prop: str) -> str:
    prop = prop.lstrip("_")
    return prop[:1].upper() + prop[1:]


def module_name(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def python_name(wire: str) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", wire.lstrip("_")).lower()
    return {"self": "var_self", "schema": "var_schema"}.get(snake, snake)


def is_object_with_properties(schema: Dict[str, Any]) -> bool:
    return (
        "$ref" not in schema
        and schema.get("type", "object") == "object"
        and bool(schema.get("properties"))
    )


def _spec_models() -> Dict[str, Dict[str, Any]]:
    """Every definition with properties plus every inline object with properties."""
    found: Dict[str, Dict[str, Any]] = {}

    def visit(name: str, schema: Dict[str, Any]) -> None:
        found[name] = schema
        for prop_name, prop in schema["properties"].items():
            target = prop.get("items", {}) if prop.get("type") == "array" else prop
            if is_object_with_properties(target):
                visit(name + pascal(prop_name), target)

    for name, schema in DEFS.items():
        if is_object_with_properties(schema):
            visit(name, schema)
    return found


SPEC_MODELS = _spec_models()
MODEL_NAMES: List[str] = sorted(SPEC_MODELS)


def model_class(name: str) -> Any:
    """The generated class for a spec model, from its own module."""
    return getattr(importlib.import_module(f"{MODELS_PACKAGE}.{module_name(name)}"), name)


def ref_name(prop: Dict[str, Any]) -> str:
    ref: str = prop["$ref"]
    return ref.rsplit("/", 1)[1]


def _minimal_value(owner: str, prop_name: str, prop: Dict[str, Any]) -> Any:
    if "$ref" in prop:
        ref = ref_name(prop)
        if ref in SPEC_MODELS:
            return minimal_wire(ref)
        return _minimal_value(owner, prop_name, DEFS[ref])
    kind = prop.get("type", "object")
    if kind == "array":
        count = prop.get("minItems", prop.get("minLength", 0))
        return [_minimal_value(owner, prop_name, prop["items"]) for _ in range(count)]
    if kind == "object":
        if prop.get("properties"):
            return minimal_wire(owner + pascal(prop_name))
        return {}
    if prop.get("format") == "date-time":
        return "2024-05-01T10:00:00Z"
    assert kind == "string", f"spec uses a type this test does not know: {kind}"
    return "x" * max(1, prop.get("minLength", 1))


def minimal_wire(name: str) -> Dict[str, Any]:
    """The smallest valid wire-form dict for a model: its required properties only."""
    schema = SPEC_MODELS[name]
    props = schema["properties"]
    return {p: _minimal_value(name, p, props[p]) for p in schema.get("required", [])}
