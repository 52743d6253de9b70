"""Request headers: checked when they are set, and merged without regard to case.

http.client sends what it is given with little checking: a NUL or an escape character goes out,
a name with a space goes out, and what it does refuse fails with a ``ValueError`` or a
``UnicodeEncodeError`` that quotes the value, which may be a token. Every header therefore
passes :func:`check_header` first, which names only the header.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Mapping, Tuple, Union

__all__ = [
    "ACCEPT_HEADER",
    "ACCESS_TOKEN_HEADER",
    "CONTENT_ENCODING_HEADER",
    "CONTENT_TYPE_HEADER",
    "RATE_LIMIT_HEADER",
    "REQUEST_ID_HEADER",
    "RETRY_AFTER_HEADER",
    "USER_AGENT_HEADER",
    "DefaultHeaders",
    "HeaderItems",
    "check_header",
    "merge_call_headers",
]

# Every header name the runtime reads or sets, spelled as it is sent.
ACCEPT_HEADER = "Accept"
ACCESS_TOKEN_HEADER = "x-amz-access-token"  # noqa: S105 - a header name
CONTENT_ENCODING_HEADER = "Content-Encoding"
CONTENT_TYPE_HEADER = "Content-Type"
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
"""The rate (requests per second) Amazon states for the operation's usage plan."""
REQUEST_ID_HEADER = "x-amzn-RequestId"
"""Amazon's id for one request: what its support asks for."""
RETRY_AFTER_HEADER = "Retry-After"
USER_AGENT_HEADER = "User-Agent"

# RFC 9110: a field name is a token; a field value is tab, visible ASCII, space and obs-text
# (0x80-0xFF, which http.client sends as Latin-1). No CR, LF, NUL or other control character.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_SHOWN_NAME_LENGTH = 40

# The spelling the client itself uses for the headers it sets, so that setting one of them in
# another capitalisation replaces the client's entry instead of sending the header twice.
_SPELLING = {
    name.lower(): name
    for name in (ACCEPT_HEADER, CONTENT_TYPE_HEADER, USER_AGENT_HEADER, ACCESS_TOKEN_HEADER)
}

HeaderItems = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


def check_header(name: Any, value: Any) -> None:
    """Raise :class:`ApiValueError`/:class:`ApiTypeError` unless HTTP can carry this header.

    The message names the header and never shows its value.
    """
    if not isinstance(name, str):
        raise _type_error(f"a header name must be a str, got {type(name).__name__}")
    if not _FIELD_NAME.fullmatch(name):
        raise _value_error(
            f"{_shown(name)} is not a valid header name: HTTP allows letters, digits and "
            "!#$%&'*+-.^_`|~ only"
        )
    if not isinstance(value, str):
        raise _type_error(f"header {name!r} must be a str, got {type(value).__name__}")
    if not _FIELD_VALUE.fullmatch(value):
        raise _value_error(
            f"header {name!r} has a value HTTP cannot carry: a line break, a control "
            "character or a character outside Latin-1 (the value is not shown)"
        )


# The errors are imported only to be raised: exceptions.py reads its header names from this
# module, so this one imports nothing of the runtime when it loads.
def _value_error(message: str) -> Exception:
    from py_sp_api.runtime.exceptions import ApiValueError

    return ApiValueError(message)


def _type_error(message: str) -> Exception:
    from py_sp_api.runtime.exceptions import ApiTypeError

    return ApiTypeError(message)


def _shown(name: str) -> str:
    # A caller who swapped name and value would otherwise see the value (a token) here.
    if len(name) <= _SHOWN_NAME_LENGTH:
        return f"header name {name!r}"
    return f"a header name of {len(name)} characters"


class DefaultHeaders(Dict[str, str]):
    """The headers an :class:`ApiClient` sends with every request.

    Every header is checked when it is set, so sending costs no check; a name given in another
    capitalisation replaces the existing header. Still a ``dict``, so copying it per request
    stays a C-level copy.
    """

    def __init__(self, headers: HeaderItems = ()) -> None:
        super().__init__()
        self.update(headers)

    def __setitem__(self, name: str, value: str) -> None:
        check_header(name, value)
        key = _SPELLING.get(name.lower(), name)
        self._discard(key)
        super().__setitem__(key, value)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(self._existing(name))

    def update(self, *args: HeaderItems, **kwargs: str) -> None:  # type: ignore[override]
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name: str, value: str) -> str:
        existing = self._find(name)
        if existing is not None:
            return self[existing]
        self[name] = value
        return value

    def __ior__(self, other: HeaderItems) -> DefaultHeaders:  # type: ignore[override,misc]
        self.update(other)
        return self

    def copy(self) -> Dict[str, str]:
        """A plain ``dict`` copy."""
        return dict(self)

    def _find(self, name: str) -> Union[str, None]:
        lower = name.lower()
        return next((key for key in self if key.lower() == lower), None)

    def _existing(self, name: str) -> str:
        key = self._find(name)
        if key is None:
            raise KeyError(name)
        return key

    def _discard(self, name: str) -> None:
        key = self._find(name)
        if key is not None:
            super().__delitem__(key)


def merge_call_headers(headers: Dict[str, str], extra: Mapping[str, str]) -> bool:
    """Check ``extra`` and put it into ``headers``, replacing same-named headers in any case.

    Returns whether ``extra`` carries an access token (a Restricted Data Token, typically).
    """
    given: Dict[str, Tuple[str, str]] = {}
    for name, value in extra.items():
        check_header(name, value)
        lower = name.lower()
        if lower in given:
            raise _value_error(
                f"header {name!r} is given twice in _headers (header names ignore case)"
            )
        given[lower] = (name, value)
    present = {key.lower(): key for key in headers}
    for lower, (name, value) in given.items():
        replaced = present.get(lower)
        if replaced is not None:
            del headers[replaced]
        headers[name] = value
    return ACCESS_TOKEN_HEADER in given
