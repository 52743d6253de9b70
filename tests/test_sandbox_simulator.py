"""The sandbox behaves like Amazon: the strict static sandbox, and the production simulator."""

from __future__ import annotations

import json
from typing import Callable, Iterator, List

import pytest

from py_sp_api import NO_RETRIES
from py_sp_api.generated.messaging import (
    ApiClient,
    CreateConfirmOrderDetailsRequest,
    CreateUnexpectedProblemRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import BadRequestException, ForbiddenException
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.testing import MessagingSandbox
from tests.support.messaging import sandbox_request_body, sandbox_response

STATIC_ORDER = "123-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
ORDER = "113-0000000-0000001"
TEXT_ONLY = CreateConfirmOrderDetailsRequest(text="Could you confirm the engraving?")


@pytest.fixture
def simulator() -> Iterator[MessagingSandbox]:
    with MessagingSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def api(simulator: MessagingSandbox) -> Iterator[MessagingApi]:
    config = simulator.configuration(retry=NO_RETRIES, rate_limiting=False)
    with ApiClient(config) as client:
        yield MessagingApi(client)


def listed(api: MessagingApi, order: str) -> List[str]:
    return api.available_actions(api.get_messaging_actions_for_order(order, MARKETPLACE))


# -- strict: Amazon's static sandbox -------------------------------------------------------------


@pytest.fixture
def strict_api() -> Iterator[MessagingApi]:
    with MessagingSandbox(strict=True) as sandbox:
        config = sandbox.configuration(access_token="Atza|sandbox", retry=NO_RETRIES)
        with ApiClient(config) as client:
            yield MessagingApi(client)


def test_strict_answers_the_static_cases(strict_api: MessagingApi) -> None:
    assert strict_api.get_attributes(STATIC_ORDER, MARKETPLACE).buyer is not None
    body = sandbox_request_body("create_confirm_order_details")
    assert body is not None
    strict_api.create_confirm_order_details(
        STATIC_ORDER, MARKETPLACE, CreateConfirmOrderDetailsRequest.from_dict(body)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda api: api.get_attributes(ORDER, MARKETPLACE),  # another order
        lambda api: api.get_messaging_actions_for_order("123-1234567-7654321", MARKETPLACE),
        lambda api: api.create_confirm_order_details(STATIC_ORDER, MARKETPLACE, TEXT_ONLY),
    ],
    ids=["other-order", "other-order-actions", "other-body"],
)
def test_strict_refuses_anything_else_as_amazon_does(
    strict_api: MessagingApi, call: Callable[[MessagingApi], object]
) -> None:
    with pytest.raises(BadRequestException) as caught:
        call(strict_api)
    assert [(e.code, e.message) for e in caught.value.errors] == [
        ("InvalidInput", "Could not match input arguments")
    ]


def test_strict_refuses_a_request_without_a_token() -> None:
    with MessagingSandbox(strict=True) as sandbox, ApiClient(sandbox.configuration()) as client:
        with pytest.raises(ForbiddenException) as caught:
            MessagingApi(client).get_attributes(STATIC_ORDER, MARKETPLACE)
        recorded = sandbox.requests
    assert [(e.code, e.message) for e in caught.value.errors] == [
        ("MissingAuthenticationToken", "Access to requested resource is denied.")
    ]
    assert [r.status for r in recorded] == [403]


# -- the default: a simulator of production ------------------------------------------------------


def test_an_unconfigured_order_offers_every_message_type(
    simulator: MessagingSandbox, api: MessagingApi
) -> None:
    every = sorted(op.name for op in OPERATIONS.values() if op.method == "POST")
    assert sorted(listed(api, ORDER)) == every == sorted(simulator.message_types())


