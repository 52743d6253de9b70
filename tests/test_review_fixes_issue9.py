"""Defects an adversarial review of issue 9's changes found; each test fails without its fix."""

from __future__ import annotations

import pytest

from py_sp_api import NO_RETRIES
from py_sp_api.generated.messaging import (
    ApiClient,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import ApiConnectionError, ApiValueError
from tests.support import RecordingServer

ORDER = "113-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
PROXY_SECRET = "Basic dXNlcjpTM0NSM1Q="


@pytest.mark.parametrize("value", [PROXY_SECRET + "\n", PROXY_SECRET + "\r", "B\u20acsic x"])
def test_a_proxy_header_http_cannot_carry_is_refused_naming_only_the_header(value: str) -> None:
    with pytest.raises(ApiValueError) as caught:
        Configuration(proxy="http://127.0.0.1:9", proxy_headers={"Proxy-Authorization": value})
    assert "Proxy-Authorization" in str(caught.value)
    assert "dXNlcjpTM0NSM1Q" not in str(caught.value)


def test_a_success_whose_body_is_cut_off_says_the_request_succeeded(
    server: RecordingServer,
) -> None:
    # 201 arrives, then the connection drops before the announced body: the message was sent.
    server.enqueue(201, b'{"err', content_length=100)
    body = CreateConfirmOrderDetailsRequest(text="Your engraving is ready.")
    config = Configuration(host=server.url, retry=NO_RETRIES)
    with ApiClient(config) as client, pytest.raises(ApiConnectionError) as caught:
        MessagingApi(client).create_confirm_order_details(ORDER, MARKETPLACE, body)
    text = str(caught.value)
    assert "answered 201 (the request succeeded)" in text
    assert "no response" not in text
    assert caught.value.request_sent is True
    assert len(server.requests) == 1  # and it was not sent again
