"""A configured send journal: what each outcome of a call records, against real local servers.

The backends' own behaviour (atomic claims, expiry, durability) is tests/test_journal_backends.py;
this file checks the wiring: which calls are journaled, and what each answer or failure means.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator, List

import pytest

from py_sp_api import NO_RETRIES, RateLimit, RateLimiting
from py_sp_api.generated.messaging import (
    ApiClient,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
)
from py_sp_api.generated.messaging.exceptions import (
    ApiConnectionError,
    ApiResponseError,
    ApiValueError,
    BadRequestException,
    DuplicateSendError,
    RateLimitWaitExceeded,
    ServiceException,
    TooManyRequestsException,
)
from py_sp_api.runtime.journal import MemoryJournalBackend, SendJournal, SendKey
from tests.support import RecordingServer

ORDER = "113-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]
BODY = CreateConfirmOrderDetailsRequest(text="Could you confirm the engraving?")
OPERATION = "createConfirmOrderDetails"
SENT_HEADERS = {"x-amzn-RequestId": "rid-sent"}


@pytest.fixture
def journal() -> SendJournal:
    return SendJournal.memory()


def make_api(server: RecordingServer, journal: SendJournal, **options: Any) -> MessagingApi:
    options.setdefault("retry", NO_RETRIES)
    options.setdefault("rate_limiting", False)
    return MessagingApi(ApiClient(Configuration(host=server.url, journal=journal, **options)))


@pytest.fixture
def api(server: RecordingServer, journal: SendJournal) -> Iterator[MessagingApi]:
    api = make_api(server, journal)
    yield api
    api.api_client.close()


def key_of(api: MessagingApi, caller_key: Any = None) -> SendKey:
    identity = api.api_client.configuration.rate_limit_identity
    return SendKey(identity, MARKETPLACE[0], ORDER, OPERATION, caller_key)


def send(api: MessagingApi, **kwargs: Any) -> Any:
    return api.create_confirm_order_details(ORDER, MARKETPLACE, BODY, **kwargs)


def states(journal: SendJournal) -> List[str]:
    return [entry.state for entry in journal.entries()]


# -- the guarantee ------------------------------------------------------------------------------


def test_a_sent_message_is_recorded_and_never_sent_again(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(201, {}, SENT_HEADERS)
    send(api)
    entry = journal.get(key_of(api))
    assert entry is not None
    assert (entry.state, entry.request_id, entry.status) == ("sent", "rid-sent", 201)
    assert (entry.order_id, entry.marketplace_id, entry.operation) == (
        ORDER,
        "ATVPDKIKX0DER",
        OPERATION,
    )
    assert entry.body_sha256 is not None  # a hash, not the message
    assert entry.body is None

    with pytest.raises(DuplicateSendError) as caught:
        send(api)
    assert caught.value.state == "sent"
    assert caught.value.entry.request_id == "rid-sent"
    assert "nothing was sent" in str(caught.value)
    assert len(server.requests) == 1


def test_a_send_key_names_a_deliberate_repeat(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(201, {}, SENT_HEADERS)
    server.enqueue(201, {}, SENT_HEADERS)
    send(api)
    send(api, _send_key="reminder-2")
    with pytest.raises(DuplicateSendError):
        send(api, _send_key="reminder-2")
    assert len(server.requests) == 2
    assert [e.caller_key for e in journal.entries()] == [None, "reminder-2"]


def test_reads_are_never_journaled(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(200, {"buyer": {"locale": "en-US"}})
    server.enqueue(200, {"buyer": {"locale": "en-US"}})
    api.get_attributes(ORDER, MARKETPLACE)
    api.get_attributes(ORDER, MARKETPLACE)
    assert journal.entries() == []
    assert len(server.requests) == 2


def test_without_a_journal_nothing_changes(server: RecordingServer) -> None:
    server.enqueue(201, {})
    server.enqueue(201, {})
    config = Configuration(host=server.url, retry=NO_RETRIES, rate_limiting=False)
    with ApiClient(config) as client:
        MessagingApi(client).create_confirm_order_details(ORDER, MARKETPLACE, BODY)
        MessagingApi(client).create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    assert len(server.requests) == 2


def test_two_sellers_and_two_orders_are_different_keys(server: RecordingServer) -> None:
    journal = SendJournal.memory()
    for _ in range(3):
        server.enqueue(201, {})
    seller_a = make_api(server, journal, access_token="Atza|seller-a")
    seller_b = make_api(server, journal, access_token="Atza|seller-b")
    send(seller_a)
    send(seller_b)
    seller_a.create_confirm_order_details("113-7654321-1234567", MARKETPLACE, BODY)
    assert len(server.requests) == 3
    assert len({e.identity for e in journal.entries()}) == 2
    assert all("Atza" not in e.key for e in journal.entries())  # tokens never in a key


def test_threads_racing_on_one_key_send_once(server: RecordingServer, journal: SendJournal) -> None:
    server.enqueue(201, {}, SENT_HEADERS, delay=0.3)
    api = make_api(server, journal)
    outcomes: List[str] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        try:
            send(api)
            outcomes.append("sent")
        except DuplicateSendError as exc:
            outcomes.append(exc.state)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["in_flight"] * 7 + ["sent"]
    assert len(server.requests) == 1


# -- what each answer means ---------------------------------------------------------------------


def test_a_4xx_is_rejected_and_the_key_may_be_claimed_again(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(400, {"errors": [{"code": "InvalidInput", "message": "Bad text"}]})
    server.enqueue(201, {}, SENT_HEADERS)
    with pytest.raises(BadRequestException):
        send(api)
    assert states(journal) == ["rejected"]
    send(api)
    assert states(journal) == ["sent"]
    assert len(server.requests) == 2


def test_a_429_after_the_retries_is_rejected(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(429, {"errors": [{"code": "QuotaExceeded", "message": "Slow down"}]})
    with pytest.raises(TooManyRequestsException):
        send(api)
    assert states(journal) == ["rejected"]  # Amazon processed nothing


def test_a_5xx_is_unknown_never_resent_and_resolved_by_hand(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(503, {"errors": [{"code": "ServiceUnavailable", "message": "Try later"}]})
    with pytest.raises(ServiceException):
        send(api)
    assert states(journal) == ["unknown"]
    assert [e.status for e in journal.entries(state="unknown")] == [503]
    with pytest.raises(DuplicateSendError) as caught:
        send(api)
    assert caught.value.state == "unknown"
    assert len(server.requests) == 1

    # The seller checked Seller Central: the buyer never got it.
    resolved = journal.resolve(key_of(api), delivered=False)
    assert resolved.state == "rejected"
    server.enqueue(201, {}, SENT_HEADERS)
    send(api)
    assert states(journal) == ["sent"]


def test_only_an_unknown_entry_can_be_resolved(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(201, {})
    send(api)
    with pytest.raises(ApiValueError, match="only an unknown entry"):
        journal.resolve(key_of(api), delivered=False)
    with pytest.raises(ApiValueError, match="no journal entry"):
        journal.resolve(key_of(api, "never-claimed"), delivered=True)


def test_a_dropped_connection_after_sending_is_unknown(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(reset=True)
    with pytest.raises(ApiConnectionError):
        send(api)
    (entry,) = journal.entries()
    assert entry.state == "unknown"
    assert entry.detail is not None
    assert entry.detail.startswith("no answer")


def test_a_connection_refused_sends_nothing_and_releases_the_key(journal: SendJournal) -> None:
    config = Configuration(host="http://127.0.0.1:9", journal=journal, retry=NO_RETRIES)
    with ApiClient(config) as client, pytest.raises(ApiConnectionError):
        MessagingApi(client).create_confirm_order_details(ORDER, MARKETPLACE, BODY)
    assert journal.entries() == []


def test_a_call_refused_before_sending_releases_the_key(
    server: RecordingServer, journal: SendJournal
) -> None:
    limiting = RateLimiting(
        overrides={"create_confirm_order_details": RateLimit(0.01, 1)}, max_wait=0
    )
    api = make_api(server, journal, rate_limiting=limiting)
    server.enqueue(201, {})
    send(api, _send_key="first")
    with pytest.raises(RateLimitWaitExceeded):
        send(api, _send_key="second")  # the bucket is empty: nothing was sent
    with pytest.raises(ApiValueError):
        send(api, _send_key="third", _headers={"X-Bad": "a\nb"})
    assert [(e.caller_key, e.state) for e in journal.entries()] == [("first", "sent")]
    assert len(server.requests) == 1


def test_a_2xx_with_an_unreadable_body_is_still_sent(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(201, "<html>not json</html>", SENT_HEADERS)
    with pytest.raises(ApiResponseError, match="do not send it again"):
        send(api)
    assert states(journal) == ["sent"]


def test_a_2xx_too_large_to_read_is_still_sent(server: RecordingServer) -> None:
    journal = SendJournal.memory()
    api = make_api(server, journal, max_response_bytes=16)
    server.enqueue(201, {"errors": [], "padding": "x" * 100}, SENT_HEADERS)
    with pytest.raises(ApiResponseError):
        send(api)
    assert states(journal) == ["sent"]


def test_the_unread_response_variant_is_journaled_too(
    server: RecordingServer, journal: SendJournal, api: MessagingApi
) -> None:
    server.enqueue(201, {}, SENT_HEADERS)
    response = api.create_confirm_order_details_without_preload_content(ORDER, MARKETPLACE, BODY)
    response.read()
    response.release_conn()
    assert states(journal) == ["sent"]
    with pytest.raises(DuplicateSendError):
        api.create_confirm_order_details_with_http_info(ORDER, MARKETPLACE, BODY)


class _BackendThatCannotSettle(MemoryJournalBackend):
    def settle(self, *args: Any, **kwargs: Any) -> bool:
        raise OSError("disk full")


def test_a_journal_failing_to_record_a_sent_message_never_hides_it(server: RecordingServer) -> None:
    journal = SendJournal(_BackendThatCannotSettle())
    api = make_api(server, journal)
    server.enqueue(201, {}, SENT_HEADERS)
    send(api)  # the message was sent: the caller must not be told otherwise
    (entry,) = journal.entries()
    assert entry.state == "in_flight"  # and it reads unknown once its lease runs out
    with pytest.raises(DuplicateSendError):
        send(api)


def test_store_bodies_keeps_the_message(server: RecordingServer) -> None:
    journal = SendJournal.memory(store_bodies=True)
    api = make_api(server, journal)
    server.enqueue(201, {})
    send(api)
    (entry,) = journal.entries()
    assert entry.body == b'{"text":"Could you confirm the engraving?"}'
