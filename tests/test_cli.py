"""The ``py-sp-api`` command line, run as a real subprocess (issue 12, item 3).

Every test starts ``python -m py_sp_api`` in a temporary directory without any ``LWA_*``
variable, against the embedded sandbox (``--sandbox``) or a loopback server (``--endpoint``):
a MessagingSandbox started here (its ``set_actions``/``fail`` give 403s and 503s), a
RecordingServer (which records whether anything arrived), or a CountingServer that holds an
order's answer so the run can be killed mid-send.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from py_sp_api.testing import MessagingSandbox
from tests.support import RecordingServer
from tests.support.counting_server import CountingServer

REPO = Path(__file__).resolve().parents[1]
MARKETPLACE = "ATVPDKIKX0DER"
CONFIRM = "create_confirm_order_details"
ORDERS = [f"113-0000000-000000{n}" for n in range(1, 5)]


def cli(
    cwd: Path, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "py_sp_api", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "py_sp_api", *args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def clean_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LWA_")}
    return {**env, "PYTHONPATH": str(REPO)}


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], header: str = "order_id,marketplace_id"
) -> Path:
    with path.open("w", newline="") as out:
        out.write(header + "\n")
        csv.writer(out).writerows(rows)
    return path


def orders_csv(tmp_path: Path, orders: Sequence[str] = ORDERS) -> Path:
    return write_csv(tmp_path / "orders.csv", [(order, MARKETPLACE) for order in orders])


def send_many(
    tmp_path: Path, where: Sequence[str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return cli(
        tmp_path,
        "messaging", "send-many", CONFIRM, "--csv", "orders.csv", "--journal", "sends.sqlite3",
        "--text", "Could you confirm the engraving?", "--quiet", *where, *extra,
    )  # fmt: skip


def outcomes(report: Dict[str, Any]) -> Dict[str, str]:
    return {row["order_id"]: row["outcome"] for row in report["results"]}


# -- every command, offline ----------------------------------------------------------------------


def test_every_command_runs_offline_on_the_embedded_sandbox(tmp_path: Path) -> None:
    sandbox = ["--sandbox", "--json"]
    actions = cli(
        tmp_path, "messaging", "actions", ORDERS[0], "--marketplace", MARKETPLACE, *sandbox
    )
    assert actions.returncode == 0, actions.stderr
    assert CONFIRM in json.loads(actions.stdout)["actions"]

    one = cli(
        tmp_path, "messaging", "send", "createConfirmOrderDetails", ORDERS[0],
        "--marketplace", MARKETPLACE, "--text", "Hello", "--journal", "sends.sqlite3", *sandbox,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["outcome"] == "sent"

    orders_csv(tmp_path)
    many = send_many(tmp_path, sandbox)
    assert many.returncode == 0, many.stderr
    # The journal keys the sandbox by a lasting name: the order sent above is not sent again.
    assert outcomes(json.loads(many.stdout)) == {
        ORDERS[0]: "already_sent",
        **{order: "sent" for order in ORDERS[1:]},
    }

    listed = cli(tmp_path, "journal", "list", "--journal", "sends.sqlite3", *sandbox)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert sorted(e["order_id"] for e in entries) == ORDERS
    assert {e["state"] for e in entries} == {"sent"}


def test_text_output_and_help_name_the_exit_codes(tmp_path: Path) -> None:
    result = cli(tmp_path, "--help")
    assert result.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert re.search(rf"^\s+{code}", result.stdout, re.MULTILINE), code
    listed = cli(tmp_path, "messaging", "actions", ORDERS[0], "--marketplace", "DE", "--sandbox")
    assert listed.returncode == 0, listed.stderr
    assert CONFIRM in listed.stdout.split()


# -- validation before sending --------------------------------------------------------------------


def test_a_bad_row_stops_the_run_before_anything_is_sent(tmp_path: Path) -> None:
    rows = [
        (ORDERS[0], MARKETPLACE, ""),
        ("113-00000-0000002", MARKETPLACE, ""),  # line 3: not an order id
        (ORDERS[2], "atvpdkikx0der", ""),  # line 4: not a marketplace id
        (ORDERS[3], MARKETPLACE, "x" * 2001),  # line 5: over the model's 2000 characters
        (ORDERS[0], MARKETPLACE, "again"),  # line 6: the same order twice
    ]
    write_csv(tmp_path / "orders.csv", rows, header="order_id,marketplace_id,text")
    with RecordingServer() as server:
        result = send_many(tmp_path, ["--endpoint", server.url])
        assert result.returncode == 2, result.stderr
        assert server.requests == []
    errors = result.stderr.splitlines()
    assert [re.match(r"py-sp-api: orders\.csv:(\d+):", e)[1] for e in errors[:-1]] == [  # type: ignore[index]  # no match: the test fails here
        "3", "4", "5", "6",
    ]  # fmt: skip
    assert "113-00000-0000002" in errors[0]
    assert "at most 2000 characters" in errors[2]
    assert "line 2" in errors[3]
    assert "nothing was sent" in errors[-1]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "sends.sqlite3").exists()  # not even the journal was opened


def test_a_misspelt_column_is_refused_rather_than_sending_the_default_text(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "orders.csv", [(ORDERS[0], MARKETPLACE, "Hi")], "order_id,marketplace_id,txt"
    )
    with RecordingServer() as server:
        result = send_many(tmp_path, ["--endpoint", server.url])
        assert server.requests == []
    assert result.returncode == 2
    assert result.stderr.startswith("py-sp-api: orders.csv:1:")
    assert "txt" in result.stderr


def test_expected_errors_are_one_line_without_a_secret(tmp_path: Path) -> None:
    secret = "Atzr|IwEBI-refresh-token-never-shown"
    env = {**clean_env(), "LWA_CLIENT_ID": "amzn1.application-oa2-client.x"}
    env.update(LWA_CLIENT_SECRET="client-secret-never-shown", LWA_REFRESH_TOKEN=secret)
    # Credentials over plain http to a host that is not loopback: refused before any I/O.
    args = ["messaging", "actions", ORDERS[0], "--marketplace", MARKETPLACE]
    refused = cli(tmp_path, *args, "--endpoint", "http://example.invalid", env=env)
    missing = cli(tmp_path, *args)  # no --sandbox/--endpoint and no LWA_* variables
    for result in (refused, missing):
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert secret not in result.stderr
        assert "never-shown" not in result.stderr
    assert "LWA_REFRESH_TOKEN" in missing.stderr


# -- exit codes and reports -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected_code", "expected"),
    [
        ("all offered", 0, ["sent", "sent"]),
        ("second not offered", 1, ["sent", "rejected"]),  # Amazon's 403
        ("first answered 503", 3, ["unknown", "sent"]),
    ],
)
def test_the_exit_code_follows_the_outcomes(
    tmp_path: Path, setup: str, expected_code: int, expected: List[str]
) -> None:
    orders_csv(tmp_path, ORDERS[:2])
    with MessagingSandbox() as sandbox:
        if setup == "second not offered":
            sandbox.set_actions(ORDERS[1], [])
        if setup == "first answered 503":
            sandbox.fail(CONFIRM, status=503, times=1)
        result = send_many(tmp_path, ["--endpoint", sandbox.url, "--json"])
        assert len(sandbox.requests_for(CONFIRM)) == 2  # no POST is ever resent
    assert result.returncode == expected_code, result.stderr
    assert list(outcomes(json.loads(result.stdout)).values()) == expected


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_the_report_file_holds_every_row(tmp_path: Path, suffix: str) -> None:
    orders_csv(tmp_path, ORDERS[:3])
    with MessagingSandbox() as sandbox:
        sandbox.set_actions(ORDERS[1], [])
        result = send_many(tmp_path, ["--endpoint", sandbox.url], "--report", f"report{suffix}")
        request_ids = {r.order_id: r for r in sandbox.requests}
    assert result.returncode == 1, result.stderr
    assert "line 3: 113-0000000-0000002: rejected (403)" in result.stdout
    text = (tmp_path / f"report{suffix}").read_text()
    if suffix == ".json":
        document = json.loads(text)
        rows = document["results"]
        assert document["counts"]["sent"] == 2
        assert document["counts"]["rejected"] == 1
    else:
        rows = list(csv.DictReader(text.splitlines()))
    assert [str(row["line"]) for row in rows] == ["2", "3", "4"]
    assert [row["order_id"] for row in rows] == ORDERS[:3]
    assert [row["outcome"] for row in rows] == ["sent", "rejected", "sent"]
    assert [str(row["status"]) for row in rows] == ["201", "403", "201"]
    assert "Invalid amazonOrderId and template combination" in rows[1]["error"]
    for row in rows:  # the request ids Amazon (the sandbox) answered
        answered = request_ids[row["order_id"]]
        assert answered.status == int(row["status"])
        assert row["request_id"]


def test_send_many_against_an_enforcing_server_paces_itself_to_zero_429s(tmp_path: Path) -> None:
    # Amazon's plan for the operation (1 request/second, burst 5), enforced by the server: the
    # run spends the burst the client allows itself (burst less 1 of headroom), then paces.
    orders = [f"113-0000000-00000{n:02d}" for n in range(7)]
    orders_csv(tmp_path, orders)
    with MessagingSandbox(enforce_rate_limits=True) as sandbox:
        started = time.monotonic()
        result = send_many(tmp_path, ["--endpoint", sandbox.url, "--json"])
        elapsed = time.monotonic() - started
        statuses = [r.status for r in sandbox.requests_for(CONFIRM)]
    assert result.returncode == 0, result.stderr
    assert statuses == [201] * 7  # no 429, each order once
    assert set(outcomes(json.loads(result.stdout)).values()) == {"sent"}
    assert elapsed >= 2.5  # 4 from the burst, then 3 at 1/s: the plan, not the CPU, sets the pace


# -- resume: dry run, a killed run, Ctrl-C, settling unknown ---------------------------------------


def test_a_dry_run_shows_the_journal_and_sends_nothing(tmp_path: Path) -> None:
    orders_csv(tmp_path, ORDERS[:1])
    with MessagingSandbox() as sandbox:
        assert send_many(tmp_path, ["--endpoint", sandbox.url]).returncode == 0
        orders_csv(tmp_path, ORDERS[:2])
        dry = send_many(tmp_path, ["--endpoint", sandbox.url, "--json"], "--dry-run")
        text = send_many(tmp_path, ["--endpoint", sandbox.url], "--dry-run")
        assert len(sandbox.requests) == 1
    assert dry.returncode == 0, dry.stderr
    rows = json.loads(dry.stdout)["rows"]
    assert [(r["order_id"], r["journal_state"], r["would_send"]) for r in rows] == [
        (ORDERS[0], "sent", False),
        (ORDERS[1], None, True),
    ]
    assert rows[1]["body"] == {"text": "Could you confirm the engraving?"}
    assert "line 2: 113-0000000-0000001 ATVPDKIKX0DER: already sent" in text.stdout
    assert "dry run: 1 of 2 would be sent" in text.stdout


def test_a_run_killed_mid_send_resumes_without_sending_anything_twice(tmp_path: Path) -> None:
    orders_csv(tmp_path)
    with CountingServer(held={ORDERS[1]}, hold=30.0) as server:
        args = ["--endpoint", server.url, "--lease", "1"]
        first = start_cli(
            tmp_path, "messaging", "send-many", CONFIRM, "--csv", "orders.csv",
            "--journal", "sends.sqlite3", "--text", "Hello", "--quiet", *args,
        )  # fmt: skip
        try:
            server.wait_for(ORDERS[1], timeout=15)  # Amazon has it; its answer is held back
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        time.sleep(1.2)  # the killed claim's lease runs out: it reads unknown

        again = send_many(tmp_path, [*args, "--json"])
        assert server.per_order() == dict.fromkeys(ORDERS, 1)  # each buyer got one message
        summary = send_many(tmp_path, args)
        assert server.per_order() == dict.fromkeys(ORDERS, 1)
    assert again.returncode == 3, again.stderr
    assert outcomes(json.loads(again.stdout)) == {
        ORDERS[0]: "already_sent",
        ORDERS[1]: "already_unknown",
        ORDERS[2]: "sent",
        ORDERS[3]: "sent",
    }
    assert summary.returncode == 3
    assert f"line 3: {ORDERS[1]}: already unknown" in summary.stdout
    assert "py-sp-api journal resolve" in summary.stdout


def test_ctrl_c_finishes_the_message_under_way_and_exits_130(tmp_path: Path) -> None:
    orders_csv(tmp_path)
    with CountingServer(held={ORDERS[1]}, hold=1.0) as server:
        run = start_cli(
            tmp_path, "messaging", "send-many", CONFIRM, "--csv", "orders.csv",
            "--journal", "sends.sqlite3", "--text", "Hello", "--quiet", "--endpoint", server.url,
            "--report", "partial.json",
        )  # fmt: skip
        try:
            server.wait_for(ORDERS[1], timeout=15)
            run.send_signal(signal.SIGINT)
            stdout, stderr = run.communicate(timeout=15)
        finally:
            run.kill()
    assert run.returncode == 130, stderr
    assert "interrupted: 2 row(s) not started" in stdout
    report = json.loads((tmp_path / "partial.json").read_text())
    assert report["interrupted"] is True
    assert outcomes(report) == {
        ORDERS[0]: "sent",
        ORDERS[1]: "sent",  # under way at Ctrl-C: finished and journaled, not unknown
        ORDERS[2]: "not_started",
        ORDERS[3]: "not_started",
    }


def test_journal_list_and_resolve_settle_an_unknown_send(tmp_path: Path) -> None:
    orders_csv(tmp_path, ORDERS[:1])
    journal = ["--journal", "sends.sqlite3", "--json"]
    with MessagingSandbox() as sandbox:
        sandbox.fail(CONFIRM, status=503)
        assert send_many(tmp_path, ["--endpoint", sandbox.url]).returncode == 3

        listed = cli(tmp_path, "journal", "list", "--state", "unknown", *journal)
        assert listed.returncode == 0, listed.stderr
        [entry] = json.loads(listed.stdout)
        assert (entry["order_id"], entry["status"]) == (ORDERS[0], 503)
        table = cli(tmp_path, "journal", "list", "--journal", "sends.sqlite3").stdout
        assert re.search(rf"^{entry['id']}\s+unknown\s+{ORDERS[0]}", table, re.MULTILINE), table

        resolved = cli(tmp_path, "journal", "resolve", entry["id"], "--not-delivered", *journal)
        assert resolved.returncode == 0, resolved.stderr
        assert json.loads(resolved.stdout)["state"] == "rejected"
        twice = cli(tmp_path, "journal", "resolve", entry["id"], "--delivered", *journal)
        assert twice.returncode == 1
        assert "only an unknown entry" in twice.stderr

        # Settled as not delivered: the same command sends it again.
        assert send_many(tmp_path, ["--endpoint", sandbox.url]).returncode == 0
        assert [r.status for r in sandbox.requests_for(CONFIRM)] == [503, 201]


def test_the_readme_command_line_example_runs(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("Command line", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    env = {**clean_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-ec", block[1]], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 row(s)" in result.stdout
    assert ": 2 sent" in result.stdout
    assert ": 2 already sent" in result.stdout


# -- review findings: CSV input the way spreadsheets write it -------------------------------------


def test_an_unclosed_quote_is_refused_not_merged_into_one_buyers_message(tmp_path: Path) -> None:
    # Review finding: the rows after an unclosed quote became one order's text.
    (tmp_path / "orders.csv").write_text(
        "order_id,marketplace_id,text\n"
        f'{ORDERS[0]},{MARKETPLACE},"Sorry for the delay\n'
        f"{ORDERS[1]},{MARKETPLACE},Your parcel left today\n",
        encoding="utf-8",
    )
    with RecordingServer() as server:
        result = send_many(tmp_path, ["--endpoint", server.url])
        assert server.requests == []
    assert result.returncode == 2, result.stdout + result.stderr
    assert "orders.csv:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_blank_text_cell_falls_back_to_the_default_text(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "orders.csv", [(ORDERS[0], MARKETPLACE, " ")], "order_id,marketplace_id,text"
    )
    with RecordingServer() as server:
        server.enqueue(201, {})
        result = send_many(tmp_path, ["--endpoint", server.url])
        bodies = [json.loads(r.body) for r in server.requests]
    assert result.returncode == 0, result.stderr
    assert bodies == [{"text": "Could you confirm the engraving?"}]


@pytest.mark.parametrize("problem", ["missing file", "cp1252 file"])
def test_a_csv_that_cannot_be_read_is_a_usage_error_without_a_traceback(
    tmp_path: Path, problem: str
) -> None:
    if problem == "cp1252 file":
        (tmp_path / "orders.csv").write_bytes(
            f"order_id,marketplace_id,text\n{ORDERS[0]},{MARKETPLACE},Gr\xfc\xdfe\n".encode(
                "latin-1"
            )
        )
    result = send_many(tmp_path, ["--sandbox"])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "orders.csv" in result.stderr


def test_a_report_that_cannot_be_written_is_refused_before_sending(tmp_path: Path) -> None:
    orders_csv(tmp_path, ORDERS[:1])
    with RecordingServer() as server:
        result = send_many(
            tmp_path, ["--endpoint", server.url], "--report", str(tmp_path / "nope" / "r.csv")
        )
        assert server.requests == []
    assert result.returncode == 2, result.stderr
    assert "cannot write" in result.stderr


def test_send_reports_a_4xx_whose_body_was_cut_off_as_rejected_like_its_journal(
    tmp_path: Path,
) -> None:
    # The status line came (Amazon refused the message), then the connection dropped mid-body:
    # the journal records it rejected, and `send` must say the same (not unknown, exit 3).
    with RecordingServer() as server:
        server.enqueue(400, b'{"errors": [{"code": "Inva', content_length=200)
        result = cli(
            tmp_path, "messaging", "send", CONFIRM, ORDERS[0], "--marketplace", MARKETPLACE,
            "--text", "Hello", "--journal", "sends.sqlite3", "--endpoint", server.url, "--json",
        )  # fmt: skip
        listed = cli(tmp_path, "journal", "list", "--journal", "sends.sqlite3", "--json")
    assert server.request_count == 1
    assert json.loads(result.stdout)["outcome"] == "rejected", result.stdout
    assert result.returncode == 1, result.stderr
    assert [entry["state"] for entry in json.loads(listed.stdout)] == ["rejected"], listed.stdout
