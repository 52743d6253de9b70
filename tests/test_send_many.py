"""send_many against real loopback servers: every outcome, parallel buckets, resume, reports.

The throughput at the usage plan's limit is tests/test_send_many_throughput.py.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from py_sp_api import (
    NO_RETRIES,
    Job,
    RateLimit,
    RateLimiting,
    SendJournal,
    SendKey,
    SendReport,
    send_many,
)
from py_sp_api.generated.messaging import ApiClient, Configuration
from py_sp_api.runtime.bulk import (
    ALREADY_SENT,
    ALREADY_UNKNOWN,
    FAILED,
    IN_FLIGHT_ELSEWHERE,
    INVALID,
    NOT_AVAILABLE,
    NOT_STARTED,
    OUTCOMES,
    REJECTED,
    REPORT_COLUMNS,
    SENT,
    UNKNOWN,
    JobResult,
)
from py_sp_api.runtime.exceptions import ApiTypeError, ApiValueError, SendJournalError
from py_sp_api.runtime.journal import MemoryJournalBackend
from py_sp_api.runtime.progress import (
    PLAIN_INTERVAL,
    BucketPace,
    PlainProgress,
    ProgressTracker,
    eta_seconds,
    format_duration,
)
from py_sp_api.testing import MessagingSandbox
from tests.support import RecordingServer
from tests.support.http_server import unused_port
from tests.support.throttling import FakeClock

REPO = Path(__file__).resolve().parents[1]
MARKETPLACE = "ATVPDKIKX0DER"
CONFIRM = "create_confirm_order_details"
PROBLEM = "create_unexpected_problem"
TEXT = {"text": "Your parcel ships today."}


def order(n: int) -> str:
    return f"113-0000000-{n:07d}"


def job(n: int, operation: str = CONFIRM, **fields: Any) -> Job:
    fields.setdefault("body", TEXT)
    return Job(operation, order(n), MARKETPLACE, **fields)


@pytest.fixture
def sandbox() -> Iterator[MessagingSandbox]:
    with MessagingSandbox() as running:
        yield running


@pytest.fixture
def journal() -> SendJournal:
    return SendJournal.memory()


def client_for(url: str, journal: Optional[SendJournal], **options: Any) -> ApiClient:
    options.setdefault("retry", NO_RETRIES)
    return ApiClient(Configuration(host=url, journal=journal, **options))


@pytest.fixture
def client(sandbox: MessagingSandbox, journal: SendJournal) -> Iterator[ApiClient]:
    with client_for(sandbox.url, journal) as api_client:
        yield api_client


def outcomes(report: SendReport) -> List[str]:
    return [result.outcome for result in report.results]


# -- outcomes -----------------------------------------------------------------------------------


def test_sent_jobs_carry_the_request_id_and_are_journaled(
    sandbox: MessagingSandbox, client: ApiClient, journal: SendJournal
) -> None:
    report = send_many(client, [job(1), job(2, PROBLEM)], progress=False)
    assert outcomes(report) == [SENT, SENT]
    assert all(r.request_id and r.status == 201 for r in report.results)
    recorded = {entry.request_id for entry in journal.entries(state="sent")}
    assert recorded == {r.request_id for r in report.results}
    assert report.exit_code == 0


def test_a_4xx_is_rejected_and_a_5xx_unknown_and_the_run_goes_on(
    sandbox: MessagingSandbox, client: ApiClient
) -> None:
    sandbox.set_actions(order(1), [])  # 403 "Invalid amazonOrderId and template combination"
    sandbox.fail(PROBLEM, status=503)
    report = send_many(client, [job(1), job(2), job(3, PROBLEM)], progress=False)
    assert outcomes(report) == [REJECTED, SENT, UNKNOWN]
    rejected, _, unknown = report.results
    assert rejected.status == 403
    assert "template combination" in (rejected.error or "")
    assert unknown.status == 503
    assert report.exit_code == 3


def test_a_dropped_connection_is_unknown_and_a_refused_one_failed(journal: SendJournal) -> None:
    with RecordingServer() as server:
        server.enqueue(reset=True)
        with client_for(server.url, journal) as api_client:
            report = send_many(api_client, [job(1)], progress=False)
    assert outcomes(report) == [UNKNOWN]
    assert [e.state for e in journal.entries()] == ["unknown"]

    fresh = SendJournal.memory()
    with client_for(f"http://127.0.0.1:{unused_port()}", fresh) as api_client:
        report = send_many(api_client, [job(1, line=7)], progress=False)
    assert outcomes(report) == [FAILED]
    assert (report.results[0].error or "").startswith("line 7: ")
    assert fresh.entries() == []  # released: nothing reached a server


def test_invalid_jobs_are_refused_before_sending_with_their_line(
    sandbox: MessagingSandbox, client: ApiClient
) -> None:
    jobs = [
        job(1, "create_confirm_order_detail", line=2),  # a typo
        job(2, "get_attributes", line=3),  # not a message
        job(3, body={"txt": "typo"}, line=4),
        Job(CONFIRM, "", MARKETPLACE, TEXT, line=5),
        job(6, "create_negative_feedback_removal", line=6),  # takes no body
        job(7, line=7),
    ]
    report = send_many(client, jobs, progress=False)
    assert outcomes(report) == [INVALID] * 5 + [SENT]
    errors = [r.error or "" for r in report.results[:5]]
    assert errors[0].startswith("line 2: 'create_confirm_order_detail' is not an operation")
    assert errors[1].startswith("line 3: 'get_attributes' is not an operation")
    assert errors[2].startswith("line 4: ")
    assert "txt" in errors[2]
    assert errors[3].startswith("line 5: ")
    assert errors[4] == "line 6: create_negative_feedback_removal takes no body; nothing was sent"
    assert [r.order_id for r in sandbox.requests] == [order(7)]


def test_a_key_held_elsewhere_is_reported_and_not_sent(
    sandbox: MessagingSandbox, client: ApiClient, journal: SendJournal
) -> None:
    identity = client.configuration.journal_identity
    journal.claim(SendKey(identity, MARKETPLACE, order(1), "createConfirmOrderDetails"))
    report = send_many(client, [job(1)], progress=False)
    assert outcomes(report) == [IN_FLIGHT_ELSEWHERE]
    assert sandbox.requests == []
    assert report.exit_code == 1


def test_a_client_without_a_journal_or_a_lasting_seller_is_refused_before_sending(
    sandbox: MessagingSandbox,
) -> None:
    with client_for(sandbox.url, None) as plain, pytest.raises(ApiValueError, match="journal"):
        send_many(plain, [job(1)], progress=False)
    bare = client_for(sandbox.url, SendJournal.memory(), access_token="Atza|secret")
    with bare, pytest.raises(ApiValueError, match="seller_id") as refused:
        send_many(bare, [job(1)], progress=False)
    assert "secret" not in str(refused.value)
    with client_for(sandbox.url, SendJournal.memory()) as good, pytest.raises(ApiTypeError):
        send_many(good, [job(1), "not a job"], progress=False)  # type: ignore[list-item]  # on purpose
    assert sandbox.requests == []


def test_jobs_go_to_their_sellers_client(sandbox: MessagingSandbox) -> None:
    journal = SendJournal.memory()
    clients = {
        name: client_for(sandbox.url, journal, access_token=f"token-{name}", seller_id=name)
        for name in ("A1", "B2")
    }
    jobs = [job(1, seller="A1"), job(2, seller="B2"), job(3, seller="C3", line=9)]
    report = send_many(clients, jobs, progress=False)
    assert outcomes(report) == [SENT, SENT, INVALID]
    assert "line 9: unknown seller 'C3'" in (report.results[2].error or "")
    tokens = sorted(r.headers["x-amz-access-token"] for r in sandbox.requests)
    assert tokens == ["token-A1", "token-B2"]
    for each in clients.values():
        each.close()


# -- scheduling ---------------------------------------------------------------------------------


def test_buckets_run_side_by_side_each_in_its_order(
    sandbox: MessagingSandbox, journal: SendJournal
) -> None:
    # 5 jobs per bucket at 5/s, burst 1: 0.8 s each; one queue behind the other would take 1.8 s.
    pacing = RateLimiting(overrides=dict.fromkeys((CONFIRM, PROBLEM), RateLimit(5.0, 1)))
    jobs = [job(n, operation) for operation in (CONFIRM, PROBLEM) for n in range(5)]
    with client_for(sandbox.url, journal, rate_limiting=pacing) as api_client:
        started = time.monotonic()
        report = send_many(api_client, jobs, progress=False)
        elapsed = time.monotonic() - started
    assert outcomes(report) == [SENT] * 10
    assert 0.75 <= elapsed < 1.3, elapsed
    for operation in (CONFIRM, PROBLEM):
        sent = [r.order_id for r in sandbox.requests_for(operation)]
        assert sent == [order(n) for n in range(5)]


def test_max_workers_bounds_the_buckets_at_once(
    sandbox: MessagingSandbox, journal: SendJournal
) -> None:
    pacing = RateLimiting(overrides=dict.fromkeys((CONFIRM, PROBLEM), RateLimit(10.0, 1)))
    jobs = [job(n, operation) for operation in (CONFIRM, PROBLEM) for n in range(4)]
    with client_for(sandbox.url, journal, rate_limiting=pacing) as api_client:
        started = time.monotonic()
        report = send_many(api_client, jobs, progress=False, max_workers=1)
        elapsed = time.monotonic() - started
    assert outcomes(report) == [SENT] * 8
    # One worker: the second bucket starts after the first (0.3 s each, at 10/s burst 1).
    assert elapsed >= 0.55, elapsed
    first = [r.operation for r in sandbox.requests]
    assert first == [CONFIRM] * 4 + [PROBLEM] * 4
    with pytest.raises(ApiValueError):
        send_many(api_client, jobs, progress=False, max_workers=0)


# -- resume -------------------------------------------------------------------------------------


def test_a_rerun_with_the_same_journal_sends_nothing_twice(
    sandbox: MessagingSandbox, tmp_path: Path
) -> None:
    journal = SendJournal.sqlite(tmp_path / "sends.sqlite3")
    sandbox.fail(PROBLEM, status=500)
    jobs = [job(n, operation) for operation in (CONFIRM, PROBLEM) for n in range(3)]
    with client_for(sandbox.url, journal) as api_client:
        first = send_many(api_client, jobs, progress=False)
        second = send_many(api_client, jobs, progress=False)
    assert outcomes(first) == [SENT] * 3 + [UNKNOWN, SENT, SENT]
    assert outcomes(second) == [ALREADY_SENT] * 3 + [ALREADY_UNKNOWN, ALREADY_SENT, ALREADY_SENT]
    assert [r.request_id for r in second.results] == [r.request_id for r in first.results]
    sent = [(r.operation, r.order_id) for r in sandbox.requests]
    assert len(sent) == len(set(sent)) == 6
    assert second.exit_code == 3
    journal.close()


# -- check_actions ------------------------------------------------------------------------------


def test_check_actions_skips_what_an_order_does_not_offer_asking_once_per_order(
    sandbox: MessagingSandbox, client: ApiClient
) -> None:
    sandbox.set_actions(order(1), [PROBLEM])
    jobs = [job(1), job(1, PROBLEM), job(2), job(2, PROBLEM)]
    report = send_many(client, jobs, check_actions=True, progress=False)
    assert outcomes(report) == [NOT_AVAILABLE, SENT, SENT, SENT]
    assert "does not offer create_confirm_order_details" in (report.results[0].error or "")
    asked = [str(r.order_id) for r in sandbox.requests_for("get_messaging_actions_for_order")]
    assert sorted(asked) == [order(1), order(2)]
    # A resumed run is told by the journal, not by the order's actions (sent types vanish).
    again = send_many(client, jobs, check_actions=True, progress=False)
    assert outcomes(again) == [NOT_AVAILABLE, ALREADY_SENT, ALREADY_SENT, ALREADY_SENT]
    assert report.exit_code == again.exit_code == 1


def test_a_failed_actions_check_fails_the_job_and_sends_nothing(
    sandbox: MessagingSandbox, client: ApiClient
) -> None:
    sandbox.fail("get_messaging_actions_for_order", status=500)
    report = send_many(client, [job(1)], check_actions=True, progress=False)
    assert outcomes(report) == [FAILED]
    assert "checking the actions" in (report.results[0].error or "")
    assert sandbox.requests_for(CONFIRM) == []


# -- Ctrl-C -------------------------------------------------------------------------------------


def test_ctrl_c_lets_the_requests_under_way_finish_and_journal_them(tmp_path: Path) -> None:
    journal_path = tmp_path / "sends.sqlite3"
    with RecordingServer() as server:
        for _ in range(10):
            server.enqueue(201, {}, delay=1.0)
        spec = {
            "url": server.url,
            "journal": str(journal_path),
            "operations": [CONFIRM, PROBLEM],
            "orders": [order(n) for n in range(5)],
        }
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.support.send_many_runner", json.dumps(spec)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert runner.stdout is not None
            assert runner.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 10
            while server.request_count < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.request_count == 2  # one per bucket, both answered in 1 s
            runner.send_signal(signal.SIGINT)
            output, _ = runner.communicate(timeout=10)
        finally:
            if runner.poll() is None:
                runner.kill()
        received = server.request_count
    report = json.loads(output)
    assert runner.returncode == 0
    assert report["interrupted"] is True
    assert report["counts"][SENT] == received == 2
    assert report["counts"][NOT_STARTED] == 8
    assert report["counts"][UNKNOWN] == 0
    journal = SendJournal.sqlite(journal_path)
    assert sorted(entry.state for entry in journal.entries()) == ["sent", "sent"]
    journal.close()


# -- reports ------------------------------------------------------------------------------------


def sample_report(*outcome_list: str) -> SendReport:
    results = [
        JobResult(job(n, line=n + 2), outcome, request_id=f"rid-{n}", status=201)
        for n, outcome in enumerate(outcome_list)
    ]
    return SendReport(results, started_at=100.0, finished_at=112.5)


@pytest.mark.parametrize(
    ("outcome_list", "code"),
    [
        ((SENT, ALREADY_SENT), 0),
        ((), 0),
        ((SENT, REJECTED), 1),
        ((SENT, INVALID), 1),
        ((SENT, FAILED), 1),
        ((SENT, NOT_AVAILABLE), 1),
        ((SENT, NOT_STARTED), 1),
        ((SENT, IN_FLIGHT_ELSEWHERE), 1),
        ((REJECTED, UNKNOWN), 3),
        ((SENT, ALREADY_UNKNOWN), 3),
    ],
)
def test_exit_codes(outcome_list: Any, code: int) -> None:
    assert sample_report(*outcome_list).exit_code == code


def test_counts_list_every_outcome() -> None:
    counts = sample_report(SENT, SENT, REJECTED).counts()
    assert list(counts) == list(OUTCOMES)
    assert counts[SENT] == 2
    assert counts[REJECTED] == 1
    assert sum(counts.values()) == 3


def test_csv_and_json_reports() -> None:
    report = sample_report(SENT, REJECTED)
    report.interrupted = True
    out = io.StringIO()
    report.write_csv(out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == REPORT_COLUMNS
    assert rows[1] == {
        "line": "3",
        "operation": CONFIRM,
        "order_id": order(1),
        "marketplace_id": MARKETPLACE,
        "send_key": "",
        "seller": "",
        "outcome": REJECTED,
        "status": "201",
        "request_id": "rid-1",
        "error": "",
    }
    out = io.StringIO()
    report.write_json(out)
    document: Dict[str, Any] = json.loads(out.getvalue())
    assert set(document) == {"counts", "interrupted", "elapsed", "results"}
    assert document["interrupted"] is True
    assert document["elapsed"] == 12.5
    assert document["counts"][SENT] == 1
    assert document["results"][0]["order_id"] == order(0)
    assert set(document["results"][0]) == set(REPORT_COLUMNS)


# -- progress -----------------------------------------------------------------------------------


def test_progress_false_prints_nothing(
    client: ApiClient, capfd: pytest.CaptureFixture[str]
) -> None:
    send_many(client, [job(1), job(2, PROBLEM)], progress=False)
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_progress_true_ends_with_the_counts_on_stderr(
    client: ApiClient, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox_jobs = [job(1), job(2, PROBLEM), job(3, "nope")]
    send_many(client, sandbox_jobs, progress=True)
    captured = capfd.readouterr()
    assert "sent 2, invalid 1" in captured.err
    assert captured.out == ""


def test_the_plain_line_comes_at_most_every_interval_and_once_at_the_end() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(3, [], clock=clock)
    stream = io.StringIO()
    plain = PlainProgress(tracker, stream, clock=clock)
    plain.finished(None, SENT)
    plain.tick()
    clock.advance(PLAIN_INTERVAL / 2)
    plain.tick()
    assert stream.getvalue() == ""
    clock.advance(PLAIN_INTERVAL / 2)
    plain.finished(None, REJECTED)
    plain.tick()
    plain.tick()
    assert stream.getvalue() == "send_many: 2/3 | sent 1, rejected 1 | 1.0 jobs/s | ETA 0:00\n"
    plain.finished(None, SENT)
    plain.close()
    assert stream.getvalue().splitlines()[-1].startswith("send_many: 3/3 | sent 2, rejected 1")


def test_eta_follows_the_plan_and_the_burst_left() -> None:
    # 25 jobs left, a full burst of 4 at 1/s: 4 go at once, 21 at 1/s.
    assert eta_seconds([BucketPace(25, 1.0, 4, 0)], elapsed=0.0) == 21.0
    # Burst spent 10 s ago, 6 more sent since: the bucket is empty again.
    assert eta_seconds([BucketPace(15, 1.0, 4, 10)], elapsed=6.0) == 15.0
    # Idle long enough to refill: never more than the burst.
    assert eta_seconds([BucketPace(10, 2.0, 4, 0)], elapsed=100.0) == 3.0
    # Buckets run side by side: the slowest decides; finished ones do not count.
    paces = [BucketPace(9, 1.0, 4, 0), BucketPace(30, 10.0, 4, 0), BucketPace(0, None, 1, 5)]
    assert eta_seconds(paces, elapsed=0.0) == 5.0
    assert eta_seconds([BucketPace(1, None, 0, 0)], elapsed=0.0) is None
    assert eta_seconds([], elapsed=0.0) == 0.0
    assert [format_duration(s) for s in (None, 0.4, 61, 3725)] == ["?", "0:00", "1:01", "1:02:05"]


def test_no_background_threads_survive_a_run(client: ApiClient) -> None:
    send_many(client, [job(n, op) for op in (CONFIRM, PROBLEM) for n in range(3)], progress=False)
    alive = [t.name for t in threading.enumerate() if t.name.startswith("py-sp-api-send-many")]
    assert alive == []


# -- review findings ----------------------------------------------------------------------------


def test_a_success_whose_body_was_cut_off_is_reported_sent() -> None:
    # Review finding: reported "failed" (nothing sent) with no request id, for a message the
    # journal held as sent.
    journal = SendJournal.memory()
    with RecordingServer() as server:
        server.enqueue(201, b'{"err', {"x-amzn-RequestId": "rid-cut"}, content_length=100)
        with client_for(server.url, journal) as api_client:
            report = send_many(api_client, [job(1)], progress=False)
    (result,) = report.results
    assert (result.outcome, result.status, result.request_id) == (SENT, 201, "rid-cut")
    assert [e.state for e in journal.entries()] == ["sent"]


class _JournalFailingOnce(MemoryJournalBackend):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def get(self, key: str) -> Any:
        if not self.failed:
            self.failed = True
            raise SendJournalError("sqlite", "database is locked")
        return super().get(key)


def test_one_jobs_journal_error_never_stops_the_rest_of_its_bucket(
    sandbox: MessagingSandbox,
) -> None:
    journal = SendJournal(_JournalFailingOnce())
    with client_for(sandbox.url, journal) as api_client:
        report = send_many(api_client, [job(n) for n in range(1, 5)], progress=False)
    assert outcomes(report) == [FAILED, SENT, SENT, SENT]
    assert "database is locked" in (report.results[0].error or "")
