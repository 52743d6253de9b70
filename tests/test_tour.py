"""The tour (``python -m py_sp_api.tour``), README's main job, does what README promises.

The tour runs in a subprocess exactly as README's first command runs it; ``run()`` is driven
in-process against a local sandbox (with injected failures) and, for the ``--live`` path,
against a sandbox that requires a token plus a local fake LWA endpoint.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from py_sp_api import NO_RETRIES, LwaCredentials
from py_sp_api.generated.messaging import Configuration
from py_sp_api.generated.messaging.operations import OPERATIONS as MESSAGING
from py_sp_api.generated.solicitations.operations import OPERATIONS as SOLICITATIONS
from py_sp_api.testing import MessagingSandbox
from py_sp_api.tour import api_of, live_calls, run, sandbox_calls
from tests.support.fake_lwa import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeLwa

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
TOUR = [sys.executable, "-m", "py_sp_api.tour"]
LWA_VARIABLES = ("LWA_CLIENT_ID", "LWA_CLIENT_SECRET", "LWA_REFRESH_TOKEN")
ORDER = "123-1234567-1234567"
MARKETPLACE = "ATVPDKIKX0DER"
OPERATION_LINE = re.compile(
    r"^\[ ?(?P<number>\d+)/(?P<total>\d+)\] (?P<name>\w+) +HTTP (?P<status>\d{3})  (?P<plan>.+)$"
)
FAILED_LINE = re.compile(
    r"^\[ ?(?P<number>\d+)/(?P<total>\d+)\] (?P<name>\w+) +FAILED: (?P<why>\w+)$"
)
OPERATIONS = {**MESSAGING, **SOLICITATIONS}
REMOVED_BY_AMAZON = {
    "create_negative_feedback_removal": "2025-08-04",
    "create_amazon_motors": "2026-01-30",
}


def env_without_lwa(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LWA_")}
    env.update(extra)
    return env


def run_tour(
    tmp_path: Path, *args: str, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOUR, *args],
        cwd=tmp_path,
        env=env_without_lwa() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def operation_lines(output: str) -> List[re.Match[str]]:
    return [m for m in map(OPERATION_LINE.match, output.splitlines()) if m]


# -- README's main job -------------------------------------------------------------------------


def test_readme_main_job_is_the_tour() -> None:
    bash = [
        code for lang, code in FENCE.findall((REPO / "README.md").read_text()) if lang == "bash"
    ]
    first_line = bash[0].splitlines()[0]
    assert first_line.endswith("python -m py_sp_api.tour")
    assert first_line.split("&&")[-1].split() == ["python", "-m", "py_sp_api.tour"]


def test_the_tour_calls_all_15_operations_of_both_apis(tmp_path: Path) -> None:
    result = run_tour(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()

    opening = re.fullmatch(
        r"Local sandbox listening on (http://127\.0\.0\.1:\d+) \(no credentials, no network\)",
        lines[0],
    )
    assert opening, lines[0]
    url = opening.group(1)

    found = operation_lines(result.stdout)
    assert [int(m["number"]) for m in found] == list(range(1, 16))
    assert {m["total"] for m in found} == {"15"}
    names = [m["name"] for m in found]
    assert sorted(names) == sorted(OPERATIONS)
    assert (len(MESSAGING), len(SOLICITATIONS)) == (13, 2)
    for match in found:
        name = match["name"]
        assert int(match["status"]) == OPERATIONS[name].success_status, match[0]
        assert match["status"] == ("200" if name.startswith("get_") else "201"), match[0]
        if name == "send_invoice":
            assert match["plan"] == "1 req/s, burst 5 (API default; undocumented)"
        else:
            assert match["plan"] == "1 req/s, burst 5", match[0]
        plan = api_of(name).rate_limit(name)
        assert (plan.rate, plan.burst, plan.documented) == (1.0, 5, name != "send_invoice")
    assert "FAILED" not in result.stdout

    # Each operation line is followed by its typed result; a removed operation's by a mark.
    for index, line in enumerate(lines):
        operation_line = OPERATION_LINE.match(line)
        if operation_line:
            following = lines[index + 1]
            removed_on = REMOVED_BY_AMAZON.get(operation_line["name"])
            if removed_on:
                assert following == (
                    f"        removed from Amazon's model on {removed_on}: Amazon may refuse it"
                )
                following = lines[index + 2]
            assert following.startswith("        -> "), following
    attributes = lines[lines.index(next(m[0] for m in found if m["name"] == "get_attributes")) + 1]
    assert "GetAttributesResponse(buyer=GetAttributesResponseBuyer(locale='en-US')" in attributes
    assert max(len(line) for line in lines) < 100  # readable in a narrow terminal or notebook

    # Solicitations: the read lists the review request, which is then sent (Amazon's example).
    solicitation = lines.index(
        next(m[0] for m in found if m["name"] == "get_solicitation_actions_for_order")
    )
    assert lines[solicitation + 2] == (
        "        allowed: create_product_review_and_seller_feedback_solicitation"
    )
    summary = re.fullmatch(r"15/15 operations succeeded against (\S+) in \d+\.\d\ds", lines[-3])
    assert summary, lines[-3]
    assert summary.group(1) == url
    # ...and a newcomer is told where to go next.
    assert lines[-2].startswith("Next: docs/first-live-call.md")
    assert (REPO / "docs" / "first-live-call.md").is_file()
    assert lines[-1].split()[:4] == ["python", "-m", "py_sp_api.tour", "--live"]


@pytest.mark.parametrize(
    "present",
    [
        {},
        {"LWA_CLIENT_ID": CLIENT_ID, "LWA_CLIENT_SECRET": CLIENT_SECRET},
        {"LWA_CLIENT_ID": CLIENT_ID, "LWA_CLIENT_SECRET": CLIENT_SECRET, "LWA_REFRESH_TOKEN": " "},
    ],
    ids=["none", "two-of-three", "blank-refresh-token"],
)
def test_live_without_lwa_variables_names_them(tmp_path: Path, present: Dict[str, str]) -> None:
    result = run_tour(
        tmp_path, "--live", "--order-id", "113-0000000-0000000", env=env_without_lwa(**present)
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: python -m py_sp_api.tour" in result.stderr
    for name in LWA_VARIABLES:
        assert name in result.stderr
    assert CLIENT_SECRET not in result.stderr


@pytest.mark.parametrize("with_credentials", [False, True])
def test_live_without_order_id_is_a_usage_error(tmp_path: Path, with_credentials: bool) -> None:
    credentials = (
        {"LWA_CLIENT_ID": CLIENT_ID, "LWA_CLIENT_SECRET": CLIENT_SECRET} if with_credentials else {}
    )
    if with_credentials:
        credentials["LWA_REFRESH_TOKEN"] = REFRESH_TOKEN
        credentials["LWA_ENDPOINT"] = "http://127.0.0.1:9/never-called"
    result = run_tour(tmp_path, "--live", env=env_without_lwa(**credentials))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: python -m py_sp_api.tour")
    assert result.stderr.rstrip("\n").endswith("error: --live needs --order-id")


# -- run(), in process -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failing",
    [
        ["get_attributes"],
        ["get_attributes", "send_invoice"],
        ["create_product_review_and_seller_feedback_solicitation"],
    ],
    ids=["one", "two", "solicitation"],
)
def test_run_reports_a_failed_operation_and_carries_on(failing: List[str]) -> None:
    calls = sandbox_calls()
    out = io.StringIO()
    with MessagingSandbox() as sandbox:
        for name in failing:
            sandbox.fail(name, status=500)
        config = sandbox.configuration(retry=NO_RETRIES, rate_limiting=False)
        failures = run(config, ORDER, MARKETPLACE, calls, out=out)
        recorded = sandbox.requests
        url = sandbox.url
    assert failures == len(failing)

    output = out.getvalue()
    assert "\r" not in output  # not a terminal: no progress lines
    failed = [m for m in map(FAILED_LINE.match, output.splitlines()) if m]
    assert [m["name"] for m in failed] == failing
    lines = output.splitlines()
    for match in failed:
        assert match["why"] == "ServiceException"
        at = lines.index(match[0])
        assert lines[at + 1] == "        (500) Internal Server Error"
        detail = "        InternalFailure: We encountered an internal error."
        assert detail in lines[at + 2 : at + 5]
    succeeded = operation_lines(output)
    assert [m["name"] for m in succeeded] == [n for n, _ in calls if n not in failing]
    numbers = sorted(int(m["number"]) for m in [*failed, *succeeded])
    assert numbers == list(range(1, 16))
    last = output.splitlines()[-1]
    assert re.fullmatch(
        rf"{15 - len(failing)}/15 operations succeeded against {re.escape(url)} in \d+\.\d\ds",
        last,
    ), last

    # Every operation was still sent, once, in the tour's order.
    assert [r.operation for r in recorded] == [name for name, _ in calls]
    assert [r.status for r in recorded] == [
        500 if r.operation in failing else OPERATIONS[str(r.operation)].success_status
        for r in recorded
    ]


def test_live_path_sends_only_the_read_only_operations_with_the_lwa_token() -> None:
    order = "113-7654321-1234567"
    out = io.StringIO()
    with MessagingSandbox(require_access_token=True) as sandbox, FakeLwa() as lwa:
        config = Configuration(
            host=sandbox.url,
            credentials=LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, endpoint=lwa.url),
        )
        failures = run(config, order, MARKETPLACE, live_calls(), out=out)
        recorded = sandbox.requests
        issued = lwa.issued
        problems = lwa.problems
        url = sandbox.url
    assert failures == 0, out.getvalue()
    read_only = [
        "get_messaging_actions_for_order",
        "get_attributes",
        "get_solicitation_actions_for_order",
    ]
    assert [r.operation for r in recorded] == read_only
    assert [r.method for r in recorded] == ["GET"] * 3
    assert [r.status for r in recorded] == [200] * 3
    assert [r.order_id for r in recorded] == [order] * 3
    assert [r.query for r in recorded] == [{"marketplaceIds": MARKETPLACE}] * 3
    assert issued == ["Atza|token-1"]
    assert problems == []
    assert [r.headers.get("x-amz-access-token") for r in recorded] == ["Atza|token-1"] * 3

    output = out.getvalue()
    assert [m["name"] for m in operation_lines(output)] == read_only
    assert "FAILED" not in output
    assert REFRESH_TOKEN not in output
    assert CLIENT_SECRET not in output
    assert "Atza|token-1" not in output
    assert re.fullmatch(
        rf"3/3 operations succeeded against {re.escape(url)} in \d+\.\d\ds",
        output.splitlines()[-1],
    )
    assert [name for name, _ in live_calls()] == read_only
