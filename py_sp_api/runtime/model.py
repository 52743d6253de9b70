"""Base class for every generated model."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Type, TypeVar, overload

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic_core import ValidationError
from typing_extensions import Annotated

from py_sp_api.runtime.exceptions import ModelValidationError

ModelT = TypeVar("ModelT", bound="SpApiModel")


class SpApiModel(BaseModel):
    """A pydantic model that speaks both snake_case (Python) and the wire's camelCase.

    Unknown fields are kept, so a field Amazon adds later survives a parse and a round trip.
    Assignments are validated, so a too-long text set after construction still fails before
    anything is sent. A refused value raises :class:`ModelValidationError` (an
    ``ApiValueError`` and a pydantic ``ValidationError``) from the constructor, an assignment,
    :meth:`from_dict` and :meth:`from_json`.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        extra="allow",
        validate_assignment=True,
        protected_namespaces=(),
        defer_build=True,
    )

    # Unset fields are left out, but a value that was given (even null, even in a field this
    # client does not know) is kept: nothing Amazon sent is lost in a round trip. A request
    # body on the wire differs on purpose: nulls are dropped there, and unknown fields are
    # refused before sending (see runtime.operation).

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ModelValidationError.of(exc) from None

    # Marks this __init__ as pydantic's own, so parsing a response (validate_json) still builds
    # nested models in Rust instead of calling back into Python for each one.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise ModelValidationError.of(exc) from None

    def to_dict(self) -> Dict[str, Any]:
        """The wire form as Python objects: aliases as keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """The wire form as a JSON string; date-times are ISO 8601."""
        return self.model_dump_json(by_alias=True, exclude_unset=True)

    def to_str(self) -> str:
        """A readable, indented JSON rendering of the wire form."""
        return json.dumps(self.model_dump(by_alias=True, exclude_unset=True, mode="json"), indent=2)

    def _repr_html_(self) -> str:
        """Jupyter's rendering: the class name and the wire form, indented."""
        import html

        return (
            f"<div><strong>{html.escape(type(self).__name__)}</strong>"
            f"<pre>{html.escape(self.to_str())}</pre></div>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's pretty printer: the class name and the indented wire form."""
        printer.text(
            f"{type(self).__name__}(...)" if cycle else f"{type(self).__name__} {self.to_str()}"
        )

    # A dict always gives a model: without these overloads every caller would have to check
    # for None after passing a dict.
    @overload
    @classmethod
    def from_dict(cls: Type[ModelT], obj: Dict[str, Any]) -> ModelT: ...

    @overload
    @classmethod
    def from_dict(cls: Type[ModelT], obj: None) -> None: ...

    @overload
    @classmethod
    def from_dict(cls: Type[ModelT], obj: Optional[Dict[str, Any]]) -> Optional[ModelT]: ...

    @classmethod
    def from_dict(cls: Type[ModelT], obj: Optional[Dict[str, Any]]) -> Optional[ModelT]:
        """Build from a dict keyed by wire names or field names; ``None`` gives ``None``."""
        if obj is None:
            return None
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            raise ModelValidationError.of(exc) from None

    @classmethod
    def from_json(cls: Type[ModelT], json_str: str | bytes) -> ModelT:
        """Parse a JSON document straight into the model."""
        try:
            return cls.model_validate_json(json_str)
        except ValidationError as exc:
            raise ModelValidationError.of(exc) from None


class SpApiRequestModel(SpApiModel):
    """A model that is only ever sent: an unknown field is refused when it is built.

    ``CreateConfirmOrderDetailsRequest(txet="hi")`` is a typo that would silently send an
    empty message; it raises :class:`ModelValidationError` naming the field at once. Models
    that also arrive in answers keep unknown fields (see :class:`SpApiModel`), and every body
    is checked again for unknown fields before it is sent.
    """

    model_config = ConfigDict(extra="forbid")


def _parse_datetime(value: Any) -> Any:
    # pydantic accepts RFC 3339; dateutil also reads the other ISO 8601 forms Amazon has used
    # (basic format, no seconds). A missing offset is refused: guessing a zone for a warranty
    # date sent to a buyer would silently shift it.
    if isinstance(value, str):
        # Imported here: dateutil's parser pulls in decimal, fractions and zoneinfo, and most
        # programs never parse a date-time.
        from dateutil.parser import isoparse

        try:
            value = isoparse(value)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"not an ISO 8601 date-time: {value!r}") from exc
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            raise ValueError("date-time must carry a timezone offset (e.g. 2024-05-01T10:00:00Z)")
        if offset.total_seconds() % 60:
            # ISO 8601 offsets have no seconds (old local mean times do): keep the instant.
            value = value.astimezone(timezone.utc)
    return value


def _format_datetime(value: datetime) -> str:
    # The shortest ISO 8601 form that keeps the value: Amazon's examples use milliseconds.
    if value.microsecond == 0:
        return value.isoformat(timespec="seconds")
    if value.microsecond % 1000 == 0:
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()


AwareDateTime = Annotated[
    datetime,
    BeforeValidator(_parse_datetime),
    PlainSerializer(_format_datetime, return_type=str, when_used="json"),
]
"""A ``date-time`` field: parsed to a timezone-aware ``datetime``, sent as ISO 8601."""


__all__ = [
    "AwareDateTime",
    "SpApiModel",
    "SpApiRequestModel",
]
