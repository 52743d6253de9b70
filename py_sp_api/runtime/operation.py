"""Per-operation metadata and request building.

A generated API module declares one :class:`Operation` per spec operation; the runtime turns an
operation plus the caller's arguments into bytes on the wire. Validation happens here, before
anything is sent, so that bad input never reaches Amazon (or a buyer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Generic, Optional, Sequence, Tuple, Type, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError
from py_sp_api.runtime.model import SpApiModel

ResponseT = TypeVar("ResponseT", bound=SpApiModel)


@dataclass(frozen=True)
class RateLimit:
    """An operation's usage plan: a token bucket of ``burst`` tokens refilled at ``rate``/s.

    ``documented`` is ``False`` when Amazon's spec gives no usage-plan table for the operation
    and the value is the API's default rather than Amazon's word.
    """

    rate: float
    burst: int
    documented: bool = True

    @property
    def min_interval(self) -> float:
        """Seconds between requests once the burst is spent."""
        return 1.0 / self.rate


@dataclass(frozen=True)
class PathParam:
    name: str
    python_name: str


@dataclass(frozen=True)
class QueryParam:
    """A query parameter; arrays go on the wire as one comma-separated value."""

    name: str
    python_name: str
    required: bool = True
    is_array: bool = False
    min_items: int = 0
    max_items: Optional[int] = None


@dataclass(frozen=True)
class PreparedRequest:
    """What will be sent: everything but the host, the timeout and the auth headers."""

    method: str
    path: str
    body: Optional[bytes]
    content_type: Optional[str]


@dataclass(frozen=True)
class Operation(Generic[ResponseT]):
    """One API operation as declared in the spec.

    Parameters are passed to :meth:`prepare` positionally, path parameters first, then query
    parameters, in the order given here (which is the generated method's order).
    """

    name: str
    operation_id: str
    method: str
    path: str
    path_params: Tuple[PathParam, ...]
    query_params: Tuple[QueryParam, ...]
    response_model: Type[ResponseT]
    rate_limit: RateLimit
    body_model: Optional[Type[SpApiModel]] = None
    body_required: bool = False
    error_model: Optional[Type[SpApiModel]] = None
    success_status: int = 200
    _path_parts: Tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Split "/a/{x}/b" into ("/a/", "/b") once, so a call only joins strings.
        parts = []
        rest = self.path
        for param in self.path_params:
            before, _, rest = rest.partition("{" + param.name + "}")
            parts.append(before)
        parts.append(rest)
        object.__setattr__(self, "_path_parts", tuple(parts))

    @property
    def is_idempotent(self) -> bool:
        """``True`` for reads, which may be resent safely after an unknown outcome."""
        return self.method in ("GET", "HEAD")

    def prepare(self, args: Sequence[Any], body: Any = None) -> PreparedRequest:
        """Validate the caller's arguments and build the request; raises before any I/O."""
        n_path = len(self.path_params)
        parts = self._path_parts
        path = parts[0]
        for i, param in enumerate(self.path_params):
            path += _encode_path_segment(param, args[i]) + parts[i + 1]
        query = []
        for query_param, value in zip(self.query_params, args[n_path:]):
            encoded = _encode_query_value(query_param, value)
            if encoded is not None:
                query.append(f"{query_param.name}={encoded}")
        if query:
            path += "?" + "&".join(query)
        if self.body_model is None:
            return PreparedRequest(self.method, path, None, None)
        payload = _encode_body(self.body_model, body, self.body_required)
        content_type = "application/json" if payload is not None else None
        return PreparedRequest(self.method, path, payload, content_type)


# Ids made only of these characters need no percent-encoding; checking is cheaper than quoting.
_UNRESERVED = re.compile(r"[A-Za-z0-9_~-]+")


def _quote(value: str) -> str:
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def _encode_path_segment(param: PathParam, value: Any) -> str:
    if not isinstance(value, str):
        raise ApiTypeError(f"{param.python_name} must be a str, got {type(value).__name__}")
    if _UNRESERVED.fullmatch(value):
        return value
    if not value.strip():
        raise ApiValueError(f"{param.python_name} must not be empty")
    if value in (".", ".."):
        # Percent-encode dot segments too, or URL normalisation would climb the path.
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _encode_query_value(param: QueryParam, value: Any) -> Optional[str]:
    if value is None:
        if param.required:
            raise ApiValueError(f"{param.python_name} is required")
        return None
    if not param.is_array:
        if not isinstance(value, str):
            raise ApiTypeError(f"{param.python_name} must be a str, got {type(value).__name__}")
        return _quote(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ApiTypeError(
            f"{param.python_name} must be a list of str (e.g. ['ATVPDKIKX0DER']), "
            f"got {type(value).__name__}"
        )
    for item in value:
        if not isinstance(item, str):
            raise ApiTypeError(f"{param.python_name} items must be str, got {type(item).__name__}")
        if not item.strip():
            raise ApiValueError(f"{param.python_name} must not contain an empty value")
        if "," in item:
            # The values travel as one comma-separated string: "A,B" would mean two.
            raise ApiValueError(f"{param.python_name} items must not contain ',': {item!r}")
    count = len(value)
    minimum = max(param.min_items, 1 if param.required else 0)
    if count < minimum:
        raise ApiValueError(f"{param.python_name} needs at least {minimum} item(s), got {count}")
    if param.max_items is not None and count > param.max_items:
        raise ApiValueError(
            f"{param.python_name} accepts at most {param.max_items} item(s), got {count}"
        )
    if count == 0:
        return None
    return ",".join([_quote(item) for item in value])


def _encode_body(model: Type[SpApiModel], body: Any, required: bool) -> Optional[bytes]:
    if body is None:
        if required:
            raise ApiValueError(f"body is required: pass a {model.__name__}")
        return None
    if isinstance(body, dict):
        body = _validated(model, body)
    elif not isinstance(body, model):
        raise ApiTypeError(f"body must be a {model.__name__} or a dict, got {type(body).__name__}")
    payload: bytes = body.__pydantic_serializer__.to_json(body, by_alias=True, exclude_none=True)
    # Validate what will be sent: in-place edits (e.g. ``body.attachments.append``) bypass
    # pydantic's assignment validation, and an invalid message must never leave the process.
    try:
        model.__pydantic_validator__.validate_json(payload)
    except ValidationError as exc:
        raise ApiValueError(f"invalid {model.__name__}: {exc}") from exc
    return payload


def _validated(model: Type[SpApiModel], data: Any) -> SpApiModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiValueError(f"invalid {model.__name__}: {exc}") from exc
