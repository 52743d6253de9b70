"""Every Messaging operation against a real HTTP server: exactly what goes on the wire, and what
comes back from each of the three method variants."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from typing import Any, List, Optional, Tuple

import pytest
import urllib3
from pydantic import RootModel

import py_sp_api
from py_sp_api.generated.messaging import (
    ApiClient,
    ApiResponse,
    ApiTimeoutError,
    BadRequestException,
    Configuration,
    MessagingApi,
)
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.runtime.model import SpApiModel
from py_sp_api.runtime.operation import (
    ModelRef,
    Operation,
    PathParam,
    QueryParam,
    RateLimit,
    Removal,
)
from tests.support import RecordedRequest, RecordingServer
from tests.support.messaging import (
    BODY_NAMES,
    MARKETPLACE,
    NAMES,
    ORDER_ID,
    REQUEST_ID_HEADER,
    SAMPLE_BODIES,
    comparable_body,
    expected_path,
    invoke,
    sandbox_request_body,
    sandbox_response,
    spec_method,
)

ODD_ORDER_IDS = ["../../x", "a/b?c", "..", ".", "x#y", "\u00e4"]
# The wire dict of a body: the runtime takes it as well as the model the signature names.
CONFIRM_BODY: Any = SAMPLE_BODIES["create_confirm_order_details"]


def _assert_standard_headers(request: RecordedRequest, sends_body: bool) -> None:
    assert request.headers["Accept"] == "application/hal+json"
    user_agent = request.headers["User-Agent"]
    assert user_agent.startswith("py-sp-api/")
    assert user_agent.split(" ", 1)[0] == f"py-sp-api/{py_sp_api.__version__}"
    if sends_body:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Content-Length"] == str(len(request.body))
    else:
        assert "Content-Type" not in request.headers
        assert request.body == b""


def test_the_suite_covers_all_thirteen_operations() -> None:
    assert len(NAMES) == 13
    assert set(NAMES) == set(SAMPLE_BODIES)
    assert {name for name in NAMES if OPERATIONS[name].body_model is None} == {
        "create_negative_feedback_removal",
        "get_attributes",
        "get_messaging_actions_for_order",
    }


@pytest.mark.parametrize("name", NAMES)
def test_success_path_sends_exactly_the_specified_request(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    operation = OPERATIONS[name]

    result = invoke(api, name)

    request = server.only_request()
    assert request.method == spec_method(name)
    assert request.raw_path == expected_path(name, ORDER_ID) + "?marketplaceIds=ATVPDKIKX0DER"
    assert request.query_string == "marketplaceIds=ATVPDKIKX0DER"
    assert request.query == {"marketplaceIds": [MARKETPLACE]}
    # The spec-faithful server routed it to this very operation and answered its success status.
    routed = server.router.operation_for(request.method, request.path)
    assert routed is not None
    assert routed["operationId"] == operation.operation_id
    assert [r.status for r in server.responses] == [operation.success_status]
    sample = SAMPLE_BODIES[name]
    _assert_standard_headers(request, sends_body=sample is not None)
    if sample is not None:
        assert comparable_body(request.json()) == comparable_body(sample)
        assert request.body.decode("utf-8")  # valid UTF-8, non-ASCII text sent as such
    assert type(result) is operation.response_model
    assert result.model_dump(by_alias=True, exclude_none=True) == sandbox_response(name)


@pytest.mark.parametrize("name", BODY_NAMES)
def test_a_dict_body_goes_on_the_wire_like_the_model(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    result = invoke(api, name, body=SAMPLE_BODIES[name])

    request = server.only_request()
    assert comparable_body(request.json()) == comparable_body(SAMPLE_BODIES[name])
    assert request.headers["Content-Type"] == "application/json"
    assert type(result) is OPERATIONS[name].response_model


SANDBOX_BODY_NAMES = [name for name in BODY_NAMES if sandbox_request_body(name) is not None]


def test_the_spec_has_sandbox_request_bodies_for_most_operations() -> None:
    assert len(SANDBOX_BODY_NAMES) == 9
    assert set(BODY_NAMES) - set(SANDBOX_BODY_NAMES) == {"send_invoice"}


@pytest.mark.parametrize("name", SANDBOX_BODY_NAMES)
def test_the_specs_sandbox_request_body_is_sent_unchanged(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    sandbox_body = sandbox_request_body(name)
    model = OPERATIONS[name].body_model
    assert model is not None

    result = invoke(api, name, body=model.model_validate(sandbox_body))

    request = server.only_request()
    assert comparable_body(request.json()) == comparable_body(sandbox_body)
    assert request.raw_path == expected_path(name, ORDER_ID) + "?marketplaceIds=ATVPDKIKX0DER"
    assert type(result) is OPERATIONS[name].response_model


def test_non_ascii_text_is_sent_as_utf8(api: MessagingApi, server: RecordingServer) -> None:
    invoke(api, "confirm_customization_details")

    body = server.only_request().body
    assert "\u201cF\u00fcr Ana \u2014 2024\u201d".encode() in body


@pytest.mark.parametrize("name", NAMES)
def test_with_http_info_returns_status_headers_data_and_raw_body(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    operation = OPERATIONS[name]

    response = invoke(api, name, variant="_with_http_info")

    assert isinstance(response, ApiResponse)
    sent = server.responses
    assert len(sent) == 1
    assert response.status_code == operation.success_status
    request_id = sent[0].headers[REQUEST_ID_HEADER]
    assert str(uuid.UUID(request_id)) == request_id
    assert response.headers[REQUEST_ID_HEADER] == request_id
    assert response.headers["x-amzn-requestid"] == request_id
    assert response.request_id == request_id
    assert response.rate_limit == "1.0"
    assert response.raw_data == sent[0].body
    assert type(response.data) is operation.response_model
    assert response.data.model_dump(by_alias=True, exclude_none=True) == sandbox_response(name)
    assert server.only_request().raw_path == expected_path(name, ORDER_ID) + (
        "?marketplaceIds=ATVPDKIKX0DER"
    )


@pytest.mark.parametrize("name", NAMES)
def test_without_preload_content_returns_the_unread_urllib3_response(
    name: str, api: MessagingApi, server: RecordingServer
) -> None:
    response = invoke(api, name, variant="_without_preload_content")

    assert isinstance(response, urllib3.BaseHTTPResponse)
    assert response.tell() == 0, "the body must not have been read yet"
    assert response.status == OPERATIONS[name].success_status
    body = response.read()
    assert body == server.responses[0].body
    assert response.headers[REQUEST_ID_HEADER] == server.responses[0].headers[REQUEST_ID_HEADER]
    response.release_conn()
    request = server.only_request()
    assert request.method == spec_method(name)
    assert request.raw_path == expected_path(name, ORDER_ID) + "?marketplaceIds=ATVPDKIKX0DER"
    sample = SAMPLE_BODIES[name]
    _assert_standard_headers(request, sends_body=sample is not None)
    if sample is not None:
        assert comparable_body(request.json()) == comparable_body(sample)
    # The released connection goes back to the pool and carries the next call.
    invoke(api, name)
    assert len(server.connections) == 1
    assert [r.connection_id for r in server.requests] == [server.connections[0].id] * 2


@pytest.mark.parametrize("order_id", ODD_ORDER_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_an_odd_order_id_stays_one_path_segment(
    name: str, order_id: str, api: MessagingApi, server: RecordingServer
) -> None:
    invoke(api, name, order_id=order_id)

    request = server.only_request()
    template_segments = expected_path(name, "{}").split("/")
    position = template_segments.index("{}")
    expected_segments = [order_id if s == "{}" else s for s in template_segments]
    # Decoded segment by segment, the path is the template with the order id as ONE segment.
    assert request.path_segments == expected_segments
    raw_segment = request.path.split("/")[position]
    assert raw_segment not in (".", "..")
    assert not set(raw_segment) & set("/?#")
    prefix, suffix = expected_path(name, "\0").split("\0")
    assert request.raw_path == f"{prefix}{raw_segment}{suffix}?marketplaceIds=ATVPDKIKX0DER"
    assert request.query_string == "marketplaceIds=ATVPDKIKX0DER"
    assert request.query == {"marketplaceIds": [MARKETPLACE]}
    assert server.responses[0].status == OPERATIONS[name].success_status


@pytest.mark.parametrize(
    ("order_id", "raw_segment"),
    [
        ("../../x", "..%2F..%2Fx"),
        ("a/b?c", "a%2Fb%3Fc"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("x#y", "x%23y"),
        ("\u00e4", "%C3%A4"),
        ("123 456", "123%20456"),
        ("%2E%2E", "%252E%252E"),
    ],
)
def test_order_id_percent_encoding_on_the_wire(
    order_id: str, raw_segment: str, api: MessagingApi, server: RecordingServer
) -> None:
    api.get_attributes(order_id, [MARKETPLACE])

    assert server.only_request().raw_path == (
        f"/messaging/v1/orders/{raw_segment}/attributes?marketplaceIds=ATVPDKIKX0DER"
    )


@pytest.mark.parametrize("marketplace_ids", [["ATVPDKIKX0DER"], ("ATVPDKIKX0DER",)])
def test_marketplace_ids_go_out_as_exactly_one_query_pair(
    marketplace_ids: Any, api: MessagingApi, server: RecordingServer
) -> None:
    api.get_messaging_actions_for_order(ORDER_ID, marketplace_ids)

    request = server.only_request()
    assert request.query_string.split("&") == ["marketplaceIds=ATVPDKIKX0DER"]
    assert request.query == {"marketplaceIds": ["ATVPDKIKX0DER"]}


@pytest.mark.parametrize("timeout", [5.0, 5, (5.0, 5.0), (2, 3.5)])
def test_request_timeout_accepts_float_int_and_a_connect_read_pair(
    timeout: Any, api: MessagingApi, server: RecordingServer
) -> None:
    result = api.get_attributes(ORDER_ID, [MARKETPLACE], _request_timeout=timeout)

    assert result.buyer is not None
    assert result.buyer.locale == "en-US"
    assert server.request_count == 1


@pytest.mark.parametrize("timeout", [0.2, (5.0, 0.2)])
def test_a_short_per_call_timeout_is_applied(
    timeout: Any, api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(201, b"{}", delay=3.0)
    started = time.monotonic()

    with pytest.raises(ApiTimeoutError):
        invoke(api, "create_confirm_order_details", _request_timeout=timeout)

    assert time.monotonic() - started < 2.0
    assert server.request_count == 1


def test_a_per_call_timeout_overrides_the_configured_one(server: RecordingServer) -> None:
    server.enqueue(201, b"{}", delay=0.4)
    with ApiClient(Configuration(host=server.url, timeout=0.1)) as client:
        result = MessagingApi(client).create_confirm_order_details(
            ORDER_ID,
            [MARKETPLACE],
            CONFIRM_BODY,
            _request_timeout=5,
        )
    assert type(result) is OPERATIONS["create_confirm_order_details"].response_model
    assert server.request_count == 1


def test_the_configured_timeout_applies_when_no_per_call_timeout_is_given(
    server: RecordingServer,
) -> None:
    server.enqueue(201, b"{}", delay=3.0)
    client = ApiClient(Configuration(host=server.url, timeout=0.2))
    with client, pytest.raises(ApiTimeoutError):
        MessagingApi(client).create_confirm_order_details(ORDER_ID, [MARKETPLACE], CONFIRM_BODY)
    assert server.request_count == 1


@pytest.mark.parametrize("name", ["get_attributes", "create_warranty"])
def test_extra_headers_are_sent(name: str, api: MessagingApi, server: RecordingServer) -> None:
    invoke(api, name, _headers={"x-amz-access-token": "Atza|test-token", "X-Trace-Id": "t-1"})

    request = server.only_request()
    assert request.headers["x-amz-access-token"] == "Atza|test-token"
    assert request.headers["X-Trace-Id"] == "t-1"
    assert request.headers.get_all("x-amz-access-token") == ["Atza|test-token"]
    _assert_standard_headers(request, sends_body=name == "create_warranty")


def test_client_wide_default_headers_are_sent(server: RecordingServer) -> None:
    with ApiClient(Configuration(host=server.url), "X-Client", "one") as client:
        client.set_default_header("X-Second", "two")
        MessagingApi(client).get_attributes(ORDER_ID, [MARKETPLACE])
    request = server.only_request()
    assert request.headers["X-Client"] == "one"
    assert request.headers["X-Second"] == "two"
    assert request.headers["Accept"] == "application/hal+json"


def test_messaging_api_without_arguments_builds_a_default_client() -> None:
    api = MessagingApi()
    try:
        assert isinstance(api.api_client, ApiClient)
        assert api.api_client.configuration.host == "https://sellingpartnerapi-na.amazon.com"
        assert api.api_client.user_agent.startswith(f"py-sp-api/{py_sp_api.__version__} ")
    finally:
        api.api_client.close()


def test_sequential_calls_reuse_one_tcp_connection(
    api: MessagingApi, server: RecordingServer
) -> None:
    api.get_attributes(ORDER_ID, [MARKETPLACE])
    invoke(api, "create_warranty")
    api.get_messaging_actions_for_order(ORDER_ID, [MARKETPLACE])
    server.enqueue(400, {"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]})
    with pytest.raises(BadRequestException):
        invoke(api, "send_invoice")
    invoke(api, "create_negative_feedback_removal")
    api.get_attributes(ORDER_ID, [MARKETPLACE])

    requests: List[RecordedRequest] = server.requests
    assert len(requests) == 6
    assert len(server.connections) == 1
    assert {r.connection_id for r in requests} == {server.connections[0].id}
    assert len({r.client_address for r in requests}) == 1
    assert server.connections[0].request_count == 6
    assert not server.connections[0].closed.is_set()


def test_with_api_client_closes_its_pooled_connections_on_exit(server: RecordingServer) -> None:
    with ApiClient(Configuration(host=server.url)) as client:
        MessagingApi(client).get_attributes(ORDER_ID, [MARKETPLACE])
        MessagingApi(client).get_attributes(ORDER_ID, [MARKETPLACE])
        assert len(server.connections) == 1
        assert not server.connections[0].closed.wait(0.05), "closed while the client is open"
        assert len(client.rest_client.pool_manager.pools) == 1

    assert server.wait_for_connections_closed(timeout=2.0)
    assert len(client.rest_client.pool_manager.pools) == 0
    # Closing is not the end: the client opens a new connection for the next call.
    MessagingApi(client).get_attributes(ORDER_ID, [MARKETPLACE])
    assert len(server.connections) == 2
    assert server.requests[-1].connection_id == server.connections[1].id
    client.close()
    assert server.wait_for_connections_closed(timeout=2.0)


# -- what the mutation run found untested (issue 9, item 13) ----------------------------------


@pytest.mark.parametrize(
    ("value", "raw_value"),
    [
        ("ATVPDKIKX0DER&x=1", "ATVPDKIKX0DER%26x%3D1"),
        ("A1 B#2", "A1%20B%232"),
        ("A/B?C", "A%2FB%3FC"),
        ("\u00e4", "%C3%A4"),
    ],
)
def test_a_query_value_that_needs_encoding_stays_one_query_value(
    value: str, raw_value: str
) -> None:
    # Marketplace ids that need encoding are refused before sending (tests/test_input_hygiene);
    # a query parameter without a known form (other SP-APIs have them) is percent-encoded.
    operation: Operation[Any] = Operation(
        name="search",
        operation_id="search",
        method="GET",
        path="/catalog/items",
        path_params=(),
        query_params=(
            QueryParam("keywords", "keywords", required=True),
            QueryParam("tags", "tags", required=True, is_array=True),
        ),
        response=ModelRef("py_sp_api.generated.messaging.models", "GetAttributesResponse"),
        rate_limit=RateLimit(1.0, 5),
    )
    method, path, body, _ = operation.prepare([value, [value, "plain"]])
    assert (method, body) == ("GET", None)
    assert path == f"/catalog/items?keywords={raw_value}&tags={raw_value},plain"


def test_without_preload_content_applies_the_per_call_timeout(
    api: MessagingApi, server: RecordingServer
) -> None:
    server.enqueue(201, b"{}", delay=3.0)
    started = time.monotonic()

    with pytest.raises(ApiTimeoutError):
        invoke(api, "create_warranty", variant="_without_preload_content", _request_timeout=0.2)

    assert time.monotonic() - started < 2.0
    assert server.request_count == 1


def test_without_preload_content_sends_the_per_call_headers(
    api: MessagingApi, server: RecordingServer
) -> None:
    response = invoke(
        api, "get_attributes", variant="_without_preload_content", _headers={"X-Trace-Id": "t-9"}
    )
    response.read()
    response.release_conn()

    request = server.only_request()
    assert request.headers["X-Trace-Id"] == "t-9"
    _assert_standard_headers(request, sends_body=False)


# -- requests built from an Operation directly (issue 16, item 4) ------------------------------
# The generated modules build their Operations when they are imported, before any test runs;
# these tests build their own, so that what the runtime does with the metadata is exercised
# inside a test (and a mutation run sees it).

ANSWER = ModelRef("py_sp_api.generated.messaging.models", "GetAttributesResponse")


class Note(SpApiModel):
    """A body item whose model keeps unknown fields (as models that also arrive in answers do)."""

    text: Optional[str] = None


class NoteList(RootModel[List[Note]]):
    """A body that is a JSON array, as some SP-APIs' are."""


