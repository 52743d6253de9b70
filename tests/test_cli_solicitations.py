"""``py-sp-api solicitations ...`` run as a real subprocess (issue 14).

Like tests/test_cli.py: ``python -m py_sp_api`` in a temporary directory without ``LWA_*``
variables, against the embedded sandbox (``--sandbox``), a MessagingSandbox started here (which
serves Solicitations too), or a RecordingServer that records whether anything arrived.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Sequence

import pytest

from py_sp_api.cli import read_jobs
from py_sp_api.generated.solicitations import ApiClient, SolicitationsApi
from py_sp_api.testing import MessagingSandbox
from tests.support import RecordingServer
from tests.test_cli import MARKETPLACE, REPO, clean_env, cli, write_csv

REVIEW = "create_product_review_and_seller_feedback_solicitation"
ORDERS = [f"113-0000000-000040{n}" for n in range(1, 4)]
AMAZON_403 = "The requested solicitation is not available for this amazonOrderId."


def orders_csv(tmp_path: Path, orders: Sequence[str] = ORDERS) -> Path:
    return write_csv(tmp_path / "orders.csv", [(order, MARKETPLACE) for order in orders])


def send_many(
    tmp_path: Path, where: Sequence[str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return cli(
        tmp_path, "solicitations", "send-many", "orders.csv", "--journal", "sends.sqlite3",
        "--quiet", *where, *extra,
    )  # fmt: skip


def outcomes(report: Dict[str, Any]) -> Dict[str, str]:
    return {row["order_id"]: row["outcome"] for row in report["results"]}


def test_every_solicitations_command_runs_offline_and_never_asks_twice(tmp_path: Path) -> None:
    sandbox = ["--sandbox", "--json"]
    where = ["--marketplace", MARKETPLACE, *sandbox]
    actions = cli(tmp_path, "solicitations", "actions", ORDERS[0], *where)
    assert actions.returncode == 0, actions.stderr
    assert json.loads(actions.stdout)["actions"] == [REVIEW]

    send = ["solicitations", "send", ORDERS[0], *where, "--journal", "sends.sqlite3"]
    first = cli(tmp_path, *send)
    assert first.returncode == 0, first.stderr
    sent = json.loads(first.stdout)
    assert (sent["outcome"], sent["status"], sent["operation"]) == ("sent", 201, REVIEW)
    again = cli(tmp_path, *send)  # a new process and a new sandbox: the journal remembers
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["outcome"] == "already_sent"

    orders_csv(tmp_path)
    many = send_many(tmp_path, sandbox)
    assert many.returncode == 0, many.stderr
    assert outcomes(json.loads(many.stdout)) == {
        ORDERS[0]: "already_sent",
        **{order: "sent" for order in ORDERS[1:]},
    }
    resumed = send_many(tmp_path, sandbox)
    assert resumed.returncode == 0, resumed.stderr
    assert set(outcomes(json.loads(resumed.stdout)).values()) == {"already_sent"}

    listed = cli(tmp_path, "journal", "list", "--journal", "sends.sqlite3", *sandbox)
    entries = json.loads(listed.stdout)
    assert sorted(e["order_id"] for e in entries) == ORDERS
    assert {(e["state"], e["operation"]) for e in entries} == {
        ("sent", "createProductReviewAndSellerFeedbackSolicitation")
    }


@pytest.mark.parametrize(
    ("setup", "expected_code", "expected"),
    [
        ("all offered", 0, ["sent", "sent"]),
        ("second asked before", 1, ["sent", "rejected"]),  # Amazon's 403
        ("first answered 503", 3, ["unknown", "sent"]),
    ],
)
def test_the_exit_code_follows_the_outcomes(
    tmp_path: Path, setup: str, expected_code: int, expected: Sequence[str]
) -> None:
    orders_csv(tmp_path, ORDERS[:2])
    with MessagingSandbox() as sandbox:
        if setup == "second asked before":  # e.g. with Seller Central's button
            with ApiClient(sandbox.configuration()) as client:
                SolicitationsApi(client).create_product_review_and_seller_feedback_solicitation(
                    ORDERS[1], [MARKETPLACE]
                )
        if setup == "first answered 503":
            sandbox.fail(REVIEW, status=503, times=1)
        where = ["--endpoint", sandbox.url, "--json"]
        result = send_many(tmp_path, where, "--report", "report.json")
        asked_before = 1 if setup == "second asked before" else 0
        assert len(sandbox.requests_for(REVIEW)) == 2 + asked_before  # no POST is ever resent
    assert result.returncode == expected_code, result.stderr
    assert list(outcomes(json.loads(result.stdout)).values()) == list(expected)
    rows = json.loads((tmp_path / "report.json").read_text())["results"]
    assert [row["outcome"] for row in rows] == list(expected)
    if setup == "second asked before":
        assert AMAZON_403 in rows[1]["error"]
        assert rows[1]["request_id"]


def test_check_actions_skips_an_order_without_the_solicitation(tmp_path: Path) -> None:
    orders_csv(tmp_path, ORDERS[:2])
    with MessagingSandbox() as sandbox:
        sandbox.set_actions(ORDERS[1], [])  # outside the window
        result = send_many(tmp_path, ["--endpoint", sandbox.url], "--check-actions")
        posted = [r.order_id for r in sandbox.requests_for(REVIEW)]
        asked = [r.order_id for r in sandbox.requests_for("get_solicitation_actions_for_order")]
    assert result.returncode == 1, result.stderr
    assert posted == ORDERS[:1]
    assert asked == ORDERS[:2]
    assert f"line 3: {ORDERS[1]}: not available" in result.stdout


def test_a_dry_run_sends_nothing(tmp_path: Path) -> None:
    orders_csv(tmp_path, ORDERS[:2])
    with RecordingServer() as server:
        dry = send_many(tmp_path, ["--endpoint", server.url, "--json"], "--dry-run")
        assert server.requests == []
    assert dry.returncode == 0, dry.stderr
    rows = json.loads(dry.stdout)["rows"]
    assert [(r["order_id"], r["would_send"], r["body"]) for r in rows] == [
        (ORDERS[0], True, None),
        (ORDERS[1], True, None),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["send", "113-00000-0000001", "--marketplace", MARKETPLACE],  # not an order id
        ["send", ORDERS[0], "--marketplace", "atvpdkikx0der"],  # not a marketplace id
        ["send", ORDERS[0]],  # no marketplace
        ["send", ORDERS[0], "--marketplace", MARKETPLACE, "--text", "Hi"],  # no body to send
        ["actions", "1", "--marketplace", MARKETPLACE],
    ],
    ids=["order-id", "marketplace-id", "no-marketplace", "text", "actions-order-id"],
)
def test_bad_input_is_a_usage_error_and_sends_nothing(tmp_path: Path, args: Sequence[str]) -> None:
    with RecordingServer() as server:
        result = cli(tmp_path, "solicitations", *args, "--endpoint", server.url)
        assert server.requests == []
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_bad_rows_stop_the_run_before_anything_is_sent(tmp_path: Path) -> None:
    rows = [
        (ORDERS[0], MARKETPLACE, ""),
        ("113-00000-0000002", MARKETPLACE, ""),  # line 3: not an order id
        (ORDERS[1], MARKETPLACE, "Please review"),  # line 4: a solicitation carries no text
        (ORDERS[0], MARKETPLACE, ""),  # line 5: the same order twice
    ]
    write_csv(tmp_path / "orders.csv", rows, header="order_id,marketplace_id,text")
    with RecordingServer() as server:
        result = send_many(tmp_path, ["--endpoint", server.url])
        assert server.requests == []
    assert result.returncode == 2, result.stderr
    errors = result.stderr.splitlines()
    assert [e.split(":")[2] for e in errors[:-1]] == ["3", "4", "5"]
    assert "takes no body" in errors[1]
    assert "nothing was sent" in errors[-1]
    assert not (tmp_path / "sends.sqlite3").exists()


def test_the_docs_command_line_example_runs(tmp_path: Path) -> None:
    page = (REPO / "docs" / "solicitations.md").read_text()
    block = re.search(r"```bash\n(.*?)```", page.split("## From the command line", 1)[1], re.DOTALL)
    assert block is not None
    env = {**clean_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-ec", block[1]], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == REVIEW  # actions
    assert lines[1].startswith(f"{REVIEW} 113-0000000-0000001: sent, request id ")
    assert "dry run: 1 of 2 would be sent" in result.stdout
    assert re.fullmatch(rf"{REVIEW}: 2 row\(s\) in \d+\.\d s: 1 sent, 1 already sent", lines[-1])
    rows = (tmp_path / "report.csv").read_text().splitlines()
    assert [row.split(",")[6] for row in rows[1:]] == ["already_sent", "sent"]


def test_an_unknown_outcome_says_how_to_find_out_and_settle(tmp_path: Path) -> None:
    with MessagingSandbox() as sandbox:
        sandbox.fail(REVIEW, status=503, times=1)
        send = [
            "solicitations", "send", ORDERS[0], "--marketplace", MARKETPLACE,
            "--journal", "sends.sqlite3", "--endpoint", sandbox.url,
        ]  # fmt: skip
        first = cli(tmp_path, *send)
        again = cli(tmp_path, *send)
        assert [r.status for r in sandbox.requests_for(REVIEW)] == [503]  # never resent
    assert (first.returncode, again.returncode) == (3, 3)
    for result in (first, again):
        assert "py-sp-api solicitations actions" in result.stderr
        assert "journal resolve" in result.stderr
        assert "Seller Central" not in result.stderr  # solicitations do not show there


# -- review fixes ----------------------------------------------------------------------------


def review_operation() -> Any:
    from py_sp_api.generated.solicitations.operations import OPERATIONS

    return OPERATIONS[REVIEW]


def test_the_same_order_in_two_marketplaces_is_refused_before_sending(tmp_path: Path) -> None:
    # An order belongs to one marketplace: two rows for it ask its buyer twice (two journal
    # keys), whichever marketplace id each row carries.
    rows = [(ORDERS[0], MARKETPLACE), (ORDERS[0], "A2EUQ1WTGCTBG2")]
    path = write_csv(tmp_path / "orders.csv", rows)
    jobs, errors = read_jobs(path, review_operation(), None)
    assert [job.line for job in jobs] == [2]
    assert [(error.line, error.message) for error in errors] == [
        (3, f"order {ORDERS[0]} is on line 2 too (one message per order)")
    ]


@pytest.mark.parametrize(
    "order_id",
    [
        "113-\uff10\uff10\uff10\uff10\uff10\uff10\uff10-0000401",
        "113-\u0660\u0660\u0660\u0660\u0660\u0660\u0660-0000401",
    ],
)
def test_an_order_id_with_non_ascii_digits_is_refused(tmp_path: Path, order_id: str) -> None:
    # Amazon's order ids are ASCII digits: a full-width (or other script's) digit is another
    # order id, and Amazon would only refuse it after the request went out.
    path = write_csv(tmp_path / "orders.csv", [(order_id, MARKETPLACE)])
    jobs, errors = read_jobs(path, review_operation(), None)
    assert jobs == []
    assert [error.line for error in errors] == [2]
    assert "is not of Amazon's form" in errors[0].message


def test_the_docs_name_the_role_solicitations_need() -> None:
    # Amazon's Solicitations use-case guide: both operations need Buyer Solicitation (or
    # Product Listing); Buyer Communication is Messaging's. The live tour reads Solicitations
    # too, so a seller set up by the docs must have asked for it.
    setup = (REPO / "docs" / "first-live-call.md").read_text()
    assert "(and the Solicitations\nAPI) requires" not in setup
    assert "Buyer Solicitation" in setup.split("## 2.", 1)[0]
    assert "Buyer Solicitation" in (REPO / "docs" / "solicitations.md").read_text()
    errors = (REPO / "docs" / "errors.md").read_text()
    assert "Buyer Solicitation for Solicitations" in errors
