"""A small validator for the Swagger 2.0 schemas in Amazon's models (stdlib only).

It checks what the Messaging model uses: ``$ref``, ``type``, ``required``, ``properties``,
``items``, string ``minLength``/``maxLength``, array ``minItems``/``maxItems`` (and the
``minLength``/``maxLength`` Amazon writes on arrays, read as item counts) and ``date-time``.
Each problem is reported with a JSON path, the way Amazon's errors name the offending field.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Dict, List

_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def validate(schema: Dict[str, Any], value: Any, definitions: Dict[str, Any]) -> List[str]:
    """Every way ``value`` breaks ``schema``; an empty list when it conforms."""
    problems: List[str] = []
    _check(schema, value, definitions, "body", problems)
    return problems


def _check(
    schema: Dict[str, Any], value: Any, defs: Dict[str, Any], where: str, out: List[str]
) -> None:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    kind = schema.get("type")
    if kind is not None and not _is_type(value, kind):
        out.append(f"{where} must be of type {kind}")
        return
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}.{name} is required")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _check(sub, value[name], defs, f"{where}.{name}", out)
    elif isinstance(value, list):
        low = schema.get("minItems", schema.get("minLength"))
        high = schema.get("maxItems", schema.get("maxLength"))
        if low is not None and len(value) < low:
            out.append(f"{where} must have at least {low} item(s)")
        if high is not None and len(value) > high:
            out.append(f"{where} must have at most {high} item(s)")
        for i, item in enumerate(value):
            _check(schema.get("items", {}), item, defs, f"{where}[{i}]", out)
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(f"{where} must be at least {schema['minLength']} character(s) long")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{where} must be at most {schema['maxLength']} characters long")
        if schema.get("format") == "date-time" and not _is_date_time(value):
            out.append(f"{where} must be an ISO 8601 date-time with an offset")


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _JSON_TYPES.get(kind)
    return expected is None or isinstance(value, expected)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](\d{2}):(\d{2}))"
)


def _is_date_time(text: str) -> bool:
    """RFC 3339 (ISO 8601 with an offset), checked the same way on every Python version."""
    found = _RFC3339.fullmatch(text)
    if found is None:
        return False
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    try:
        datetime(year, month, day, hour, minute, min(second, 59))  # 60: a leap second
    except ValueError:
        return False
    offset_hours, offset_minutes = found.group(7), found.group(8)
    return offset_hours is None or (int(offset_hours) < 24 and int(offset_minutes) < 60)
