"""Shared fixtures: a real recording HTTP server and a MessagingApi pointed at it."""

from __future__ import annotations

from typing import Iterator

import pytest

from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
from tests.support import RecordingServer


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    """A fresh recording server on 127.0.0.1; stopped (and checked for own errors) afterwards."""
    srv = RecordingServer().start()
    try:
        yield srv
    finally:
        srv.stop()
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
