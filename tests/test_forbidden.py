"""The 403s every Messaging user meets, each explained for what it is (issue 10, items 2, 5)."""

from __future__ import annotations

import pytest

from py_sp_api import NO_RETRIES
from py_sp_api.generated.messaging import (
    ApiClient,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import (
    ActionNotAvailableException,
    ForbiddenException,
    UnauthorizedException,
)
from py_sp_api.testing import MessagingSandbox
from tests.support import RecordingServer


def refuse(
    server: RecordingServer, status: int, code: str, message: str, details: str = ""
) -> None:
    error = {"code": code, "message": message, "details": details}
    server.enqueue(status, {"errors": [error]}, {"x-amzn-RequestId": "rid-1"})


ORDER = "113-0000000-0000009"
MARKETPLACE = ["ATVPDKIKX0DER"]
BODY = CreateConfirmOrderDetailsRequest(text="Could you confirm the engraving?")


def test_a_message_type_the_order_does_not_offer_is_its_own_forbidden_exception() -> None:
    with MessagingSandbox() as sandbox:
        sandbox.set_actions(ORDER, ["create_unexpected_problem"])
        config = sandbox.configuration(access_token="Atza|x", retry=NO_RETRIES)
        with ApiClient(config) as client, pytest.raises(ActionNotAvailableException) as caught:
            MessagingApi(client).create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    error = caught.value
    assert isinstance(error, ForbiddenException)  # existing handlers still catch it
    assert error.status == 403
    assert error.request_id
    assert [(e.code, e.message) for e in error.errors] == [
        ("Unauthorized", "Invalid amazonOrderId and template combination.")
    ]
    text = str(error)
    assert "does not offer this message type right now" in text
    assert "get_messaging_actions_for_order" in text
    assert "available_actions" in text
    assert "no credentials" not in text  # a token was sent


@pytest.mark.parametrize(
    "details",
    [
        "The access token you provided is revoked, malformed or invalid.",
        "",  # the application lacks the role
    ],
)
def test_other_403s_stay_plain_forbidden(server: RecordingServer, details: str) -> None:
    refuse(server, 403, "Unauthorized", "Access to requested resource is denied.", details)
    config = Configuration(host=server.url, access_token="Atza|x", retry=NO_RETRIES)
    with ApiClient(config) as client, pytest.raises(ForbiddenException) as caught:
        MessagingApi(client).get_attributes(ORDER, MARKETPLACE)
    assert type(caught.value) is ForbiddenException
    assert "no credentials" not in str(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_of_a_request_without_a_token_says_no_credentials_are_configured(
    server: RecordingServer, status: int
) -> None:
    refuse(server, status, "MissingAuthenticationToken", "Access to requested resource is denied.")
    config = Configuration(host=server.url, retry=NO_RETRIES)
    refused = pytest.raises((UnauthorizedException, ForbiddenException))
    with ApiClient(config) as client, refused as caught:
        MessagingApi(client).get_attributes(ORDER, MARKETPLACE)
    text = str(caught.value)
    assert "This client has no credentials configured" in text
    assert "LwaCredentials.from_env()" in text
    assert "first-live-call.md" in text


def test_a_per_call_token_counts_as_credentials(server: RecordingServer) -> None:
    refuse(server, 403, "Unauthorized", "Access to requested resource is denied.")
    config = Configuration(host=server.url, retry=NO_RETRIES)
    with ApiClient(config) as client, pytest.raises(ForbiddenException) as caught:
        MessagingApi(client).get_attributes(
            ORDER, MARKETPLACE, _headers={"x-amz-access-token": "Atza|rdt"}
        )
    assert "no credentials" not in str(caught.value)


def test_an_action_not_available_without_a_token_does_not_blame_missing_credentials() -> None:
    # The sandbox answers without a token; its "not available" 403 is about the order, so the
    # message must not also say that credentials are missing (it said both, contradicting itself).
    with MessagingSandbox() as sandbox:
        sandbox.set_actions(ORDER, ["create_unexpected_problem"])
        config = sandbox.configuration(retry=NO_RETRIES)
        with ApiClient(config) as client, pytest.raises(ActionNotAvailableException) as caught:
            MessagingApi(client).create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    text = str(caught.value)
    assert "does not offer this message type right now" in text
    assert "no credentials configured" not in text
