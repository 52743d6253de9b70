"""Test helpers: a real HTTP server that records requests and answers like Amazon's spec."""

from .http_server import (
    ConnectionInfo,
    Headers,
    RecordedRequest,
    RecordingServer,
    ScriptedResponse,
    SentResponse,
    SpecRouter,
    unused_port,
)

__all__ = [
    "ConnectionInfo",
    "Headers",
    "RecordedRequest",
    "RecordingServer",
    "ScriptedResponse",
    "SentResponse",
    "SpecRouter",
    "unused_port",
]
