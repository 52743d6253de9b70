"""The API client: turns an :class:`Operation` and arguments into a typed result."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, Dict, Mapping, Optional, Sequence, Type, TypeVar

import urllib3
from pydantic import ValidationError

from py_sp_api.runtime.api_response import ApiResponse
from py_sp_api.runtime.configuration import Configuration, TimeoutValue, to_urllib3_timeout
from py_sp_api.runtime.exceptions import ApiException, ApiResponseError
from py_sp_api.runtime.model import SpApiModel
from py_sp_api.runtime.operation import Operation, PreparedRequest
from py_sp_api.runtime.rest import RESTClientObject

ResponseT = TypeVar("ResponseT", bound=SpApiModel)

_log = logging.getLogger("py_sp_api.http")

ACCEPT = "application/hal+json"


class ApiClient:
    """Owns the connection pool and sends operations.

    One ``ApiClient`` is safe to share between threads. Use it as a context manager, or call
    :meth:`close`, to release its connections.

    Args:
        configuration: where and how to connect; a default :class:`Configuration` if omitted.
        header_name, header_value: one extra header sent with every request.
    """

    def __init__(
        self,
        configuration: Optional[Configuration] = None,
        header_name: Optional[str] = None,
        header_value: Optional[str] = None,
    ) -> None:
        self.configuration = configuration if configuration is not None else Configuration()
        self.default_headers: Dict[str, str] = {
            "Accept": ACCEPT,
            "User-Agent": self.configuration.user_agent,
        }
        if header_name is not None and header_value is not None:
            self.default_headers[header_name] = header_value
        self.rest_client = RESTClientObject(self.configuration)

    @property
    def user_agent(self) -> str:
        return self.default_headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.default_headers["User-Agent"] = value

    def set_default_header(self, header_name: str, header_value: str) -> None:
        self.default_headers[header_name] = header_value

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release every pooled connection; the client may still be used afterwards."""
        self.rest_client.close()

    def call(
        self,
        operation: Operation[ResponseT],
        args: Sequence[Any],
        body: Any = None,
        *,
        timeout: TimeoutValue = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> ApiResponse[ResponseT]:
        """Send ``operation`` and parse its answer; raise a typed error for anything else."""
        request = operation.prepare(args, body)
        response = self._send(operation, request, timeout, headers, preload_content=True)
        status = response.status
        raw = response.data
        if not 200 <= status <= 299:
            raise ApiException.from_response(
                status=status,
                reason=response.reason,
                headers=response.headers,
                body=raw,
                error_model=operation.error_model,
            )
        return ApiResponse(
            status_code=status,
            headers=response.headers,
            data=_parse_body(operation, status, response.headers, raw),
            raw_data=raw,
        )

    def call_raw(
        self,
        operation: Operation[Any],
        args: Sequence[Any],
        body: Any = None,
        *,
        timeout: TimeoutValue = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send ``operation`` and hand back the unread urllib3 response, whatever its status.

        The caller reads it and then calls ``release_conn()`` to return the connection.
        """
        request = operation.prepare(args, body)
        return self._send(operation, request, timeout, headers, preload_content=False)

    def _send(
        self,
        operation: Operation[Any],
        request: PreparedRequest,
        timeout: TimeoutValue,
        extra_headers: Optional[Mapping[str, str]],
        *,
        preload_content: bool,
    ) -> urllib3.BaseHTTPResponse:
        headers = dict(self.default_headers)
        if request.content_type is not None:
            headers["Content-Type"] = request.content_type
        if extra_headers:
            headers.update(extra_headers)
        url = self.configuration.host + request.path
        effective_timeout = (
            to_urllib3_timeout(timeout) if timeout is not None else self.configuration.timeout
        )
        debug = _log.isEnabledFor(logging.DEBUG)
        started = time.monotonic() if debug else 0.0
        response = self.rest_client.request(
            request.method,
            url,
            headers=headers,
            body=request.body,
            timeout=effective_timeout,
            preload_content=preload_content,
        )
        if debug:
            _log.debug(
                "%s %s -> %s in %.1f ms (operation=%s, request-id=%s)",
                request.method,
                request.path,
                response.status,
                (time.monotonic() - started) * 1000,
                operation.operation_id,
                response.headers.get("x-amzn-RequestId"),
            )
        return response


def _parse_body(
    operation: Operation[ResponseT], status: int, headers: Mapping[str, str], raw: bytes
) -> ResponseT:
    model = operation.response_model
    # Amazon answers some 201s with no body at all; read that as an empty object.
    document = raw if raw.strip() else b"{}"
    try:
        return model.model_validate_json(document)
    except ValidationError as exc:
        raise ApiResponseError(
            f"{operation.operation_id}: the response body is not a valid {model.__name__}: "
            f"{exc.errors(include_url=False)[:3]}",
            status=status,
            headers=headers,
            body=raw,
        ) from exc
