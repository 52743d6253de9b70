"""Per-operation metadata and request building.

A generated API module declares one :class:`Operation` per spec operation; the runtime turns an
operation plus the caller's arguments into bytes on the wire. Validation happens here, before
anything is sent, so that bad input never reaches Amazon (or a buyer).
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Generic,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    cast,
)
from urllib.parse import quote

from pydantic_core import ValidationError

from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError

if TYPE_CHECKING:
    # Not at run time: importing an API class must not build any pydantic model yet.
    from pydantic import BaseModel

    from py_sp_api.runtime.header_params import HeaderParam
    from py_sp_api.runtime.model import SpApiModel

# A model (a RootModel for an answer that is a list, say), or None for an answer without a
# body (Operation[None]).
ResponseT = TypeVar("ResponseT", bound="Optional[BaseModel]")


@dataclass(frozen=True)
class RateLimit:
    """An operation's usage plan: a token bucket of ``burst`` tokens refilled at ``rate``/s.

    ``documented`` is ``False`` when Amazon's spec gives no usage-plan table for the operation
    and the value is the API's default rather than Amazon's word.
    """

    rate: float
    burst: int
    documented: bool = True

    def __post_init__(self) -> None:
        rate_ok = isinstance(self.rate, (int, float)) and 0 < self.rate < float("inf")
        if not rate_ok or isinstance(self.rate, bool):
            raise ApiValueError(
                f"a rate must be a positive number of requests/second: {self.rate!r}"
            )
        if not isinstance(self.burst, int) or isinstance(self.burst, bool) or self.burst < 1:
            raise ApiValueError(f"a burst must be a whole number of at least 1: {self.burst!r}")


@dataclass(frozen=True)
class Removal:
    """Amazon removed the operation from its current model; the method stays for old code.

    ``removed_on`` is the date (ISO 8601) of the model change, ``model_commit`` the commit in
    amzn/selling-partner-api-models that removed it. Amazon may refuse such a call at any time.
    """

    removed_on: str
    model_commit: str


@dataclass(frozen=True)
class PathParam:
    """A path parameter; a ``greedy`` one is a path of its own (Uploads' ``{resource}``),
    sent with its ``/`` as they are and each segment percent-encoded."""

    name: str
    python_name: str
    greedy: bool = False


@dataclass(frozen=True)
class QueryParam:
    """A query parameter.

    ``kind`` is the spec's type of the value (or of each item of an array): ``"string"``,
    ``"integer"``, ``"number"``, ``"boolean"``, ``"date-time"`` or ``"date"``. Arrays go on the
    wire as one comma-separated value, or with ``collection="multi"`` as the parameter repeated
    once per item.
    """

    name: str
    python_name: str
    required: bool = True
    is_array: bool = False
    min_items: int = 0
    max_items: Optional[int] = None
    kind: str = "string"
    collection: str = "csv"
    # Whether a one-item list is always acceptable, so the common call can skip the checks.
    one_item_ok: bool = field(init=False, repr=False, compare=False)
    # Matches a value that needs no further check or encoding (the common call's fast path).
    plain: Callable[[str], Any] = field(init=False, repr=False, compare=False)
    # Checks and encodes one value (or one item) of ``kind``; chosen once, here.
    encode_item: Callable[[QueryParam, Any], str] = field(init=False, repr=False, compare=False)
    # What joins the items of an array: "," or, for "multi", "&name=".
    item_separator: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        encoder = _string_item if self.kind == "string" else _typed_encoder(self.kind, self.name)
        if self.collection not in ("csv", "multi"):
            raise ApiValueError(f"{self.name}: unknown collection format {self.collection!r}")
        one_ok = (
            self.is_array
            and self.kind == "string"
            and self.min_items <= 1
            and (self.max_items is None or self.max_items >= 1)
        )
        object.__setattr__(self, "one_item_ok", one_ok)
        form = _VALUE_FORMS.get(self.name)
        object.__setattr__(self, "plain", form[0] if form else _is_unreserved)
        object.__setattr__(self, "encode_item", encoder)
        separator = "&" + _quote(self.name) + "=" if self.collection == "multi" else ","
        object.__setattr__(self, "item_separator", separator)


PreparedRequest = Tuple[str, str, Optional[bytes], Optional[str]]
"""What will be sent, as ``(method, path with query, body, content type)``.

A plain tuple: it is built on every call, and a named tuple costs several times more.
"""


class ModelRef:
    """A model class named by module and class, imported the first time it is needed.

    Importing an API class then loads no model; a program that calls one operation loads the
    handful of models that operation uses, not all of them.
    """

    __slots__ = ("_model", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._model: Optional[Type[SpApiModel]] = None

    def get(self) -> Type[SpApiModel]:
        model = self._model
        if model is None:
            model = self._model = getattr(importlib.import_module(self.module), self.name)
        return model

    def __repr__(self) -> str:
        return f"ModelRef({self.module!r}, {self.name!r})"


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
    response: Optional[ModelRef]
    """The model of a successful answer; ``None`` when the spec declares no body for it."""
    rate_limit: RateLimit
    body: Optional[ModelRef] = None
    body_required: bool = False
    error: Optional[ModelRef] = None
    success_status: int = 200
    removed: Optional[Removal] = None
    """Set when Amazon removed this operation from its current model (see :class:`Removal`)."""
    api: str = ""
    """The API (and version) the operation belongs to, e.g. ``"messaging"``: operation ids
    repeat across Amazon's APIs (``getOrder`` is in five), and usage plans are per API."""
    header_params: Tuple[HeaderParam, ...] = ()
    """Passed after the path and query parameters, in this order (see
    :mod:`py_sp_api.runtime.header_params`)."""
    bodiless_statuses: Tuple[int, ...] = ()
    """Success statuses that carry no body (a 204): the call returns ``None`` for them."""
    journaled: bool = True
    """Whether a configured send journal claims the call (when it is not a read). ``False``
    for APIs generated with ``--spec``: the journal keys a message by order and operation,
    and a report, a feed or a listing has no order, so their calls would all be one key."""
    _path_parts: Tuple[str, ...] = field(init=False, repr=False, compare=False)
    path_pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    """Matches this operation's concrete paths; one group per path parameter, still encoded."""
    bucket_name: str = field(init=False, repr=False, compare=False)
    """``api|operationId``: names the operation's rate-limit bucket, unique across APIs."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket_name", f"{self.api}|{self.operation_id}")
        # Split "/a/{x}/b" into ("/a/", "/b") once, so a call only joins strings.
        parts = []
        rest = self.path
        for param in self.path_params:
            before, _, rest = rest.partition("{" + param.name + "}")
            parts.append(before)
        parts.append(rest)
        object.__setattr__(self, "_path_parts", tuple(parts))
        groups = ["(.+)" if param.greedy else "([^/]+)" for param in self.path_params]
        regex = re.escape(parts[0]) + "".join(
            group + re.escape(part) for group, part in zip(groups, parts[1:])
        )
        object.__setattr__(self, "path_pattern", re.compile(regex))

    @property
    def response_model(self) -> Type[ResponseT]:
        """The model a successful answer is parsed into (:class:`ApiValueError` if none)."""
        if self.response is None:
            raise ApiValueError(f"{self.operation_id} declares no response body")
        return cast(Type[ResponseT], self.response.get())

    @property
    def body_model(self) -> Optional[Type[SpApiModel]]:
        """The request body's model, or None for operations without a body."""
        return None if self.body is None else self.body.get()

    @property
    def error_model(self) -> Optional[Type[SpApiModel]]:
        """The model of each entry of an error answer's ``errors`` list."""
        return None if self.error is None else self.error.get()

    @property
    def is_idempotent(self) -> bool:
        """``True`` for reads, which may be resent safely after an unknown outcome."""
        return self.method in ("GET", "HEAD")

    def subject(self, args: Sequence[Any]) -> Tuple[str, str]:
        """``(marketplace id, order id)`` of a call: what a send journal keys a message by.

        The order is the first path parameter; the marketplace the first value of the
        ``marketplaceIds`` (or ``marketplaceId``) query parameter. Either is ``""`` if absent.
        """
        order = str(args[0]) if self.path_params else ""
        marketplace = ""
        for index, param in enumerate(self.query_params, start=len(self.path_params)):
            if param.name in ("marketplaceIds", "marketplaceId"):
                value = args[index]
                first = value[0] if isinstance(value, (list, tuple)) and value else value
                marketplace = first if isinstance(first, str) else ""
                break
        return marketplace, order

    def prepare(self, args: Sequence[Any], body: Any = None) -> PreparedRequest:
        """Validate the caller's arguments and build the request; raises before any I/O."""
        if self.removed is not None:
            _warn_removed_once(self)
        parts = self._path_parts
        path = parts[0]
        i = 0
        for param in self.path_params:
            value = args[i]
            i += 1
            # Fast path for the usual id (an order id): nothing to check or encode further.
            if type(value) is not str or not _is_unreserved(value):
                value = _encode_path_segment(param, value)
            path += value + parts[i]
        separator = "?"
        for query_param in self.query_params:
            value = args[i]
            i += 1
            if (
                type(value) is list
                and len(value) == 1
                and type(value[0]) is str
                and query_param.plain(value[0])
                and query_param.one_item_ok
            ):
                encoded: Optional[str] = value[0]  # one plain id, e.g. ["ATVPDKIKX0DER"]
            else:
                encoded = _encode_query_value(query_param, value)
            if encoded is not None:
                path += separator + query_param.name + "=" + encoded
                separator = "&"
        if self.body is None:
            return (self.method, path, None, None)
        payload = _encode_body(self.body.get(), body, self.body_required)
        content_type = "application/json" if payload is not None else None
        return (self.method, path, payload, content_type)


# Operations already warned about. No lock: dict.setdefault is atomic, and a lock here could be
# held by another thread at a fork and never released in the child.
_warned_removed: Dict[str, object] = {}


def _warn_removed_once(operation: Operation[Any]) -> None:
    # Keyed by method and path: operation ids repeat across Amazon's APIs.
    key = f"{operation.method} {operation.path}"
    removal = operation.removed
    assert removal is not None
    first = object()
    if _warned_removed.setdefault(key, first) is not first:
        return
    warnings.warn(
        f"{operation.name}: Amazon removed {operation.operation_id} from its API model on "
        f"{removal.removed_on} (model commit {removal.model_commit}) and may refuse the call; "
        "the method is kept so that existing code still runs.",
        DeprecationWarning,
        # The user's call -> generated method -> ApiClient.call -> prepare -> here.
        stacklevel=5,
    )


# Ids made only of these characters need no percent-encoding; checking is cheaper than quoting.
_is_unreserved = re.compile(r"[A-Za-z0-9_~-]+").fullmatch

# Parameters whose values have a known form across every SP-API, by wire name. A value that
# cannot be one (" ATVPDKIKX0DER", "atvpdkikx0der", "ATVPDKIKX0DER&x=1") is a bug in the
# caller's code; a well-formed id this client does not know still passes: Amazon adds
# marketplaces.
_MARKETPLACE_ID = re.compile(r"[A-Z0-9]{8,20}").fullmatch
_VALUE_FORMS: Dict[str, Tuple[Callable[[str], Any], str]] = {
    "marketplaceIds": (_MARKETPLACE_ID, "upper-case letters and digits, e.g. 'ATVPDKIKX0DER'"),
    "marketplaceId": (_MARKETPLACE_ID, "upper-case letters and digits, e.g. 'ATVPDKIKX0DER'"),
}
# Whitespace at either end, or any control character: never part of an id.
_has_stray_characters = re.compile(r"^\s|\s$|[\x00-\x1f\x7f-\x9f]").search


def _quote(value: str) -> str:
    return value if _is_unreserved(value) else quote(value, safe="")


def _encode_path_segment(param: PathParam, value: Any) -> str:
    if not isinstance(value, str):
        raise ApiTypeError(f"{param.python_name} must be a str, got {type(value).__name__}")
    if _is_unreserved(value):
        return value
    if not value.strip():
        raise ApiValueError(f"{param.python_name} must not be empty")
    if _has_stray_characters(value):
        raise ApiValueError(
            f"{param.python_name} {value!r} has whitespace at an end or a control character; "
            "nothing was sent"
        )
    if param.greedy:
        return _encode_greedy_path(param, value)
    if value in (".", ".."):
        # Percent-encode dot segments too, or URL normalisation would climb the path.
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _encode_greedy_path(param: PathParam, value: str) -> str:
    # Amazon writes such a value with a leading "/" ("/messaging/v1/..."); the path already
    # has one before the parameter.
    segments = value[1:].split("/") if value.startswith("/") else value.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ApiValueError(
            f"{param.python_name} {value!r} has an empty, '.' or '..' segment; nothing was sent"
        )
    return "/".join(quote(segment, safe="") for segment in segments)


def _encode_query_value(param: QueryParam, value: Any) -> Optional[str]:
    if value is None:
        if param.required:
            raise ApiValueError(f"{param.python_name} is required")
        return None
    if not param.is_array:
        if param.kind != "string":
            return param.encode_item(param, value)
        if not isinstance(value, str):
            raise ApiTypeError(f"{param.python_name} must be a str, got {type(value).__name__}")
        if param.required and not value.strip():
            raise ApiValueError(f"{param.python_name} must not be empty")
        _check_form(param, value)
        return _quote(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ApiTypeError(
            f"{param.python_name} must be a list (e.g. ['ATVPDKIKX0DER']), "
            f"got {type(value).__name__}"
        )
    encoded = [param.encode_item(param, item) for item in value]
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
    return param.item_separator.join(encoded)


def _typed_encoder(kind: str, name: str) -> Callable[[QueryParam, Any], str]:
    # Imported here: Messaging's parameters are all strings, so its programs never load it.
    from py_sp_api.runtime.query_values import ENCODERS

    encoder = ENCODERS.get(kind)
    if encoder is None:
        raise ApiValueError(f"{name}: unknown query parameter kind {kind!r}")
    return encoder


def _string_item(param: QueryParam, item: Any) -> str:
    if not isinstance(item, str):
        raise ApiTypeError(f"{param.python_name} items must be str, got {type(item).__name__}")
    if not item.strip():
        raise ApiValueError(f"{param.python_name} must not contain an empty value")
    if "," in item and param.collection == "csv":
        # The values travel as one comma-separated string: "A,B" would mean two.
        raise ApiValueError(f"{param.python_name} items must not contain ',': {item!r}")
    _check_form(param, item)
    return _quote(item)


def _check_form(param: QueryParam, value: str) -> None:
    form = _VALUE_FORMS.get(param.name)
    if form is not None and not form[0](value):
        raise ApiValueError(
            f"{param.python_name}: {value!r} cannot be one (expected {form[1]}); nothing was sent"
        )


def _encode_body(model: Type[SpApiModel], body: Any, required: bool) -> Optional[bytes]:
    if body is None:
        if required:
            raise ApiValueError(f"body is required: pass a {model.__name__}")
        return None
    if isinstance(body, dict):
        body = _validated(model, body)
    elif not isinstance(body, model):
        if "root" in model.model_fields:
            # A body that is not an object (an array): a RootModel, built from the plain value.
            body = _validated(model, body)
        else:
            raise ApiTypeError(
                f"body must be a {model.__name__} or a dict, got {type(body).__name__}"
            )
    payload: bytes = body.__pydantic_serializer__.to_json(body, by_alias=True, exclude_none=True)
    # Validate what will be sent: in-place edits (e.g. ``body.attachments.append``) bypass
    # pydantic's assignment validation, and an invalid message must never leave the process.
    try:
        model.__pydantic_validator__.validate_json(payload)
    except ValidationError as exc:
        raise ApiValueError(f"invalid {model.__name__}: {exc}") from exc
    unknown = _unknown_fields(body)
    if unknown:
        # Models keep unknown fields so answers round-trip; in a message they are most likely
        # a typo ("txt" for "text") that would silently drop what the seller meant to say.
        raise ApiValueError(
            f"{model.__name__} has no field(s) {', '.join(unknown)}; nothing was sent"
        )
    return payload


def _unknown_fields(value: Any, where: str = "") -> List[str]:
    """Dotted names of the fields, at any depth, that the models do not declare."""
    found = [f"{where}{name!r}" for name in (getattr(value, "__pydantic_extra__", None) or {})]
    for name in getattr(type(value), "model_fields", {}):
        found += _unknown_fields_in(getattr(value, name), f"{where}{name}")
    return found


def _unknown_fields_in(child: Any, where: str) -> List[str]:
    # Models sit in fields, in lists (of lists) and in maps (additionalProperties).
    if hasattr(child, "__pydantic_extra__"):
        return _unknown_fields(child, f"{where}.")
    if isinstance(child, list):
        items: Any = enumerate(child)
    elif isinstance(child, dict):
        items = ((repr(key), item) for key, item in child.items())
    else:
        return []
    found: List[str] = []
    for key, item in items:
        found += _unknown_fields_in(item, f"{where}[{key}]")
    return found


def _validated(model: Type[SpApiModel], data: Any) -> SpApiModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiValueError(f"invalid {model.__name__}: {exc}") from exc


__all__ = [
    "ModelRef",
    "Operation",
    "PathParam",
    "PreparedRequest",
    "QueryParam",
    "RateLimit",
    "Removal",
]
