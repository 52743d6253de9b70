"""Bad arguments are refused before any byte is sent: the server must see NOTHING."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type

import pytest
from pydantic import ValidationError

from py_sp_api import RetryPolicy
from py_sp_api.generated.messaging import (
    ApiClient,
    Attachment,
    Configuration,
    CreateConfirmDeliveryDetailsRequest,
    CreateConfirmOrderDetailsRequest,
    CreateWarrantyRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import ApiTypeError, ApiValueError, OpenApiException
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.runtime.model import SpApiModel
from py_sp_api.runtime.operation import ModelRef, Operation, PathParam, QueryParam, RateLimit
from tests.support import RecordingServer
from tests.support.messaging import (
    BODY_NAMES,
    MARKETPLACE,
    NAMES,
    ORDER_ID,
    SAMPLE_BODIES,
    invoke,
)

TEXT_LIMITS: Dict[str, int] = {
    "confirm_customization_details": 800,
    "create_confirm_delivery_details": 2000,
    "create_confirm_order_details": 2000,
    "create_confirm_service_details": 2000,
    "create_digital_access_key": 400,
    "create_unexpected_problem": 2000,
}

ATTACHMENT_NAMES = [
    "confirm_customization_details",
    "create_amazon_motors",
    "create_digital_access_key",
    "create_legal_disclosure",
    "create_warranty",
    "send_invoice",
]

VARIANTS = ["", "_with_http_info", "_without_preload_content"]


def _case_id(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else repr(value)


def _attachment(i: int) -> Dict[str, str]:
    return {"uploadDestinationId": f"dest-{i}", "fileName": f"file-{i}.pdf"}


@pytest.fixture
def quiet_server(server: RecordingServer, api: MessagingApi) -> Iterator[RecordingServer]:
    """The server, checked after the test to have received no request at all.

    The client side is checked too, synchronously: urllib3 creates a connection pool only when
    it is about to send, so an empty pool manager proves no request was even attempted.
    """
    yield server
    pools = len(api.api_client.rest_client.pool_manager.pools)
    assert pools == 0, "the client opened a connection pool: it tried to send"
    assert server.request_count == 0, [r.raw_path for r in server.requests]
    assert server.connections == [], "a connection was opened although nothing may be sent"


def _refused(
    exc_type: Type[Exception], api: MessagingApi, name: str, variant: str = "", **kwargs: Any
) -> Exception:
    with pytest.raises(exc_type) as info:
        invoke(api, name, variant=variant, **kwargs)
    assert type(info.value) is exc_type
    return info.value


def test_argument_errors_are_open_api_exceptions_and_builtin_errors() -> None:
    assert issubclass(ApiTypeError, OpenApiException)
    assert issubclass(ApiTypeError, TypeError)
    assert issubclass(ApiValueError, OpenApiException)
    assert issubclass(ApiValueError, ValueError)


# -- the order id --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("order_id", [123, None, b"123-1234567-1234567", ["123"]])
@pytest.mark.parametrize("name", NAMES)
def test_an_order_id_of_the_wrong_type_is_refused(
    name: str, order_id: Any, variant: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    exc = _refused(ApiTypeError, api, name, variant, order_id=order_id)
    assert "amazon_order_id" in str(exc)


@pytest.mark.parametrize("order_id", ["", " ", "\t\n "])
@pytest.mark.parametrize("name", NAMES)
def test_an_empty_order_id_is_refused(
    name: str, order_id: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    exc = _refused(ApiValueError, api, name, order_id=order_id)
    assert "amazon_order_id" in str(exc)


# -- the marketplace ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marketplace_ids", "exc_type"),
    [
        ("ATVPDKIKX0DER", ApiTypeError),
        (b"ATVPDKIKX0DER", ApiTypeError),
        ({"ATVPDKIKX0DER"}, ApiTypeError),
        ([1], ApiTypeError),
        ([None], ApiTypeError),
        ([b"ATVPDKIKX0DER"], ApiTypeError),
        (["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"], ApiValueError),
        (["ATVPDKIKX0DER", "ATVPDKIKX0DER"], ApiValueError),
        ([], ApiValueError),
        (None, ApiValueError),
        ([""], ApiValueError),
        (["  "], ApiValueError),
    ],
    ids=_case_id,
)
@pytest.mark.parametrize("name", NAMES)
def test_bad_marketplace_ids_are_refused(
    name: str,
    marketplace_ids: Any,
    exc_type: Type[Exception],
    api: MessagingApi,
    quiet_server: RecordingServer,
) -> None:
    exc = _refused(exc_type, api, name, marketplace_ids=marketplace_ids)
    assert "marketplace_ids" in str(exc)


@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
def test_two_marketplaces_joined_in_one_item_are_refused(
    name: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    # The wire format is one comma-separated value and the spec allows one marketplace
    # (maxItems 1); "A,B" in a single item is two marketplaces and must not be sent.
    _refused(ApiValueError, api, name, marketplace_ids=["ATVPDKIKX0DER,A2EUQ1WTGCTBG2"])


# -- the body ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BODY_NAMES)
def test_a_body_of_another_model_class_is_refused(
    name: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    # Same shape ({"text": ...}) but the wrong class: a mix-up, not a conversion.
    wrong: Any = CreateConfirmOrderDetailsRequest(text="Hello")
    if name == "create_confirm_order_details":
        wrong = CreateConfirmDeliveryDetailsRequest(text="Hello")
    exc = _refused(ApiTypeError, api, name, body=wrong)
    model = OPERATIONS[name].body_model
    assert model is not None
    assert model.__name__ in str(exc)


@pytest.mark.parametrize("body", ['{"text": "Hello"}', b"{}", ["text"], 42])
@pytest.mark.parametrize("name", BODY_NAMES)
def test_a_body_that_is_not_a_model_or_dict_is_refused(
    name: str, body: Any, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    _refused(ApiTypeError, api, name, body=body)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", BODY_NAMES)
def test_a_missing_body_is_refused(
    name: str, variant: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    exc = _refused(ApiValueError, api, name, variant, body=None)
    assert "body is required" in str(exc)


INVALID_DICTS = {
    "text_not_a_string": {"text": 5},
    "attachment_without_destination": {"attachments": [{"fileName": "a.txt"}]},
    "attachment_not_an_object": {"attachments": ["a.txt"]},
}


@pytest.mark.parametrize("case", sorted(INVALID_DICTS))
@pytest.mark.parametrize("name", ["confirm_customization_details", "create_digital_access_key"])
def test_a_body_dict_that_fails_validation_is_refused(
    name: str, case: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    exc = _refused(ApiValueError, api, name, body=INVALID_DICTS[case])
    model = OPERATIONS[name].body_model
    assert model is not None
    assert model.__name__ in str(exc)


@pytest.mark.parametrize("name", sorted(TEXT_LIMITS))
def test_text_one_character_too_long_is_refused(
    name: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    too_long = "x" * (TEXT_LIMITS[name] + 1)
    model = OPERATIONS[name].body_model
    assert model is not None
    # As a dict, and as a model built without validation: both are checked before sending.
    _refused(ApiValueError, api, name, body={"text": too_long})
    _refused(ApiValueError, api, name, body=model.model_construct(text=too_long))
    # A model refuses the text already when built or assigned.
    with pytest.raises(ValidationError):
        model(text=too_long)
    valid = model(text="ok")
    with pytest.raises(ValidationError):
        valid.text = too_long


@pytest.mark.parametrize("name", sorted(TEXT_LIMITS))
def test_empty_text_is_refused(name: str, api: MessagingApi, quiet_server: RecordingServer) -> None:
    model = OPERATIONS[name].body_model
    assert model is not None
    _refused(ApiValueError, api, name, body={"text": ""})
    _refused(ApiValueError, api, name, body=model.model_construct(text=""))


@pytest.mark.parametrize("name", sorted(TEXT_LIMITS))
def test_text_of_exactly_the_limit_is_sent(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    # The limit counts characters, not UTF-8 bytes.
    text = "\u00e4" * TEXT_LIMITS[name]
    invoke(api, name, body={"text": text})
    invoke(api, name, body={"text": "x"})
    assert [r.json()["text"] for r in server.requests] == [text, "x"]


@pytest.mark.parametrize("name", ATTACHMENT_NAMES)
def test_six_attachments_are_refused(
    name: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    body = {"attachments": [_attachment(i) for i in range(6)]}
    _refused(ApiValueError, api, name, body=body)
    model = OPERATIONS[name].body_model
    assert model is not None
    constructed = model.model_construct(attachments=[Attachment(**a) for a in body["attachments"]])
    _refused(ApiValueError, api, name, body=constructed)


@pytest.mark.parametrize("name", ATTACHMENT_NAMES)
def test_attachments_appended_in_place_after_construction_are_refused_at_send_time(
    name: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    model = OPERATIONS[name].body_model
    assert model is not None
    # Any: the model differs per operation (mypy sees an SpApiModel); each has attachments.
    body: Any = model(attachments=[Attachment.model_validate(_attachment(i)) for i in range(5)])
    body.attachments.append(Attachment.model_validate(_attachment(5)))
    assert len(body.attachments) == 6

    _refused(ApiValueError, api, name, body=body)


@pytest.mark.parametrize("name", ATTACHMENT_NAMES)
def test_five_attachments_are_sent(name: str, api: MessagingApi, server: RecordingServer) -> None:
    attachments = [_attachment(i) for i in range(5)]
    invoke(api, name, body={"attachments": attachments})
    assert server.only_request().json()["attachments"] == attachments


@pytest.mark.parametrize("name", ["create_warranty", "send_invoice"])
def test_an_empty_attachment_list_is_refused_where_the_spec_needs_one(
    name: str, api: MessagingApi, quiet_server: RecordingServer
) -> None:
    _refused(ApiValueError, api, name, body={"attachments": []})


NAIVE = datetime(2024, 5, 1, 10, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"coverageStartDate": "2024-05-01T10:00:00"},
        {"coverageEndDate": "2024-05-01T10:00:00"},
        {"coverage_start_date": NAIVE},
        {"coverageStartDate": "2024-05-01T10:00:00Z", "coverageEndDate": NAIVE},
        {"coverageStartDate": "not a date"},
    ],
    ids=["start-string", "end-string", "start-datetime", "end-datetime", "garbage"],
)
def test_a_naive_or_invalid_warranty_date_is_refused(
    body: Dict[str, Any], api: MessagingApi, quiet_server: RecordingServer
) -> None:
    sample = SAMPLE_BODIES["create_warranty"]
    assert sample is not None
    full = {"attachments": sample["attachments"], **body}
    _refused(ApiValueError, api, "create_warranty", body=full)


def test_a_naive_warranty_date_in_a_model_is_refused(
    api: MessagingApi, quiet_server: RecordingServer
) -> None:
    with pytest.raises(ValidationError):
        CreateWarrantyRequest(coverage_start_date=NAIVE)
    valid = CreateWarrantyRequest(coverage_start_date=datetime(2024, 5, 1, tzinfo=timezone.utc))
    with pytest.raises(ValidationError):
        valid.coverage_end_date = NAIVE
    _refused(
        ApiValueError,
        api,
        "create_warranty",
        body=CreateWarrantyRequest.model_construct(coverage_start_date=NAIVE),
    )


# -- the per-call timeout ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "exc_type"),
    [
        (-1, ApiValueError),
        (-0.5, ApiValueError),
        (0, ApiValueError),
        ((5.0, -1.0), ApiValueError),
        ((0, 5.0), ApiValueError),
        ("5", ApiTypeError),
        (("5", 5.0), ApiTypeError),
        ((1.0, 2.0, 3.0), ApiValueError),
        ((1.0,), ApiValueError),
        (True, ApiTypeError),
        ([1.0, 2.0], ApiTypeError),
        (math.nan, ApiValueError),
        (math.inf, ApiValueError),
        ((5.0, math.nan), ApiValueError),
    ],
    ids=_case_id,
)
@pytest.mark.parametrize("name", ["get_attributes", "create_confirm_order_details"])
def test_a_bad_request_timeout_is_refused(
    name: str,
    timeout: Any,
    exc_type: Type[Exception],
    api: MessagingApi,
    quiet_server: RecordingServer,
) -> None:
    exc = _refused(exc_type, api, name, _request_timeout=timeout)
    assert "timeout" in str(exc)


@pytest.mark.parametrize(
    ("timeout", "exc_type"),
    [
        (-1, ApiValueError),
        ("5", ApiTypeError),
        ((1, 2, 3), ApiValueError),
        (math.nan, ApiValueError),
    ],
    ids=_case_id,
)
def test_a_bad_configured_timeout_is_refused(timeout: Any, exc_type: Type[Exception]) -> None:
    with pytest.raises(exc_type):
        Configuration(host="http://127.0.0.1:1", timeout=timeout)


def test_nothing_is_sent_when_validation_fails_midway_through_several_calls(
    api: MessagingApi, server: RecordingServer
) -> None:
    api.get_attributes(ORDER_ID, [MARKETPLACE])
    with pytest.raises(ApiValueError):
        api.get_attributes(ORDER_ID, [MARKETPLACE, MARKETPLACE])
    with pytest.raises(ApiTypeError):
        api.send_invoice(ORDER_ID, [MARKETPLACE], "not a body")  # type: ignore[arg-type]  # on purpose
    assert server.request_count == 1


def test_a_fresh_client_refusing_bad_input_opens_no_connection(
    quiet_server: RecordingServer,
) -> None:
    with ApiClient(Configuration(host=quiet_server.url)) as client:
        with pytest.raises(ApiValueError):
            MessagingApi(client).get_attributes("", [MARKETPLACE])
        assert len(client.rest_client.pool_manager.pools) == 0


# -- fields the models do not declare ----------------------------------------------------------

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def make_api(open_api: ApiFactory) -> ApiFactory:
    """``make_api(host, **configuration)`` with no pacing and fast retries unless overridden."""
    return functools.partial(open_api, rate_limiting=False, retry=FAST_RETRY)


@pytest.mark.parametrize(
    ("operation", "make_body", "field"),
    [
        pytest.param(
            "create_confirm_order_details",
            lambda: CreateConfirmOrderDetailsRequest(txt="hi"),  # type: ignore[call-arg]  # the typo under test
            "txt",
            id="model-typo",
        ),
        pytest.param(
            "create_warranty",
            lambda: {"coverageStartDate": "2024-01-01T00:00:00Z", "coverage_end": "2025"},
            "coverage_end",
            id="dict-typo",
        ),
        pytest.param(
            "create_warranty",
            lambda: CreateWarrantyRequest(
                attachments=[
                    Attachment(upload_destination_id="u-1", file_name="w.txt", **{"fileNmae": "x"})
                ]
            ),
            "fileNmae",
            id="nested-attachment-extra",
        ),
    ],
)
def test_a_body_with_an_unknown_field_is_refused_naming_it(
    server: RecordingServer,
    make_api: ApiFactory,
    operation: str,
    make_body: Callable[[], object],
    field: str,
) -> None:
    api = make_api(server.url)

    with pytest.raises(ApiValueError) as caught:
        getattr(api, operation)(ORDER_ID, [MARKETPLACE], make_body())

    assert field in str(caught.value)
    assert server.request_count == 0

    # The same call without the stray field goes out.
    fine: Dict[str, Any] = {
        "create_confirm_order_details": {"text": "hi"},
        "create_warranty": {"coverageStartDate": "2024-01-01T00:00:00Z"},
    }
    method = getattr(api, f"{operation}_with_http_info")
    assert method(ORDER_ID, [MARKETPLACE], fine[operation]).status_code == 201
    assert server.request_count == 1


# -- refusals by the runtime's own checks, on an Operation built here (issue 16, item 4) ---------
# The generated modules build their Operations at import, before any test runs; these tests
# build their own, so that a mutation run sees the checks. Each refusal must name what was
# wrong: the parameter or field, and (for a wrong type) the type that was given.


class Note(SpApiModel):
    """A model that keeps unknown fields (as models that also arrive in answers do)."""

    text: Optional[str] = None


class Letter(SpApiModel):
    subject: Optional[str] = None
    cover: Optional[Note] = None
    notes: Optional[List[Note]] = None
    by_topic: Optional[Dict[str, Note]] = None
    footer: Optional[str] = None


def _operation(
    path: str = "/things",
    path_params: Tuple[PathParam, ...] = (),
    query_params: Tuple[QueryParam, ...] = (),
    body: Optional[ModelRef] = None,
) -> Operation[Any]:
    return Operation(
        name="do_thing",
        operation_id="doThing",
        method="POST",
        path=path,
        path_params=path_params,
        query_params=query_params,
        response=None,
        rate_limit=RateLimit(1.0, 5),
        body=body,
    )


def _refusal(
    exc_type: Type[Exception], operation: Operation[Any], args: List[Any], body: Any = None
) -> str:
    """The message of the refusal of ``operation`` with ``args`` (and ``body``)."""
    with pytest.raises(exc_type) as info:
        operation.prepare(args, body)
    assert type(info.value) is exc_type
    return str(info.value)


@pytest.mark.parametrize("rate", [0, -1.0, math.inf, math.nan, True, "1"], ids=_case_id)
def test_a_bad_usage_plan_rate_is_refused_naming_it(rate: Any) -> None:
    with pytest.raises(ApiValueError, match="rate") as info:
        RateLimit(rate, 5)
    assert repr(rate) in str(info.value)


def test_a_query_parameter_of_unknown_collection_or_kind_is_refused_naming_it() -> None:
    with pytest.raises(ApiValueError) as info:
        QueryParam("tags", "tags", is_array=True, collection="pipes")
    assert "tags" in str(info.value)
    assert "pipes" in str(info.value)
    with pytest.raises(ApiValueError) as info:
        QueryParam("pageSize", "page_size", kind="int64")
    assert "pageSize" in str(info.value)
    assert "int64" in str(info.value)


@pytest.mark.parametrize(
    "resource",
    ["a//b", "/a/./b", "a/../b", "a/b/", "/", "//a", "a/.", "../a"],
)
def test_a_greedy_path_with_an_empty_or_dot_segment_is_refused(resource: str) -> None:
    # A "." or ".." segment would climb the path after URL normalisation.
    operation = _operation(
        "/uploads/{resource}", (PathParam("resource", "upload_resource", greedy=True),)
    )
    message = _refusal(ApiValueError, operation, [resource])
    assert "upload_resource" in message


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ([123, "x", ["A"]], ("order_id", "int")),
        (["O-1", 5, ["A"]], ("keywords", "int")),
        (["O-1", "x", "A"], ("item_ids", "str")),
        (["O-1", "x", ["A", 7]], ("item_ids", "int")),
    ],
    ids=["path", "query-string", "array", "array-item"],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_parameter_and_type(
    args: List[Any], named: Tuple[str, str]
) -> None:
    operation = _operation(
        "/orders/{orderId}",
        (PathParam("orderId", "order_id"),),
        (QueryParam("keywords", "keywords"), QueryParam("itemIds", "item_ids", is_array=True)),
    )
    message = _refusal(ApiTypeError, operation, args)
    for word in named:
        assert word in message


def test_an_empty_required_string_query_value_is_refused_naming_it() -> None:
    operation = _operation(query_params=(QueryParam("keywords", "keywords"),))
    assert "keywords" in _refusal(ApiValueError, operation, ["  "])


def test_a_malformed_single_marketplace_id_is_refused_naming_it() -> None:
    operation = _operation(query_params=(QueryParam("marketplaceId", "marketplace_id"),))
    assert "marketplace_id" in _refusal(ApiValueError, operation, ["atvpdkikx0der"])


def test_a_comma_in_an_item_of_a_comma_separated_list_is_refused_naming_it() -> None:
    # On the wire "a,b" would be two items.
    operation = _operation(query_params=(QueryParam("itemIds", "item_ids", is_array=True),))
    message = _refusal(ApiValueError, operation, [["a,b"]])
    assert "item_ids" in message
    assert "','" in message


@pytest.mark.parametrize(
    ("param", "value", "exc_type"),
    [
        # Not a list parameter: a one-item list is the wrong type, not a shortcut.
        ({"name": "keywords"}, ["ABC"], ApiTypeError),
        ({"name": "itemIds", "is_array": True, "min_items": 2}, ["A"], ApiValueError),
        ({"name": "pageSizes", "is_array": True, "kind": "integer"}, ["5"], ApiTypeError),
        ({"name": "marketplaceIds", "is_array": True}, ["atvpdkikx0der"], ApiValueError),
    ],
    ids=["not-a-list-parameter", "below-min-items", "integer-items", "malformed-marketplace"],
)
def test_a_one_item_list_gets_every_check(
    param: Dict[str, Any], value: List[str], exc_type: Type[Exception]
) -> None:
    # The QueryParam is built here, not at collection: building it is part of what is tested.
    query_param = QueryParam(python_name=f"the_{param['name']}", **param)
    operation = _operation(query_params=(query_param,))
    assert query_param.python_name in _refusal(exc_type, operation, [value])


def test_a_typed_query_value_of_the_wrong_type_is_refused_naming_it() -> None:
    operation = _operation(query_params=(QueryParam("pageSize", "page_size", kind="integer"),))
    message = _refusal(ApiTypeError, operation, ["5"])
    assert "page_size" in message


def test_a_body_of_the_wrong_type_is_refused_naming_the_type() -> None:
    operation = _operation(body=ModelRef(__name__, "Letter"))
    message = _refusal(ApiTypeError, operation, [], body=42)
    assert "Letter" in message
    assert "int" in message


def test_a_body_built_without_validation_is_refused_naming_the_field() -> None:
    # model_construct (like an in-place edit) skips validation; the check before sending names
    # the model and the field, so the caller knows what to fix.
    operation = _operation(
        body=ModelRef("py_sp_api.generated.messaging.models", "CreateConfirmOrderDetailsRequest")
    )
    body = CreateConfirmOrderDetailsRequest.model_construct(text="x" * 2001)
    message = _refusal(ApiValueError, operation, [], body)
    assert "CreateConfirmOrderDetailsRequest" in message
    assert "text" in message


def test_unknown_fields_at_any_depth_are_refused_each_named_where_it_is() -> None:
    operation = _operation(body=ModelRef(__name__, "Letter"))
    body = Letter.model_validate(
        {
            "subject": "s",
            "sender": "typo at the top",
            "cover": {"text": "c", "colour": "red"},
            "notes": [{"text": "a", "txt": "a"}, {"text": "b"}],
            "by_topic": {"k": {"text": "t", "tone": "warm"}},
            "footer": "f",
        }
    )
    message = _refusal(ApiValueError, operation, [], body)
    for where in ("'sender'", "cover.'colour'", "notes[0].'txt'", "by_topic['k'].'tone'"):
        assert where in message
    assert "'text'" not in message