def _operation(
    path: str = "/things",
    path_params: Tuple[PathParam, ...] = (),
    query_params: Tuple[QueryParam, ...] = (),
    **fields: Any,
) -> Operation[Any]:
    return Operation(
        name="do_thing",
        operation_id="doThing",
        method=fields.pop("method", "GET"),
        path=path,
        path_params=path_params,
        query_params=query_params,
        response=ANSWER,
        rate_limit=RateLimit(1.0, 5),
        **fields,
    )


def test_path_parameters_fill_their_own_places_in_the_template() -> None:
    operation = _operation(
        "/orders/{orderId}/items/{itemId}/notes",
        (PathParam("orderId", "order_id"), PathParam("itemId", "item_id")),
    )
    _, path, _, _ = operation.prepare(["O-1", "item 2"])
    assert path == "/orders/O-1/items/item%202/notes"
    # The pattern HAL action links and the sandbox route by: one segment per parameter, as sent.
    match = operation.path_pattern.fullmatch(path)
    assert match is not None
    assert match.groups() == ("O-1", "item%202")
    assert operation.path_pattern.fullmatch("/orders/O-1/x/items/item/notes") is None
    assert operation.path_pattern.fullmatch("/orders/O-1/items/item") is None


@pytest.mark.parametrize(
    ("resource", "sent"),
    [
        ("/messaging/v1/orders/123-4/messages", "messaging/v1/orders/123-4/messages"),
        ("messaging/v1/orders/123 4/messages", "messaging/v1/orders/123%204/messages"),
        ("/a b/c?d#e/\u00e4", "a%20b/c%3Fd%23e/%C3%A4"),
    ],
)
def test_a_greedy_path_parameter_keeps_its_slashes_and_encodes_each_segment(
    resource: str, sent: str
) -> None:
    # Uploads' {resource}: a path of its own, written by Amazon with or without a leading "/".
    operation = _operation(
        "/uploads/2020-11-01/uploadDestinations/{resource}",
        (PathParam("resource", "resource", greedy=True),),
        method="POST",
    )
    _, path, _, _ = operation.prepare([resource])
    assert path == "/uploads/2020-11-01/uploadDestinations/" + sent
    match = operation.path_pattern.fullmatch(path)
    assert match is not None
    assert match.groups() == (sent,)


