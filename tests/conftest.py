"""Shared fixtures: real local servers (recording, throttling, fake LWA) and clients on them."""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
from tests.support import RecordingServer
from tests.support.fake_lwa import FakeLwa
from tests.support.throttling import ThrottlingServer

ApiFactory = Callable[..., MessagingApi]


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    """A fresh recording server on 127.0.0.1; stopped (and checked for own errors) afterwards."""
    with RecordingServer() as srv:
        yield srv
    assert srv.unexpected_errors == [], "the test server itself failed"


@pytest.fixture
def api_client(server: RecordingServer) -> Iterator[ApiClient]:
    """An ApiClient whose host is the test server; closed at teardown."""
    client = ApiClient(Configuration(host=server.url))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def api(api_client: ApiClient) -> MessagingApi:
    """A MessagingApi talking to the test server through ``api_client``."""
    return MessagingApi(api_client)


@pytest.fixture
def start_sp(request: pytest.FixtureRequest) -> Callable[..., ThrottlingServer]:
    """``start_sp(**router_kwargs)``: a started :class:`ThrottlingServer`.

    Each one is stopped (and checked for own errors) at teardown.
    """

    def start(**router_kwargs: object) -> ThrottlingServer:
        server = ThrottlingServer(**router_kwargs)
        server.start()

        def stop() -> None:
            server.stop()
            assert server.unexpected_errors == [], "the test server itself failed"

        request.addfinalizer(stop)
        return server

    return start


@pytest.fixture
def sp(start_sp: Callable[..., ThrottlingServer]) -> ThrottlingServer:
    """A throttling SP-API test server with the default settings (it never throttles)."""
    return start_sp()


@pytest.fixture
def lwa() -> Iterator[FakeLwa]:
    """A fake LWA token endpoint; afterwards it must not have seen a malformed token request."""
    with FakeLwa() as server:
        yield server
    assert server.problems == [], "the client sent a malformed token request"


@pytest.fixture
def open_api() -> Iterator[ApiFactory]:
    """``open_api(host, **configuration)``: a MessagingApi on a new ApiClient.

    Every client made is closed at teardown.
    """
    clients: List[ApiClient] = []

    def factory(host: str, **configuration: Any) -> MessagingApi:
        client = ApiClient(Configuration(host=host, **configuration))
        clients.append(client)
        return MessagingApi(client)

    yield factory
    for client in clients:
        client.close()
