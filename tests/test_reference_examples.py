"""Every Python example of the shared reference page runs, as written, against a real server.

The examples build bodies with no arguments and catch ``Exception``, so the only proof of
success is what they print and what the server received. As the contract allows, the host and
the placeholder marketplace id are replaced: ``'marketplace_ids_example'`` cannot be a
marketplace id, and the client refuses it before sending, as Amazon would refuse it after.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import List, Tuple

import pytest

from py_sp_api.generated.messaging.operations import OPERATIONS
from tests.support import RecordingServer
from tests.support.messaging import expected_path, spec_method

# The contract page, kept in the repository so the examples run on every checkout; where the
# shared original sits beside the repository, the copy must not have drifted from it.
REFERENCE_DOC = Path(__file__).resolve().parent / "data" / "MessagingApi-python.md"
SHARED_DOC = Path(__file__).resolve().parents[2] / "shared" / "reference" / REFERENCE_DOC.name
DOC_HOST = "https://sellingpartnerapi-na.amazon.com"
PLACEHOLDER_MARKETPLACE = "'marketplace_ids_example'"
MARKETPLACE = "ATVPDKIKX0DER"
_TABLE_ROW = re.compile(r"^\[\*\*(\w+)\*\*\]\([^)]*\) \| \*\*(\w+)\*\* ([^ ]+) \|", re.MULTILINE)


def test_the_copy_of_the_reference_page_is_the_shared_original() -> None:
    if SHARED_DOC.is_file():
        assert REFERENCE_DOC.read_bytes() == SHARED_DOC.read_bytes()
    assert REFERENCE_DOC.is_file()


def test_every_documented_method_has_the_documented_http_method_and_path() -> None:
    # From the contract's own table, not from the generated code: a generator that swapped
    # two operations, or renamed one, fails here.
    rows = _TABLE_ROW.findall(REFERENCE_DOC.read_text(encoding="utf-8"))
    assert len(rows) == 13
    documented = {name: (method, path) for name, method, path in rows}
    generated = {name: (op.method, op.path) for name, op in OPERATIONS.items()}
    assert generated == documented


_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_CALL = re.compile(r"api_instance\.(\w+)\(")


def _examples() -> List[Tuple[str, str]]:
    text = REFERENCE_DOC.read_text(encoding="utf-8")
    examples = []
    for block in _BLOCK.findall(text):
        calls = _CALL.findall(block)
        assert len(calls) == 1, f"expected one API call in the example, found {calls}"
        examples.append((calls[0], block))
    return examples


EXAMPLES = _examples()


def test_the_page_has_one_example_per_operation() -> None:
    assert len(EXAMPLES) == 13
    assert sorted(name for name, _ in EXAMPLES) == sorted(OPERATIONS)
    for _, code in EXAMPLES:
        assert code.count(f'host = "{DOC_HOST}"') == 1


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_example_runs_as_written_and_succeeds(
    name: str, code: str, server: RecordingServer
) -> None:
    assert code.count(PLACEHOLDER_MARKETPLACE) == 1
    runnable = code.replace(DOC_HOST, server.url).replace(
        PLACEHOLDER_MARKETPLACE, repr(MARKETPLACE)
    )
    stdout = io.StringIO()

    with contextlib.redirect_stdout(stdout):
        exec(compile(runnable, f"<{REFERENCE_DOC.name}: {name}>", "exec"), {"__name__": "example"})

    printed = stdout.getvalue()
    assert f"Exception when calling MessagingApi->{name}" not in printed, printed
    assert f"The response of MessagingApi->{name}:" in printed, printed
    request = server.only_request()
    assert request.method == spec_method(name)
    assert request.path == expected_path(name, "amazon_order_id_example")
    assert request.query == {"marketplaceIds": [MARKETPLACE]}
    assert server.responses[0].status == OPERATIONS[name].success_status
    if OPERATIONS[name].body_model is not None:
        assert request.headers["Content-Type"] == "application/json"
        assert request.json() == {}
    else:
        assert request.body == b""
    # The example's ``with ApiClient(...)`` block closed the connection it used.
    assert server.wait_for_connections_closed(timeout=2.0)


def test_the_placeholder_marketplace_is_refused_before_sending(server: RecordingServer) -> None:
    name, code = EXAMPLES[0]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(code.replace(DOC_HOST, server.url), name, "exec"), {"__name__": "example"})
    assert "'marketplace_ids_example' cannot be one" in stdout.getvalue()
    assert server.requests == []