@pytest.mark.parametrize(("segment", "sent"), [(".", "%2E"), ("..", "%2E%2E")])
def test_a_dot_segment_is_percent_encoded_as_on_the_wire(segment: str, sent: str) -> None:
    # Upper-case hex, as every other escape and as urllib3 sends it: the path that logs and
    # traces show is the one that went out.
    operation = _operation("/orders/{orderId}", (PathParam("orderId", "order_id"),))
    assert operation.prepare([segment])[1] == "/orders/" + sent


def test_typed_and_repeated_query_parameters_go_out_in_their_wire_forms() -> None:
    operation = _operation(
        query_params=(
            QueryParam("pageSize", "page_size", kind="integer"),
            QueryParam("ids", "ids", is_array=True, kind="integer"),
            QueryParam("tags", "tags", is_array=True, collection="multi"),
            QueryParam("keywords", "keywords"),
        )
    )
    _, path, _, _ = operation.prepare([20, [1, 2], ["red", "a,b"], "x,y"])
    # "multi" repeats the parameter once per item, so an item may hold a comma; a plain
    # string parameter is one value, so its comma is just a character.
    assert path == "/things?pageSize=20&ids=1,2&tags=red&tags=a%2Cb&keywords=x%2Cy"


def test_an_optional_query_parameter_left_out_or_empty_is_not_sent() -> None:
    operation = _operation(
        query_params=(
            QueryParam("ids", "ids", required=False, is_array=True),
            QueryParam("pageSize", "page_size", required=False, kind="integer"),
            QueryParam("tags", "tags", required=False, is_array=True),
        )
    )
    assert operation.prepare([[], None, None])[1] == "/things"
    assert operation.prepare([["A"], None, []])[1] == "/things?ids=A"


