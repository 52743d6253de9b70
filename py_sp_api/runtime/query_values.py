"""Query values that are not text: integers, numbers, booleans, date-times and dates.

Each encoder checks one value (or one array item) of its kind and returns it as Amazon reads it
on the wire, already percent-encoded; a wrong type is an :class:`ApiTypeError`, a wrong value an
:class:`ApiValueError`, before anything is sent.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Dict

from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError
from py_sp_api.runtime.operation import _quote

if TYPE_CHECKING:
    from py_sp_api.runtime.operation import QueryParam


def _integer_item(param: QueryParam, value: Any) -> str:
    if type(value) is bool or not isinstance(value, int):
        raise ApiTypeError(f"{param.python_name} must be an int, got {type(value).__name__}")
    return str(int(value))


def _number_item(param: QueryParam, value: Any) -> str:
    if type(value) is bool or not isinstance(value, (int, float)):
        raise ApiTypeError(f"{param.python_name} must be a number, got {type(value).__name__}")
    if isinstance(value, int):
        return str(int(value))
    if not math.isfinite(value):
        raise ApiValueError(f"{param.python_name} must be a finite number, got {value!r}")
    text = repr(float(value))
    # Python writes 1e22 as "1e+22", and a "+" in a query string reads as a space: send the
    # plain decimal form of the same (shortest round-tripping) digits, which every parser reads.
    return text if "e" not in text else format(Decimal(text), "f")


def _boolean_item(param: QueryParam, value: Any) -> str:
    if type(value) is not bool:
        raise ApiTypeError(f"{param.python_name} must be a bool, got {type(value).__name__}")
    return "true" if value else "false"  # what Amazon's services parse; not "True"


def _date_time_item(param: QueryParam, value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ApiValueError(
                f"{param.python_name} must be timezone-aware (e.g. tzinfo=timezone.utc): a "
                "naive datetime could be any time of that day; nothing was sent"
            )
        utc = value.astimezone(timezone.utc).replace(tzinfo=None)
        return utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds") + "Z"
    return _iso_string(param, value, "an ISO 8601 date-time, e.g. '2024-05-01T10:00:00Z'")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}").fullmatch


def _date_item(param: QueryParam, value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        raise ApiTypeError(
            f"{param.python_name} must be a date or an ISO 8601 date, e.g. '2024-05-01', "
            f"got {type(value).__name__}"
        )
    # Only YYYY-MM-DD: a date-time or the basic form (20240501) is not what Amazon reads here.
    try:
        if not _ISO_DATE(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ApiValueError(
            f"{param.python_name}: {value!r} is not an ISO 8601 date, e.g. '2024-05-01'; "
            "nothing was sent"
        ) from None
    return value


def _iso_string(param: QueryParam, value: Any, expected: str) -> str:
    if not isinstance(value, str):
        raise ApiTypeError(f"{param.python_name} must be {expected}, got {type(value).__name__}")
    # Imported here: most programs never pass a date as text, and dateutil's parser is large.
    from dateutil.parser import isoparse

    try:
        isoparse(value)
    except (ValueError, OverflowError):
        raise ApiValueError(
            f"{param.python_name}: {value!r} is not {expected}; nothing was sent"
        ) from None
    return _quote(value)


ENCODERS: Dict[str, Callable[[QueryParam, Any], str]] = {
    "integer": _integer_item,
    "number": _number_item,
    "boolean": _boolean_item,
    "date-time": _date_time_item,
    "date": _date_item,
}


__all__ = [
    "ENCODERS",
]
