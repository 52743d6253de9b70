"""Models and ApiResponse render readably in Jupyter (_repr_html_) and IPython (_repr_pretty_)."""

from __future__ import annotations

from typing import Any, List

from py_sp_api.generated.messaging import (
    GetAttributesResponse,
    GetMessagingActionsForOrderResponse,
)
from py_sp_api.runtime.api_response import ApiResponse


class RecordingPrinter:
    """The slice of IPython's pretty printer the reprs use."""

    def __init__(self) -> None:
        self.parts: List[str] = []

    def text(self, value: str) -> None:
        self.parts.append(value)

    def break_(self) -> None:
        self.parts.append("\n")

    def pretty(self, value: Any) -> None:
        value._repr_pretty_(self, False)


def attributes() -> GetAttributesResponse:
    return GetAttributesResponse.from_dict({"buyer": {"locale": "en-US"}, "note": "<b>&</b>"})


def test_a_model_renders_as_escaped_indented_json_under_its_class_name() -> None:
    html = attributes()._repr_html_()
    assert html.startswith("<div><strong>GetAttributesResponse</strong><pre>")
    assert "&quot;locale&quot;: &quot;en-US&quot;" in html
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html  # server text is escaped, never markup
    assert "<b>" not in html
    assert '\n  "buyer": {' in attributes().to_str()


def test_wire_names_are_shown_not_python_names() -> None:
    model = GetMessagingActionsForOrderResponse.from_dict(
        {"_links": {"self": {"href": "/x"}, "actions": []}}
    )
    html = model._repr_html_()
    assert "&quot;_links&quot;" in html
    assert "var_self" not in html


def test_a_model_pretty_prints_with_its_class_name() -> None:
    printer = RecordingPrinter()
    attributes()._repr_pretty_(printer, False)
    assert printer.parts == [f"GetAttributesResponse {attributes().to_str()}"]
    cyclic = RecordingPrinter()
    attributes()._repr_pretty_(cyclic, True)
    assert cyclic.parts == ["GetAttributesResponse(...)"]


def test_an_api_response_shows_status_request_id_rate_limit_and_data() -> None:
    response = ApiResponse(
        status_code=200,
        headers={"x-amzn-RequestId": "req-<1>", "x-amzn-RateLimit-Limit": "1.0"},
        data=attributes(),
        raw_data=b"{}",
    )
    html = response._repr_html_()
    assert html.startswith("<div><strong>HTTP 200</strong>")
    assert "request id <code>req-&lt;1&gt;</code>" in html
    assert "x-amzn-RateLimit-Limit <code>1.0</code>" in html
    assert attributes()._repr_html_() in html
    assert "ApiResponse(status_code=200, request_id='req-<1>'" in repr(response)

    printer = RecordingPrinter()
    response._repr_pretty_(printer, False)
    assert printer.parts[0] == "ApiResponse(status_code=200, request_id='req-<1>')"
    assert printer.parts[1] == "\n"
    assert printer.parts[2] == f"GetAttributesResponse {attributes().to_str()}"


def test_an_api_response_without_headers_or_a_model_still_renders() -> None:
    response = ApiResponse(status_code=201, headers={}, data={"a": "<x>"}, raw_data=b"")
    html = response._repr_html_()
    assert "request id <code>-</code>" in html
    assert "<pre>{&#x27;a&#x27;: &#x27;&lt;x&gt;&#x27;}</pre>" in html