def test_set_actions_decides_what_an_order_lists_and_accepts(
    simulator: MessagingSandbox, api: MessagingApi
) -> None:
    simulator.set_actions(ORDER, ["create_unexpected_problem"])
    assert listed(api, ORDER) == ["create_unexpected_problem"]
    with pytest.raises(ForbiddenException) as caught:
        api.create_confirm_order_details(ORDER, MARKETPLACE, TEXT_ONLY)
    assert [(e.code, e.message) for e in caught.value.errors] == [
        ("Unauthorized", "Invalid amazonOrderId and template combination.")
    ]
    problem = CreateUnexpectedProblemRequest(text="Your parcel is delayed by a day.")
    api.create_unexpected_problem(ORDER, MARKETPLACE, problem)
    # Other orders are unaffected.
    assert "create_confirm_order_details" in listed(api, "113-0000000-0000002")


def test_an_order_with_no_actions_refuses_every_message(
    simulator: MessagingSandbox, api: MessagingApi
) -> None:
    simulator.set_actions(ORDER, [])  # e.g. not shipped yet
    assert listed(api, ORDER) == []
    with pytest.raises(ForbiddenException):
        api.create_confirm_order_details(ORDER, MARKETPLACE, TEXT_ONLY)


def test_a_message_type_sent_once_disappears_from_the_order(
    simulator: MessagingSandbox, api: MessagingApi
) -> None:
    api.create_confirm_order_details(ORDER, MARKETPLACE, TEXT_ONLY)
    assert "create_confirm_order_details" not in listed(api, ORDER)
    assert sorted(listed(api, ORDER)) == simulator.actions(ORDER, "messaging")
    with pytest.raises(ForbiddenException):
        api.create_confirm_order_details(ORDER, MARKETPLACE, TEXT_ONLY)
    statuses = [r.status for r in simulator.requests_for("create_confirm_order_details")]
    assert statuses == [201, 403]


def test_a_repeatable_type_can_be_sent_again() -> None:
    with MessagingSandbox(repeatable=["create_unexpected_problem"]) as sandbox:
        config = sandbox.configuration(retry=NO_RETRIES, rate_limiting=False)
        with ApiClient(config) as client:
            api = MessagingApi(client)
            problem = CreateUnexpectedProblemRequest(text="Delayed again, sorry.")
            api.create_unexpected_problem(ORDER, MARKETPLACE, problem)
            api.create_unexpected_problem(ORDER, MARKETPLACE, problem)
            assert "create_unexpected_problem" in listed(api, ORDER)


@pytest.mark.parametrize("order", ["1", "123-123-123", "abc-1234567-1234567", "1231234567123456"])
def test_an_order_id_not_of_amazons_form_is_invalid_input(api: MessagingApi, order: str) -> None:
    with pytest.raises(BadRequestException) as caught:
        api.get_attributes(order, MARKETPLACE)
    assert caught.value.errors[0].code == "InvalidInput"
    assert order in caught.value.errors[0].message


def test_a_digital_order_id_is_of_amazons_form(api: MessagingApi) -> None:
    assert api.get_attributes("D01-1234567-1234567", MARKETPLACE).buyer is not None


def test_set_actions_refuses_names_that_are_not_message_types(simulator: MessagingSandbox) -> None:
    with pytest.raises(ValueError, match="get_attributes"):
        simulator.set_actions(ORDER, ["get_attributes"])


def test_reset_forgets_what_was_sent(simulator: MessagingSandbox, api: MessagingApi) -> None:
    simulator.set_actions(ORDER, ["create_confirm_order_details"])
    api.create_confirm_order_details(ORDER, MARKETPLACE, TEXT_ONLY)
    assert listed(api, ORDER) == []
    simulator.reset()
    assert "create_confirm_order_details" in listed(api, ORDER)


def test_the_static_cases_still_replay_exactly_in_the_simulator(api: MessagingApi) -> None:
    response = api.get_messaging_actions_for_order_with_http_info(STATIC_ORDER, MARKETPLACE)
    assert json.loads(response.raw_data) == sandbox_response("get_messaging_actions_for_order")
