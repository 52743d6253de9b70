"""The result of a ``*_with_http_info`` call: the parsed model plus what came with it."""

from __future__ import annotations

from typing import Any, Generic, Mapping, Optional, TypeVar

from py_sp_api.runtime.headers import RATE_LIMIT_HEADER, REQUEST_ID_HEADER

T = TypeVar("T")


class ApiResponse(Generic[T]):
    """An HTTP response with its body parsed into the operation's model.

    Attributes:
        status_code: the HTTP status.
        headers: the response headers (case-insensitive).
        data: the parsed response model.
        raw_data: the body exactly as received.
    """

    __slots__ = ("data", "headers", "raw_data", "status_code")

    def __init__(
        self, *, status_code: int, headers: Mapping[str, str], data: T, raw_data: bytes
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.data = data
        self.raw_data = raw_data

    @property
    def request_id(self) -> Optional[str]:
        """Amazon's ``x-amzn-RequestId`` for this call."""
        return self.headers.get(REQUEST_ID_HEADER)

    @property
    def rate_limit(self) -> Optional[str]:
        """The ``x-amzn-RateLimit-Limit`` header as sent (requests per second), if any."""
        return self.headers.get(RATE_LIMIT_HEADER)

    def _repr_html_(self) -> str:
        """Jupyter's rendering: status, request id, stated rate limit and the parsed data."""
        import html

        data_html = getattr(self.data, "_repr_html_", None)
        body = data_html() if callable(data_html) else f"<pre>{html.escape(repr(self.data))}</pre>"
        return (
            f"<div><strong>HTTP {self.status_code}</strong> "
            f"request id <code>{html.escape(self.request_id or '-')}</code>, "
            f"{RATE_LIMIT_HEADER} <code>{html.escape(self.rate_limit or '-')}</code>"
            f"{body}</div>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"ApiResponse(status_code={self.status_code}, request_id={self.request_id!r})")
        if not cycle:
            printer.break_()
            printer.pretty(self.data)

    def __repr__(self) -> str:
        return (
            f"ApiResponse(status_code={self.status_code}, request_id={self.request_id!r}, "
            f"data={self.data!r})"
        )


__all__ = [
    "ApiResponse",
]