def test_one_marketplace_id_goes_out_as_given() -> None:
    operation = _operation(
        query_params=(QueryParam("marketplaceIds", "marketplace_ids", is_array=True),)
    )
    assert operation.prepare([["ATVPDKIKX0DER"]])[1] == "/things?marketplaceIds=ATVPDKIKX0DER"


@pytest.mark.parametrize(
    ("order_param", "query_params", "args", "subject"),
    [
        # No path parameter: no order, and the marketplace still found.
        (False, [("marketplaceIds", True)], [[MARKETPLACE]], (MARKETPLACE, "")),
        # No marketplace parameter.
        (True, [], [ORDER_ID], ("", ORDER_ID)),
        # The singular form, one string, after another parameter.
        (
            True,
            [("other", False), ("marketplaceId", False)],
            [ORDER_ID, "x", MARKETPLACE],
            (MARKETPLACE, ORDER_ID),
        ),
        # An optional marketplace left out, or given as an empty list.
        (True, [("marketplaceId", False)], [ORDER_ID, None], ("", ORDER_ID)),
        (True, [("marketplaceIds", True)], [ORDER_ID, []], ("", ORDER_ID)),
    ],
    ids=["no-order", "no-marketplace", "singular", "marketplace-none", "marketplaces-empty"],
)
def test_the_subject_a_journal_keys_a_message_by(
    order_param: bool,
    query_params: List[Tuple[str, bool]],
    args: List[Any],
    subject: Tuple[str, str],
) -> None:
    # Built here, not at collection: building the Operation is part of what is tested.
    operation = _operation(
        "/orders/{orderId}" if order_param else "/things",
        (PathParam("orderId", "order_id"),) if order_param else (),
        tuple(
            QueryParam(name, name, required=False, is_array=is_array)
            for name, is_array in query_params
        ),
    )
    assert operation.subject(args) == subject


