"""Solicitations (issue 14): the generated SolicitationsApi against the local sandbox.

Every test talks to a real MessagingSandbox on 127.0.0.1, which serves the Solicitations API
from its bundled spec next to Messaging: Amazon's static cases in strict mode, and in the
simulator the once-per-order rule (a second request gets Amazon's 403).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, List, Mapping

import pytest

from py_sp_api import NO_RETRIES
from py_sp_api.generated.messaging import CreateUnexpectedProblemRequest, MessagingApi
from py_sp_api.generated.solicitations import ApiClient, Configuration, SolicitationsApi
from py_sp_api.generated.solicitations.exceptions import (
    ActionNotAvailableException,
    ApiTypeError,
    ApiValueError,
    BadRequestException,
    DuplicateSendError,
    ForbiddenException,
    TooManyRequestsException,
)
from py_sp_api.runtime.base_api import BaseApi
from py_sp_api.runtime.bulk import (
    ALREADY_SENT,
    INVALID,
    NOT_AVAILABLE,
    REJECTED,
    SENT,
    Job,
    send_many,
)
from py_sp_api.runtime.journal import SendJournal, SendKey
from py_sp_api.runtime.operation import Operation
from py_sp_api.testing import MessagingSandbox
from tests.support import RecordingServer

STATIC_ORDER = "123-1234567-1234567"
ORDER = "113-0000000-0000101"
MARKETPLACE = ["ATVPDKIKX0DER"]
REVIEW = "create_product_review_and_seller_feedback_solicitation"
LIST = "get_solicitation_actions_for_order"
AMAZON_403 = "The requested solicitation is not available for this amazonOrderId."
SPEC = json.loads(
    (Path(__file__).resolve().parents[1] / "py_sp_api" / "specs" / "solicitations.json").read_text()
)


@pytest.fixture
def simulator() -> Iterator[MessagingSandbox]:
    with MessagingSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def api(simulator: MessagingSandbox) -> Iterator[SolicitationsApi]:
    config = simulator.configuration(retry=NO_RETRIES, rate_limiting=False)
    with ApiClient(config) as client:
        yield SolicitationsApi(client)


def listed(api: SolicitationsApi, order: str) -> List[str]:
    return api.available_actions(api.get_solicitation_actions_for_order(order, MARKETPLACE))


def static_response(operation_id: str, status: str) -> Any:
    for item in SPEC["paths"].values():
        for op in item.values():
            if op["operationId"] == operation_id:
                return op["responses"][status]["x-amzn-api-sandbox"]["static"][0]["response"]
    raise AssertionError(operation_id)


# -- the generated package ----------------------------------------------------------------------


def test_both_operations_with_their_usage_plans() -> None:
    assert sorted(SolicitationsApi.operations) == [REVIEW, LIST]
    review, lister = SolicitationsApi.operations[REVIEW], SolicitationsApi.operations[LIST]
    assert (review.method, review.success_status, review.body) == ("POST", 201, None)
    assert (lister.method, lister.success_status) == ("GET", 200)
    for name in (REVIEW, LIST):
        plan = SolicitationsApi.rate_limit(name)
        assert (plan.rate, plan.burst, plan.documented) == (1.0, 5, True)
    assert SolicitationsApi.actions_operation() is lister
    assert (
        MessagingApi.actions_operation()
        is MessagingApi.operations["get_messaging_actions_for_order"]
    )


# -- strict: Amazon's static sandbox ------------------------------------------------------------


@pytest.fixture
def strict_api() -> Iterator[SolicitationsApi]:
    with MessagingSandbox(strict=True) as sandbox:
        config = sandbox.configuration(access_token="Atza|sandbox", retry=NO_RETRIES)
        with ApiClient(config) as client:
            yield SolicitationsApi(client)


def test_strict_replays_the_static_cases(strict_api: SolicitationsApi) -> None:
    answer = strict_api.get_solicitation_actions_for_order_with_http_info(STATIC_ORDER, MARKETPLACE)
    assert answer.status_code == 200
    assert json.loads(answer.raw_data) == static_response("getSolicitationActionsForOrder", "200")
    assert strict_api.available_actions(answer.data) == [REVIEW]
    sent = strict_api.create_product_review_and_seller_feedback_solicitation_with_http_info(
        STATIC_ORDER, MARKETPLACE
    )
    assert (sent.status_code, json.loads(sent.raw_data)) == (201, {})
    # Amazon's case names only the order: it is answered again, for any marketplace.
    again = strict_api.create_product_review_and_seller_feedback_solicitation_with_http_info(
        STATIC_ORDER, ["A1PA6795UKMFR9"]
    )
    assert again.status_code == 201


@pytest.mark.parametrize(
    "call",
    [
        lambda api: api.get_solicitation_actions_for_order(ORDER, MARKETPLACE),
        lambda api: api.get_solicitation_actions_for_order(STATIC_ORDER, ["A1PA6795UKMFR9"]),
        lambda api: api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE),
    ],
    ids=["other-order", "other-marketplace", "other-order-create"],
)
def test_strict_refuses_anything_else(
    strict_api: SolicitationsApi, call: Callable[[SolicitationsApi], Any]
) -> None:
    with pytest.raises(BadRequestException) as caught:
        call(strict_api)
    assert [(e.code, e.message) for e in caught.value.errors] == [
        ("InvalidInput", "Could not match input arguments")
    ]


# -- the simulator: one solicitation per order --------------------------------------------------


def test_an_order_offers_the_solicitation_until_it_is_requested(
    simulator: MessagingSandbox, api: SolicitationsApi
) -> None:
    answer = api.get_solicitation_actions_for_order_with_http_info(ORDER, MARKETPLACE)
    assert api.available_actions(answer.data) == [REVIEW]
    assert api.order_actions(ORDER, MARKETPLACE[0]) == [REVIEW]
    document = json.loads(answer.raw_data)
    href = (
        f"/solicitations/v1/orders/{ORDER}/solicitations/productReviewAndSellerFeedback"
        "?marketplaceIds=ATVPDKIKX0DER"
    )
    assert document["_links"]["actions"] == [
        {"href": href, "name": "productReviewAndSellerFeedback"}
    ]
    assert document["_links"]["self"] == {
        "href": f"/solicitations/v1/orders/{ORDER}?marketplaceIds=ATVPDKIKX0DER"
    }

    sent = api.create_product_review_and_seller_feedback_solicitation_with_http_info(
        ORDER, MARKETPLACE
    )
    assert sent.status_code == 201
    assert sent.request_id
    assert listed(api, ORDER) == []
    assert simulator.actions(ORDER, "solicitations") == []


def test_a_second_solicitation_is_amazons_403_typed_with_its_request_id(
    simulator: MessagingSandbox, api: SolicitationsApi
) -> None:
    api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE)
    with pytest.raises(ActionNotAvailableException) as caught:
        api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE)
    error = caught.value
    assert isinstance(error, ForbiddenException)
    assert error.status == 403
    assert [(e.code, e.message, e.details) for e in error.errors] == [
        ("Unauthorized", AMAZON_403, "")
    ]
    recorded = simulator.requests_for(REVIEW)
    assert [r.status for r in recorded] == [201, 403]
    assert error.request_id
    assert error.request_id in str(error)
    assert "solicitation" in str(error)
    assert "get_solicitation_actions_for_order" in str(error)


def test_an_order_outside_the_window_offers_no_solicitation(
    simulator: MessagingSandbox, api: SolicitationsApi
) -> None:
    simulator.set_actions(ORDER, [])  # not shipped yet, or outside the 5-30 day window
    assert listed(api, ORDER) == []
    with pytest.raises(ActionNotAvailableException):
        api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE)


def test_messages_and_the_solicitation_are_separate_actions(
    simulator: MessagingSandbox, api: SolicitationsApi
) -> None:
    with ApiClient(simulator.configuration(retry=NO_RETRIES, rate_limiting=False)) as client:
        messaging = MessagingApi(client)
        problem = CreateUnexpectedProblemRequest(text="Your parcel is delayed by a day.")
        messaging.create_unexpected_problem(ORDER, MARKETPLACE, problem)
        api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE)
        offered = messaging.available_actions(
            messaging.get_messaging_actions_for_order(ORDER, MARKETPLACE)
        )
    assert "create_unexpected_problem" not in offered
    assert "create_confirm_order_details" in offered  # a solicitation takes no message type
    assert simulator.solicitation_types() == [REVIEW]
    assert REVIEW not in simulator.message_types()
    simulator.set_actions(ORDER, [REVIEW])
    assert simulator.actions(ORDER, None) == [REVIEW]
    assert simulator.actions(ORDER) == simulator.actions(ORDER, "messaging") == []


def test_the_static_order_replays_in_the_simulator_too(api: SolicitationsApi) -> None:
    for _ in range(2):  # Amazon's example, not a real order: it is answered every time
        api.create_product_review_and_seller_feedback_solicitation(STATIC_ORDER, MARKETPLACE)


@pytest.mark.parametrize("order", ["1", "123-123-123", "abc-1234567-1234567"])
def test_an_order_id_not_of_amazons_form_is_invalid_input(
    api: SolicitationsApi, order: str
) -> None:
    with pytest.raises(BadRequestException) as caught:
        api.create_product_review_and_seller_feedback_solicitation(order, MARKETPLACE)
    assert caught.value.errors[0].code == "InvalidInput"


def test_rate_limit_metadata_and_enforcement() -> None:
    with MessagingSandbox(enforce_rate_limits=True) as sandbox:
        config = sandbox.configuration(retry=NO_RETRIES, rate_limiting=False)
        with ApiClient(config) as client:
            api = SolicitationsApi(client)
            answer = api.get_solicitation_actions_for_order_with_http_info(ORDER, MARKETPLACE)
            assert answer.rate_limit == "1"
            for _ in range(4):  # the burst of 5, spent
                api.get_solicitation_actions_for_order(ORDER, MARKETPLACE)
            with pytest.raises(TooManyRequestsException):
                api.get_solicitation_actions_for_order(ORDER, MARKETPLACE)
            # Each operation has a bucket of its own.
            api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE)
    assert [r.status for r in sandbox.requests_for(LIST)] == [200] * 5 + [429]


# -- bad input: refused before anything is sent -------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((ORDER, ["ATVPDKIKX0DER", "A1PA6795UKMFR9"]), ApiValueError),
        ((ORDER, []), ApiValueError),
        ((ORDER, "ATVPDKIKX0DER"), ApiTypeError),
        ((ORDER, ["atvpdkikx0der"]), ApiValueError),
        (("", MARKETPLACE), ApiValueError),
        ((" 113-0000000-0000101", MARKETPLACE), ApiValueError),
        ((113, MARKETPLACE), ApiTypeError),
    ],
    ids=["two-marketplaces", "none", "str", "lower-case", "empty-order", "space", "int-order"],
)
def test_bad_input_is_refused_before_sending(
    simulator: MessagingSandbox, api: SolicitationsApi, args: Any, error: type
) -> None:
    with pytest.raises(error):
        api.create_product_review_and_seller_feedback_solicitation(*args)
    with pytest.raises(error):
        api.get_solicitation_actions_for_order(*args)
    assert simulator.requests == []


# -- the send journal ---------------------------------------------------------------------------


def journaled(sandbox: MessagingSandbox, path: Path) -> ApiClient:
    journal = SendJournal.sqlite(str(path))
    config = sandbox.configuration(
        journal=journal, seller_id="A2SELLER", retry=NO_RETRIES, rate_limiting=False
    )
    return ApiClient(config)


def test_a_journaled_solicitation_is_not_sent_again(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    with journaled(simulator, path) as client:
        SolicitationsApi(client).create_product_review_and_seller_feedback_solicitation(
            ORDER, MARKETPLACE
        )
    # A second run (a new client, the same journal) is refused before anything leaves.
    with journaled(simulator, path) as client:
        with pytest.raises(DuplicateSendError) as caught:
            SolicitationsApi(client).create_product_review_and_seller_feedback_solicitation(
                ORDER, MARKETPLACE
            )
        config = client.configuration
        key = SendKey.for_message(
            config, SolicitationsApi.operations[REVIEW], MARKETPLACE[0], ORDER
        )
        entry = config.journal.get(key) if config.journal else None
    assert caught.value.state == "sent"
    assert [r.status for r in simulator.requests_for(REVIEW)] == [201]
    assert entry is not None
    assert (entry.state, entry.status, entry.operation) == (
        "sent",
        201,
        "createProductReviewAndSellerFeedbackSolicitation",
    )
    assert entry.request_id == simulator.requests_for(REVIEW)[0].headers.get(
        "x-amzn-requestid", entry.request_id
    )


def test_the_403_after_the_first_is_journaled_rejected(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    # Requested once outside the journal (Seller Central's button, another tool)...
    with ApiClient(simulator.configuration(retry=NO_RETRIES, rate_limiting=False)) as client:
        SolicitationsApi(client).create_product_review_and_seller_feedback_solicitation(
            ORDER, MARKETPLACE
        )
    # ...then through it: Amazon's 403 comes back typed, and is recorded as rejected.
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        with pytest.raises(ActionNotAvailableException) as caught:
            SolicitationsApi(client).create_product_review_and_seller_feedback_solicitation(
                ORDER, MARKETPLACE
            )
        assert client.configuration.journal is not None
        entries = client.configuration.journal.entries()
    assert [(e.state, e.status, e.request_id) for e in entries] == [
        ("rejected", 403, caught.value.request_id)
    ]
    assert caught.value.request_id


def test_send_key_names_a_deliberate_repeat(simulator: MessagingSandbox, tmp_path: Path) -> None:
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        api = SolicitationsApi(client)
        api.create_product_review_and_seller_feedback_solicitation(ORDER, MARKETPLACE)
        with pytest.raises(ActionNotAvailableException):
            api.create_product_review_and_seller_feedback_solicitation(
                ORDER, MARKETPLACE, _send_key="retry-after-support-case"
            )
    assert [r.status for r in simulator.requests_for(REVIEW)] == [201, 403]


# -- send_many ----------------------------------------------------------------------------------


def review_jobs(*orders: str) -> List[Job]:
    return [Job(REVIEW, order, MARKETPLACE[0], line=n) for n, order in enumerate(orders, 2)]


def test_send_many_requests_reviews_and_a_rerun_resends_nothing(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    orders = [f"113-0000000-000020{n}" for n in range(3)]
    simulator.set_actions(orders[2], [])  # outside the window: Amazon's 403
    path = tmp_path / "journal.sqlite"
    with journaled(simulator, path) as client:
        first = send_many(client, review_jobs(*orders), api=SolicitationsApi, progress=False)
    assert [r.outcome for r in first.results] == [SENT, SENT, REJECTED]
    assert [r.status for r in first.results] == [201, 201, 403]
    assert all(r.request_id for r in first.results)
    assert first.exit_code == 1
    with journaled(simulator, path) as client:
        again = send_many(client, review_jobs(*orders), api=SolicitationsApi, progress=False)
    # Sent ones are skipped; the rejected one may be tried again (and is refused again).
    assert [r.outcome for r in again.results] == [ALREADY_SENT, ALREADY_SENT, REJECTED]
    assert [r.status for r in simulator.requests_for(REVIEW)] == [201, 201, 403, 403]


def test_send_many_check_actions_asks_the_solicitations_read(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    orders = ["113-0000000-0000301", "113-0000000-0000302"]
    simulator.set_actions(orders[1], [])
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        report = send_many(
            client,
            review_jobs(*orders),
            api=SolicitationsApi,
            check_actions=True,
            progress=False,
        )
    assert [r.outcome for r in report.results] == [SENT, NOT_AVAILABLE]
    assert [r.order_id for r in simulator.requests_for(LIST)] == orders
    assert [r.order_id for r in simulator.requests_for(REVIEW)] == orders[:1]
    assert "get_messaging_actions_for_order" not in {r.operation for r in simulator.requests}


def test_send_many_runs_messages_and_solicitations_together(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    jobs = [
        Job("create_unexpected_problem", ORDER, MARKETPLACE[0], {"text": "Delayed a day."}),
        Job(REVIEW, ORDER, MARKETPLACE[0]),
    ]
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        report = send_many(
            client, jobs, api=[MessagingApi, SolicitationsApi], check_actions=True, progress=False
        )
        entries = client.configuration.journal.entries() if client.configuration.journal else []
    assert [r.outcome for r in report.results] == [SENT, SENT]
    assert sorted(e.operation for e in entries) == [
        "createProductReviewAndSellerFeedbackSolicitation",
        "createUnexpectedProblem",
    ]


@pytest.mark.parametrize(
    ("jobs", "api", "outcome"),
    [
        ([Job(REVIEW, ORDER, MARKETPLACE[0])], None, INVALID),  # Messaging's methods only
        ([Job(LIST, ORDER, MARKETPLACE[0])], SolicitationsApi, INVALID),  # a read sends nothing
        ([Job(REVIEW, ORDER, MARKETPLACE[0], body={"text": "x"})], SolicitationsApi, INVALID),
        ([Job(REVIEW, "113-0000000-000010", MARKETPLACE[0])], SolicitationsApi, REJECTED),
        ([Job(REVIEW, ORDER, "atvpdkikx0der")], SolicitationsApi, INVALID),
    ],
    ids=["not-messaging", "a-read", "a-body", "order-form", "marketplace-form"],
)
def test_send_many_refuses_what_is_not_a_solicitation(
    simulator: MessagingSandbox, tmp_path: Path, jobs: List[Job], api: Any, outcome: str
) -> None:
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        report = send_many(client, jobs, api=api, progress=False)
    assert [r.outcome for r in report.results] == [outcome]
    sent = [r for r in simulator.requests if r.operation == REVIEW]
    assert len(sent) == (1 if outcome == REJECTED else 0)  # the sandbox's 400 for the form


def test_send_many_refuses_a_bad_api_before_sending(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        with pytest.raises(ApiTypeError):
            send_many(client, review_jobs(ORDER), api=[SolicitationsApi, "SolicitationsApi"])  # type: ignore[list-item]  # a str on purpose
        with pytest.raises(ApiValueError):
            send_many(client, review_jobs(ORDER), api=[])
    assert simulator.requests == []


def test_order_actions_needs_an_api_that_lists_actions(api: SolicitationsApi) -> None:
    class NoActions(BaseApi):
        operations: ClassVar[Mapping[str, Operation[Any]]] = {}

    assert NoActions.actions_operation() is None
    with pytest.raises(ApiValueError, match="NoActions has no operation listing"):
        NoActions(api.api_client).order_actions(ORDER, MARKETPLACE[0])


# -- review fixes ----------------------------------------------------------------------------


def test_an_order_id_with_non_ascii_digits_is_invalid_input(api: SolicitationsApi) -> None:
    # Arabic-Indic digits match ``\d`` but are no Amazon order id: Amazon refuses them.
    with pytest.raises(BadRequestException) as caught:
        api.create_product_review_and_seller_feedback_solicitation(
            "113-\u0660\u0660\u0660\u0660\u0660\u0660\u0660-0000101", MARKETPLACE
        )
    assert caught.value.errors[0].code == "InvalidInput"


def test_sandbox_actions_keeps_listing_message_types_by_default(
    simulator: MessagingSandbox,
) -> None:
    # Tests written for Messaging compare actions(order) with the Messaging read: serving
    # Solicitations too must not add the review request to that list.
    with ApiClient(simulator.configuration()) as client:
        messaging = MessagingApi(client)
        read = messaging.order_actions(ORDER, MARKETPLACE[0])
    assert simulator.actions(ORDER) == sorted(read) == sorted(simulator.message_types())
    assert simulator.actions(ORDER, "solicitations") == [REVIEW]
    assert simulator.actions(ORDER, None) == sorted([*read, REVIEW])


@pytest.mark.parametrize("api_name", ["solicitation", "Messaging", ""])
def test_sandbox_refuses_an_api_it_does_not_serve(
    simulator: MessagingSandbox, api_name: str
) -> None:
    # A misspelt API would list nothing, and a test asserting "nothing offered" would pass.
    with pytest.raises(ValueError, match="messaging, solicitations"):
        simulator.actions(ORDER, api_name)
    with pytest.raises(ValueError, match="messaging, solicitations"):
        simulator.action_types(api_name)


def test_send_many_refuses_an_api_instance_with_a_typed_error(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    # SolicitationsApi(client) for SolicitationsApi is the natural slip: a TypeError from
    # deep inside (not iterable) named neither the argument nor the fix.
    expected = pytest.raises(ApiTypeError, match="api must be a generated API class")
    with journaled(simulator, tmp_path / "journal.sqlite") as client, expected:
        send_many(client, review_jobs(ORDER), api=SolicitationsApi(client))  # type: ignore[arg-type]  # the slip under test
    assert simulator.requests == []


def test_a_job_of_an_api_not_given_says_to_pass_api(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    # The review request sends something: "not an operation that sends a message" sent the
    # reader looking for a typo instead of the missing api=SolicitationsApi.
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        report = send_many(client, review_jobs(ORDER), progress=False)
    (result,) = report.results
    assert result.outcome == INVALID
    assert result.error is not None
    assert "not an operation that sends a message" not in result.error
    assert f"{REVIEW!r} is not an operation of MessagingApi that sends" in result.error
    assert "api=" in result.error
    assert simulator.requests == []


@pytest.mark.parametrize("apostrophe", ["\u2019", "'"])
def test_the_outside_the_window_403_is_action_not_available(apostrophe: str) -> None:
    # Amazon's answer for an order outside the 5-30 day window (selling-partner-api-models
    # issues 121 and 779) is another message than the second request's: it is no credentials
    # problem either, and a batch that stops on ForbiddenException must not stop on it.
    message = (
        f"You can{apostrophe}t use this feature to request a review outside the 5-30 day range "
        "after the order delivery date."
    )
    with RecordingServer() as server:
        error = {"code": "Unauthorized", "message": message, "details": ""}
        server.enqueue(403, {"errors": [error]}, {"x-amzn-RequestId": "rid-1"})
        config = Configuration(server.url, access_token="Atza|x", retry=NO_RETRIES)
        with ApiClient(config) as client, pytest.raises(ActionNotAvailableException) as caught:
            SolicitationsApi(client).create_product_review_and_seller_feedback_solicitation(
                ORDER, MARKETPLACE
            )
    text = str(caught.value)
    assert "get_solicitation_actions_for_order" in text
    assert "window" in text


def test_send_many_refuses_one_order_in_two_marketplaces(
    simulator: MessagingSandbox, tmp_path: Path
) -> None:
    # Each marketplace id is another journal key: the second job would ask the buyer again.
    jobs = [
        Job(REVIEW, ORDER, MARKETPLACE[0], line=2),
        Job(REVIEW, ORDER, "A2EUQ1WTGCTBG2", line=3),
    ]
    with journaled(simulator, tmp_path / "journal.sqlite") as client:
        report = send_many(client, jobs, api=SolicitationsApi, progress=False)
    assert [r.outcome for r in report.results] == [SENT, INVALID]
    assert report.results[1].error == (
        f"line 3: order {ORDER} is also on line 2, with marketplace {MARKETPLACE[0]}: an order "
        "has one marketplace; nothing was sent"
    )
    assert [r.query["marketplaceIds"] for r in simulator.requests_for(REVIEW)] == MARKETPLACE
