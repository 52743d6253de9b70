"""``date-time`` fields (CreateWarrantyRequest.coverageStartDate / coverageEndDate)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from py_sp_api.generated.messaging.models import CreateWarrantyRequest

UTC = timezone.utc
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")
FIELDS = [("coverage_start_date", "coverageStartDate"), ("coverage_end_date", "coverageEndDate")]


def _tz(hours: int, minutes: int = 0) -> timezone:
    sign = -1 if hours < 0 else 1
    return timezone(sign * timedelta(hours=abs(hours), minutes=minutes))


# (wire string, the same instant in UTC, the offset the string carries)
PARSES = [
    ("2004-12-13T21:39:45+05:30", datetime(2004, 12, 13, 16, 9, 45, tzinfo=UTC), _tz(5, 30)),
    ("2004-12-13T21:39:45Z", datetime(2004, 12, 13, 21, 39, 45, tzinfo=UTC), _tz(0)),
    ("2004-12-13T21:39:45+00:00", datetime(2004, 12, 13, 21, 39, 45, tzinfo=UTC), _tz(0)),
    ("2004-12-13T21:39:45-08:00", datetime(2004, 12, 14, 5, 39, 45, tzinfo=UTC), _tz(-8)),
    (
        "2004-12-13T21:39:45.250Z",
        datetime(2004, 12, 13, 21, 39, 45, 250000, tzinfo=UTC),
        _tz(0),
    ),
    (
        "2004-12-13T21:39:45.123456-03:30",
        datetime(2004, 12, 14, 1, 9, 45, 123456, tzinfo=UTC),
        _tz(-3, 30),
    ),
    ("20041213T213945Z", datetime(2004, 12, 13, 21, 39, 45, tzinfo=UTC), _tz(0)),
    ("20041213T213945+0100", datetime(2004, 12, 13, 20, 39, 45, tzinfo=UTC), _tz(1)),
    ("2024-02-29T00:00:00+14:00", datetime(2024, 2, 28, 10, 0, 0, tzinfo=UTC), _tz(14)),
]

REJECTED = [
    "2004-12-13T21:39:45",  # no offset
    "20041213T213945",  # basic format, no offset
    "2004-12-13T21:39:45.5",  # fractional, no offset
    "2004-12-13",  # a date is not a date-time with an offset
    "not a date",
    "",
    "2004-13-13T21:39:45Z",  # month 13
    "2023-02-29T10:00:00Z",  # not a leap year
]


@pytest.mark.parametrize(("field", "wire"), FIELDS)
@pytest.mark.parametrize(("text", "instant", "offset"), PARSES)
def test_iso_8601_strings_parse_to_aware_datetimes(
    field: str, wire: str, text: str, instant: datetime, offset: timezone
) -> None:
    model = CreateWarrantyRequest.from_dict({wire: text})
    value = getattr(model, field)
    assert isinstance(value, datetime)
    assert value.tzinfo is not None
    assert value.utcoffset() == offset.utcoffset(None)
    assert value == instant
    assert value.astimezone(UTC).replace(tzinfo=None) == instant.replace(tzinfo=None)
    # Same result through JSON and through the python field name.
    assert getattr(CreateWarrantyRequest.from_json(json.dumps({wire: text})), field) == instant
    assert getattr(CreateWarrantyRequest(**{field: text}), field) == instant


@pytest.mark.parametrize(("field", "wire"), FIELDS)
@pytest.mark.parametrize("text", REJECTED)
def test_strings_without_offset_or_invalid_are_rejected(field: str, wire: str, text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        CreateWarrantyRequest.from_dict({wire: text})
    assert [tuple(e["loc"]) for e in exc.value.errors()] == [(wire,)]
    with pytest.raises(ValidationError):
        CreateWarrantyRequest.from_json(json.dumps({wire: text}))


@pytest.mark.parametrize(("field", "wire"), FIELDS)
def test_naive_datetime_is_rejected(field: str, wire: str) -> None:
    naive = datetime(2024, 5, 1, 10, 0, 0)
    with pytest.raises(ValidationError):
        CreateWarrantyRequest(**{field: naive})
    with pytest.raises(ValidationError):
        CreateWarrantyRequest.from_dict({wire: naive})


@pytest.mark.parametrize(("field", "wire"), FIELDS)
def test_naive_datetime_is_rejected_on_assignment(field: str, wire: str) -> None:
    aware = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    model = CreateWarrantyRequest(**{field: aware})
    with pytest.raises(ValidationError):
        setattr(model, field, datetime(2025, 1, 1))
    with pytest.raises(ValidationError):
        setattr(model, field, "2025-01-01T00:00:00")
    assert getattr(model, field) == aware
    setattr(model, field, "2025-01-01T00:00:00-05:00")
    assert getattr(model, field) == datetime(2025, 1, 1, 5, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", [3.5j, [], {}, object(), "2024-05-01T10:00:00Zulu"])
def test_non_datetime_values_are_rejected(bad: Any) -> None:
    good = "2024-05-01T10:00:00Z"
    assert CreateWarrantyRequest.from_dict({"coverageStartDate": good}).coverage_start_date
    with pytest.raises(ValidationError) as exc:
        CreateWarrantyRequest.from_dict({"coverageStartDate": good, "coverageEndDate": bad})
    assert [tuple(e["loc"]) for e in exc.value.errors()] == [("coverageEndDate",)]


def _parse_emitted(text: str) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise AssertionError(f"not ISO 8601 with an offset: {text!r}")


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 10, 0, 0, tzinfo=_tz(5, 30)),
        datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=_tz(-7)),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=_tz(-12)),
    ],
)
def test_to_json_emits_iso_8601_with_the_offset(value: datetime) -> None:
    model = CreateWarrantyRequest(coverage_start_date=value, coverage_end_date=value)
    emitted = json.loads(model.to_json())
    assert set(emitted) == {"coverageStartDate", "coverageEndDate"}
    for text in emitted.values():
        assert ISO_WITH_OFFSET.match(text), text
        parsed = _parse_emitted(text)
        assert parsed == value
        assert parsed.utcoffset() == value.utcoffset()
    assert json.loads(model.to_str()) == emitted
    # to_dict keeps python objects: the datetime itself.
    assert model.to_dict() == {"coverageStartDate": value, "coverageEndDate": value}


@pytest.mark.parametrize(("text", "instant", "offset"), PARSES)
def test_round_trips_preserve_the_instant(text: str, instant: datetime, offset: timezone) -> None:
    model = CreateWarrantyRequest.from_dict({"coverageStartDate": text})
    again = CreateWarrantyRequest.from_json(model.to_json())
    assert again == model
    assert again.coverage_start_date == instant
    assert again.coverage_start_date.utcoffset() == offset.utcoffset(None)
    via_dict = CreateWarrantyRequest.from_dict(model.to_dict())
    assert via_dict.coverage_start_date == instant
    assert via_dict.coverage_end_date is None
    assert "coverageEndDate" not in json.loads(model.to_json())


def test_a_whole_warranty_request_round_trips() -> None:
    wire = {
        "attachments": [{"uploadDestinationId": "u", "fileName": "warranty.pdf"}],
        "coverageStartDate": "2024-05-01T00:00:00+02:00",
        "coverageEndDate": "2026-04-30T23:59:59.500Z",
    }
    model = CreateWarrantyRequest.from_dict(wire)
    emitted = json.loads(model.to_json())
    assert emitted["attachments"] == wire["attachments"]
    assert _parse_emitted(emitted["coverageStartDate"]) == datetime(2024, 4, 30, 22, tzinfo=UTC)
    assert _parse_emitted(emitted["coverageEndDate"]) == datetime(
        2026, 4, 30, 23, 59, 59, 500000, tzinfo=UTC
    )
    assert CreateWarrantyRequest.from_json(model.to_json()) == model


def test_offset_with_seconds_is_either_refused_or_sent_as_valid_iso_8601() -> None:
    # Python allows sub-minute offsets (zoneinfo gives them for historic local mean time, e.g.
    # Asia/Kolkata before 1870 is +05:53:28). ISO 8601 offsets have no seconds field, so the
    # model must either refuse such a value or emit something it can read back.
    odd = timezone(timedelta(hours=5, minutes=53, seconds=28))
    value = datetime(2024, 5, 1, 10, 0, 0, tzinfo=odd)
    try:
        model = CreateWarrantyRequest(coverage_start_date=value)
    except ValidationError:
        return
    text = json.loads(model.to_json())["coverageStartDate"]
    assert ISO_WITH_OFFSET.match(text), text
    assert CreateWarrantyRequest.from_json(model.to_json()).coverage_start_date == value