def test_a_removed_operation_warns_once_per_operation_naming_what_was_removed() -> None:
    removal = Removal(removed_on="2025-08-04", model_commit="7c93eb1")
    # Fresh paths: the warning is once per process for each (method, path).
    first = _operation(f"/removed/{uuid.uuid4()}", removed=removal)
    second = _operation(f"/removed/{uuid.uuid4()}", removed=removal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            first.prepare([])
            second.prepare([])
    assert [w.category for w in caught] == [DeprecationWarning, DeprecationWarning]
    message = str(caught[0].message)
    for expected in ("do_thing", "doThing", "2025-08-04", "7c93eb1"):
        assert expected in message


def test_a_model_ref_imports_the_named_class_when_first_asked() -> None:
    from py_sp_api.generated.messaging.models import GetAttributesResponse

    ref = ModelRef("py_sp_api.generated.messaging.models", "GetAttributesResponse")
    assert ref.get() is GetAttributesResponse
    assert ref.get() is GetAttributesResponse
    assert "py_sp_api.generated.messaging.models" in repr(ref)
    assert "GetAttributesResponse" in repr(ref)


def test_a_body_that_is_a_list_is_built_into_its_root_model_and_sent() -> None:
    operation = _operation(method="POST", body=ModelRef(__name__, "NoteList"), body_required=True)
    method, _, payload, content_type = operation.prepare([], [{"text": "a"}, {"text": "b"}])
    assert (method, content_type) == ("POST", "application/json")
    assert payload is not None
    assert json.loads(payload) == [{"text": "a"}, {"text": "b"}]


def test_an_optional_body_left_out_sends_no_body_and_no_content_type() -> None:
    # A Content-Type without a body would claim a JSON document that is not there.
    operation = _operation(method="POST", body=ModelRef(__name__, "NoteList"), body_required=False)
    assert operation.prepare([], None) == ("POST", "/things", None, None)
