"""Every exception the package defines survives pickling, so it crosses a process boundary.

A ``multiprocessing.Pool`` or ``ProcessPoolExecutor`` worker hands its exception back pickled;
one that cannot be rebuilt hangs the pool or breaks every future, and the error lost may be
the one that says "the message was sent, do not send it again". The classes are found by
walking the package, so a new exception without a factory here fails the test.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import inspect
import multiprocessing
import pickle
import pkgutil
from typing import Any, Callable, Dict, List, Type

import pytest
import urllib3
from pydantic import ValidationError

import py_sp_api
from py_sp_api import LwaAuthError, RateLimitWaitExceeded
from py_sp_api.generated.messaging import Configuration, Error, MessagingApi
from py_sp_api.runtime import exceptions as runtime_exceptions
from py_sp_api.runtime.api_client import ApiClient
from py_sp_api.runtime.exceptions import (
    ApiAttributeError,
    ApiConnectionError,
    ApiException,
    ApiKeyError,
    ApiResponseError,
    ApiResponseTooLargeError,
    ApiTimeoutError,
    ApiTypeError,
    ApiValueError,
    DuplicateSendError,
    OpenApiException,
    RateLimitStoreError,
    SendJournalError,
)
from py_sp_api.runtime.journal import JournalEntry
from tests.support.fake_lwa import FakeLwa
from tests.support.throttling import TOKEN_EXPIRED_BODY, ThrottlingServer

REQUEST_ID = "b7cd6e27-1c5c-4d6a-9a61-8d2b1bc7a4a1"
WORKER_TIMEOUT = 20.0


def package_exception_classes() -> List[Type[BaseException]]:
    """Every BaseException subclass defined in a module of py_sp_api (generated and testing too)."""
    found: Dict[str, Type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(py_sp_api.__path__, "py_sp_api."):
        if module_info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is what importing it would do
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("py_sp_api."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _headers() -> urllib3.HTTPHeaderDict:
    return urllib3.HTTPHeaderDict(
        {"Content-Type": "application/json", "x-amzn-RequestId": REQUEST_ID}
    )


def _http_error(status: int) -> Callable[[], BaseException]:
    def build() -> BaseException:
        return ApiException.from_response(
            status=status,
            reason="Refused",
            headers=_headers(),
            body=b'{"errors": [{"code": "InvalidInput", "message": "Bad order id.",'
            b' "details": "123-x"}]}',
            error_model=Error,
            attempts=2,
            note="a note from the client",
        )

    return build


def _duplicate_send_error() -> BaseException:
    entry = JournalEntry(
        key='["lwa:0123","ATVPDKIKX0DER","123-1234567-1234567","createWarranty",null]',
        identity="lwa:0123",
        marketplace_id="ATVPDKIKX0DER",
        order_id="123-1234567-1234567",
        operation="createWarranty",
        caller_key=None,
        state="sent",
        claim_id="5d7c0e2f9b3a4c1d8e6f0a1b2c3d4e5f",
        owner="worker-3:4242",
        created_at=1_800_000_000.125,
        updated_at=1_800_000_000.5,
        lease_until=1_800_000_900.125,
        request_id=REQUEST_ID,
        status=201,
        body_sha256="0" * 64,
        body=b'{"attachments": []}',
    )
    return DuplicateSendError("sent", entry)


def _model_validation_error() -> BaseException:
    from py_sp_api.generated.messaging import CreateUnexpectedProblemRequest

    try:
        CreateUnexpectedProblemRequest(text="x" * 2001)
    except BaseException as exc:
        return exc
    raise AssertionError("a 2,001-character text was accepted")


# One realistic instance per class; a class the walk finds without an entry fails the test.
FACTORIES: Dict[str, Callable[[], BaseException]] = {
    "OpenApiException": lambda: OpenApiException("something went wrong"),
    "ApiTypeError": lambda: ApiTypeError("order_id must be a str, got int"),
    "ApiValueError": lambda: ApiValueError("marketplace_ids accepts at most 1 item(s), got 2"),
    "ApiKeyError": lambda: ApiKeyError("no such operation: send_postcard"),
    "ApiAttributeError": lambda: ApiAttributeError("no attribute 'txt'"),
    "ApiException": _http_error(418),
    "BadRequestException": _http_error(400),
    "UnauthorizedException": _http_error(401),
    "ForbiddenException": _http_error(403),
    "NotFoundException": _http_error(404),
    "ConflictException": _http_error(409),
    "PayloadTooLargeException": _http_error(413),
    "UnsupportedMediaTypeException": _http_error(415),
    "UnprocessableEntityException": _http_error(422),
    "TooManyRequestsException": _http_error(429),
    "ServiceException": _http_error(503),
    "ActionNotAvailableException": lambda: ApiException.from_response(
        status=403,
        reason="Forbidden",
        headers=_headers(),
        body=b'{"errors": [{"code": "Unauthorized", "message": "Invalid amazonOrderId and'
        b' template combination.", "details": ""}]}',
        error_model=Error,
    ),
    "ApiResponseError": lambda: ApiResponseError(
        "createWarranty: the response body is not a valid CreateWarrantyResponse. "
        "The request succeeded (the message was sent): do not send it again.",
        status=201,
        headers=_headers(),
        body=b"<html>not json</html>",
    ),
    "ApiResponseTooLargeError": lambda: ApiResponseTooLargeError(
        "POST https://sellingpartnerapi-na.amazon.com: the 201 response body is larger than "
        "max_response_bytes (1024 bytes) (4096 bytes announced); it was not read",
        status=201,
        reason="Created",
        headers=_headers(),
        limit=1024,
        content_length=4096,
        attempts=1,
    ),
    "RateLimitStoreError": lambda: RateLimitStoreError(
        "py-sp-api:app:https://sellingpartnerapi-na.amazon.com|lwa:0123|getAttributes",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
    ),
    "ApiConnectionError": lambda: ApiConnectionError(
        "connection reset", request_sent=True, attempts=3
    ),
    "ApiTimeoutError": lambda: ApiTimeoutError("read timed out", request_sent=None, attempts=1),
    "LwaAuthError": lambda: LwaAuthError(
        "LWA answered 400: invalid_grant (bad refresh token)",
        error="invalid_grant",
        error_description="bad refresh token",
        status=400,
        attempts=1,
    ),
    "RateLimitWaitExceeded": lambda: RateLimitWaitExceeded("createWarranty", 1.5, 0.25),
    "DuplicateSendError": _duplicate_send_error,
    "SendJournalError": lambda: SendJournalError(
        "sqlite",
        "could not claim the key (nothing was sent): OperationalError: database is locked",
    ),
    "ModelValidationError": _model_validation_error,
}


def build(name: str) -> BaseException:
    return FACTORIES[name]()


def raise_built(name: str) -> None:
    """The worker: raise the exception ``name`` in another process."""
    raise build(name)


def state(exc: BaseException) -> Dict[str, Any]:
    """What a receiver can observe of an exception."""
    seen: Dict[str, Any] = {"type": type(exc), "str": str(exc)}
    seen.update(vars(exc))
    if isinstance(exc, ValidationError):  # its args hold objects without equality
        seen["errors()"] = exc.errors(include_url=False)
        seen["title"] = exc.title
    else:
        seen["args"] = exc.args
    return seen


CLASSES = package_exception_classes()


def test_the_walk_finds_the_exceptions_of_every_family() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {"OpenApiException", "ApiException", "LwaAuthError", "RateLimitWaitExceeded"} <= names
    assert {"ApiResponseError", "ApiTimeoutError", "ServiceException"} <= names


def test_every_exception_class_has_a_factory() -> None:
    missing = sorted(cls.__name__ for cls in CLASSES if cls.__name__ not in FACTORIES)
    assert missing == [], f"add a factory to FACTORIES for {missing}"
    for cls in CLASSES:
        assert type(build(cls.__name__)) is cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_exception_round_trips_through_pickle(cls: Type[BaseException]) -> None:
    original = build(cls.__name__)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(original, protocol=protocol))
        assert state(copy) == state(original)


def test_a_pool_worker_raising_any_exception_hands_it_back_whole() -> None:
    names = [cls.__name__ for cls in CLASSES]
    expected = {name: state(build(name)) for name in names}
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(1)
    try:
        pending = {name: pool.apply_async(raise_built, (name,)) for name in names}
        for name, result in pending.items():
            with pytest.raises(BaseException) as caught:  # noqa: PT011 - any of them
                result.get(timeout=WORKER_TIMEOUT)
            assert state(caught.value) == expected[name]
    finally:
        pool.terminate()
        pool.join()
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as executor:
        futures = {name: executor.submit(raise_built, name) for name in names}
        for name, future in futures.items():
            error = future.exception(timeout=WORKER_TIMEOUT)
            assert error is not None
            assert state(error) == expected[name]


def test_every_exception_is_importable_from_the_contract_module() -> None:
    from py_sp_api.generated.messaging import exceptions as contract

    ours = [cls for cls in CLASSES if issubclass(cls, OpenApiException)]
    assert ours, "the walk found no OpenApiException"
    for cls in ours:
        assert getattr(contract, cls.__name__, None) is cls, cls.__name__
        assert cls.__name__ in contract.__all__
        assert getattr(runtime_exceptions, cls.__name__) is cls
    assert set(runtime_exceptions.__all__) <= set(contract.__all__)


def test_every_exception_class_is_an_open_api_exception() -> None:
    assert [cls for cls in CLASSES if not issubclass(cls, OpenApiException)] == []


def _pickled_errors(lwa: FakeLwa, sp: ThrottlingServer) -> List[bytes]:
    """Pickles of errors raised for real while secrets were in play."""
    pickles: List[bytes] = []
    lwa.invalid_grant()
    config = Configuration(
        host=sp.url, credentials=lwa.credentials(), rate_limiting=False, retry=None
    )
    with ApiClient(config) as client:
        api = MessagingApi(client)
        with pytest.raises(LwaAuthError) as lwa_error:
            api.get_attributes("123-1234567-1234567", ["ATVPDKIKX0DER"])
        pickles.append(pickle.dumps(lwa_error.value))
        sp.throttle.expire_every_token = True
        with pytest.raises(ApiException) as expired:
            api.get_attributes("123-1234567-1234567", ["ATVPDKIKX0DER"])
        pickles.append(pickle.dumps(expired.value))
    assert expired.value.status == 403
    return pickles


def test_a_pickled_error_carries_no_secret(lwa: FakeLwa, sp: ThrottlingServer) -> None:
    pickles = _pickled_errors(lwa, sp)
    assert lwa.issued, "no token was handed out: the check below would prove nothing"
    for data in pickles:
        for secret in lwa.secrets():
            assert secret.encode() not in data
    assert TOKEN_EXPIRED_BODY["errors"][0]["details"].encode() in pickles[1]
