"""Header parameters: request headers an operation declares, such as an idempotency token.

Kept apart from :mod:`py_sp_api.runtime.operation`: only some of Amazon's APIs have them, and
a program that calls none of those never loads this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence

from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError
from py_sp_api.runtime.headers import check_header

if TYPE_CHECKING:
    from py_sp_api.runtime.operation import Operation


@dataclass(frozen=True)
class HeaderParam:
    """A request header the operation declares as a parameter (e.g. an idempotency token)."""

    name: str
    python_name: str
    required: bool = True


def call_headers(
    operation: Operation[Any], args: Sequence[Any], extra: Optional[Mapping[str, str]]
) -> Optional[Mapping[str, str]]:
    """The header parameters' values (checked), then ``extra``, as the call's headers."""
    headers: Dict[str, str] = {}
    given = {name.lower() for name in extra} if extra else set()
    for index, param in enumerate(
        operation.header_params, start=len(operation.path_params) + len(operation.query_params)
    ):
        value = args[index]
        if value is None:
            if param.required:
                raise ApiValueError(f"{param.python_name} is required")
            continue
        if not isinstance(value, str):
            raise ApiTypeError(f"{param.python_name} must be a str, got {type(value).__name__}")
        if param.required and not value.strip():
            raise ApiValueError(f"{param.python_name} must not be empty")
        check_header(param.name, value)
        if param.name.lower() in given:
            raise ApiValueError(
                f"{param.python_name} is given both as an argument and in _headers "
                f"({param.name!r}): pass it once; nothing was sent"
            )
        headers[param.name] = value
    if extra:
        headers.update(extra)
    return headers or None


__all__ = [
    "HeaderParam",
    "call_headers",
]
