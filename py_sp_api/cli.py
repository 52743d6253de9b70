"""``py-sp-api``: the Messaging and Solicitations APIs from the command line.

Also ``python -m py_sp_api``.

Every command runs against Amazon (LWA credentials from the ``LWA_*`` variables; the host from
``--region`` or ``--marketplace``), against the embedded local sandbox (``--sandbox``: no
credentials, works offline), or against another host (``--endpoint URL``). Messages go through
the send journal, so re-running a command never messages a buyer twice.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type

from pydantic import ValidationError

from py_sp_api._version import __version__
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.generated.solicitations.operations import OPERATIONS as SOLICITATIONS
from py_sp_api.runtime import regions
from py_sp_api.runtime.api_client import ApiClient
from py_sp_api.runtime.auth import LwaCredentials
from py_sp_api.runtime.base_api import BaseApi
from py_sp_api.runtime.bulk import (
    ALREADY_SENT,
    ALREADY_UNKNOWN,
    NOT_STARTED,
    SENT,
    UNKNOWN,
    Job,
    JobResult,
    SendReport,
    _outcome_of_error,
    send_many,
)
from py_sp_api.runtime.configuration import Configuration
from py_sp_api.runtime.exceptions import (
    ApiTypeError,
    ApiValueError,
    OpenApiException,
)
from py_sp_api.runtime.headers import REQUEST_ID_HEADER
from py_sp_api.runtime.journal import DEFAULT_LEASE, STATES, JournalEntry, SendJournal, SendKey
from py_sp_api.runtime.operation import Operation
from py_sp_api.runtime.transport_security import redact_url

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_SOME_UNKNOWN = 3
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
The Messaging and Solicitations APIs from the command line: against Amazon (LWA_* credentials,
the host from --region or --marketplace), the embedded local sandbox (--sandbox: no
credentials, offline) or another host (--endpoint URL). Messages and review requests go
through the send journal: re-running a command never messages a buyer twice.
"""

EXIT_CODES = """\
exit codes:
  0    all done (sent, or already sent by an earlier run)
  1    some rejected by Amazon, not available, invalid or failed before sending
  2    usage error: bad options, or input that failed validation (nothing was sent)
  3    some unknown: Amazon may or may not have delivered them; never resent automatically
       (settle each with `py-sp-api journal resolve`)
  130  interrupted (Ctrl-C); run the same command again to resume
"""

COMMANDS = """\
commands (each also takes --json, and --sandbox | --endpoint URL | --region R | --marketplace ID,
--seller-id NAME):
  messaging actions ORDER_ID --marketplace ID
  messaging send OPERATION ORDER_ID --marketplace ID (--text T | --body-json FILE)
                 [--journal PATH] [--send-key K]
  messaging send-many OPERATION --csv FILE --journal PATH [--text T] [--check-actions]
                 [--dry-run] [--report FILE.csv|FILE.json] [--quiet] [--lease SECONDS]
  solicitations actions ORDER_ID --marketplace ID
  solicitations send ORDER_ID --marketplace ID [--journal PATH] [--send-key K]
  solicitations send-many CSV --journal PATH [--check-actions] [--dry-run]
                 [--report FILE.csv|FILE.json] [--quiet] [--lease SECONDS]
  journal list --journal PATH [--state S]
  journal resolve KEY --journal PATH (--delivered | --not-delivered)

A journal PATH is an SQLite file, or a redis:// URL with --namespace NAME.
"""

# Three, seven and seven digits; a digital order's starts with a letter (D01-...).
# ASCII only: Unicode digits (full-width, Arabic-Indic) would pass ``\d`` and go out.
ORDER_ID_FORM = re.compile(r"[0-9A-Z][0-9]{2}-[0-9]{7}-[0-9]{7}")
CSV_COLUMNS = ("order_id", "marketplace_id", "text")
SANDBOX_ORIGIN = "py-sp-api-sandbox://local"
SHORT_ID_LENGTH = 12


@dataclass(frozen=True)
class _ApiCommands:
    """What a command group needs to know of its API; the commands themselves are shared."""

    group: str
    operations: Mapping[str, Operation[Any]]
    load: Callable[[], Type[BaseApi]]  # the generated class, imported when a command runs
    none_available: str  # what `actions` prints for an order that offers nothing now
    how_to_check: str  # how a person finds out whether an unknown send reached the buyer


def _messaging_api() -> Type[BaseApi]:
    from py_sp_api.generated.messaging import MessagingApi

    return MessagingApi


def _solicitations_api() -> Type[BaseApi]:
    from py_sp_api.generated.solicitations import SolicitationsApi

    return SolicitationsApi


MESSAGING = _ApiCommands(
    "messaging",
    OPERATIONS,
    _messaging_api,
    "(no message types available now)",
    "find out in Seller Central (buyer messages)",
)
SOLICITATIONS_COMMANDS = _ApiCommands(
    "solicitations",
    SOLICITATIONS,
    _solicitations_api,
    "(no solicitations available now)",
    # Solicitations do not show in Seller Central's messages; an order asked once lists none.
    "find out with `py-sp-api solicitations actions` (an order already asked lists none)",
)


class _SandboxConfiguration(Configuration):
    """The embedded sandbox listens on a new port each run: its journal keys must not change."""

    @property
    def journal_identity(self) -> str:
        return f"{SANDBOX_ORIGIN}|{self.seller_id or 'anonymous'}"


# -- entry point --------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or argparse's usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not hasattr(options, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = options.run(options)
        return code
    except (ApiValueError, ApiTypeError) as exc:  # bad options or input: nothing was sent
        _error(_one_line(exc))
        return EXIT_USAGE
    except OpenApiException as exc:
        _error(_one_line(exc))
        return EXIT_SOME_FAILED
    except OSError as exc:
        _error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        _error("interrupted; run the same command again to resume")
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="py-sp-api",
        description=DESCRIPTION,
        epilog=COMMANDS + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"py-sp-api {__version__}")
    groups = parser.add_subparsers(
        title="command groups", metavar="{messaging,solicitations,journal}"
    )
    common, journal = _common_options(), _journal_options()
    _messaging_commands(groups, common, journal)
    _solicitations_commands(groups, common, journal)
    _journal_commands(groups, common, journal)
    return parser


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where to send (default: Amazon, LWA_* credentials)")
    target = where.add_mutually_exclusive_group()
    target.add_argument(
        "--sandbox",
        action="store_true",
        help="run against the embedded local sandbox: no credentials, no network",
    )
    target.add_argument(
        "--endpoint",
        metavar="URL",
        help="another host, e.g. a test server (no token is sent without LWA_* variables)",
    )
    where.add_argument(
        "--region", type=str.upper, choices=sorted(regions.REGIONS), help="Amazon's region"
    )
    where.add_argument(
        "--marketplace",
        metavar="ID",
        help="the marketplace id (e.g. ATVPDKIKX0DER); also picks Amazon's host",
    )
    where.add_argument(
        "--seller-id",
        metavar="NAME",
        help="a lasting name of the seller (its selling partner id): the send journal's key",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return common


def _journal_options() -> argparse.ArgumentParser:
    journal = argparse.ArgumentParser(add_help=False)
    group = journal.add_argument_group("send journal")
    group.add_argument(
        "--journal", metavar="PATH", help="an SQLite file, or a redis:// URL with --namespace"
    )
    group.add_argument("--namespace", metavar="NAME", help="the Redis journal's namespace")
    group.add_argument(
        "--lease",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_LEASE,
        help="seconds before a claim whose sender died reads unknown (default: %(default)g)",
    )
    return journal


def _leaf(
    groups: Any, name: str, parents: List[argparse.ArgumentParser], summary: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = groups.add_parser(
        name,
        parents=parents,
        help=summary,
        description=summary,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _messaging_commands(
    groups: Any, common: argparse.ArgumentParser, journal: argparse.ArgumentParser
) -> None:
    messaging = groups.add_parser("messaging", help="the Messaging API: actions, send, send-many")
    commands = messaging.add_subparsers(title="commands", metavar="{actions,send,send-many}")

    actions = _leaf(commands, "actions", [common], "the message types an order allows now")
    actions.add_argument("order_id", metavar="ORDER_ID")
    actions.set_defaults(run=run_actions, api=MESSAGING)

    send = _leaf(commands, "send", [common, journal], "send one message")
    send.add_argument("operation", metavar="OPERATION", help=_operations_help())
    send.add_argument("order_id", metavar="ORDER_ID")
    body = send.add_mutually_exclusive_group(required=True)
    body.add_argument("--text", help="the message text (for types whose body has a text)")
    body.add_argument("--body-json", metavar="FILE", help="the body as a JSON file")
    send.add_argument("--send-key", metavar="K", help="a key of your own, to send a type again")
    send.set_defaults(run=run_send, api=MESSAGING)

    many = _leaf(commands, "send-many", [common, journal], "send one message per CSV row")
    many.add_argument("operation", metavar="OPERATION", help=_operations_help())
    many.add_argument(
        "--csv",
        metavar="FILE",
        required=True,
        help="columns order_id, marketplace_id and, optionally, text",
    )
    many.add_argument("--text", help="the text of rows whose text cell is empty")
    many.add_argument(
        "--check-actions",
        action="store_true",
        help="skip orders that do not offer this message type now (not available)",
    )
    many.add_argument("--dry-run", action="store_true", help="validate and show; send nothing")
    many.add_argument("--report", metavar="FILE", help="write each row's outcome (.csv/.json)")
    many.add_argument("--quiet", action="store_true", help="no progress on stderr")
    many.set_defaults(run=run_send_many, api=MESSAGING)


def _solicitations_commands(
    groups: Any, common: argparse.ArgumentParser, journal: argparse.ArgumentParser
) -> None:
    group = groups.add_parser(
        "solicitations", help="the Solicitations API: ask buyers for a review (once per order)"
    )
    commands = group.add_subparsers(title="commands", metavar="{actions,send,send-many}")
    review = _only_solicitation().name

    actions = _leaf(commands, "actions", [common], "the solicitations an order allows now")
    actions.add_argument("order_id", metavar="ORDER_ID")
    actions.set_defaults(run=run_actions, api=SOLICITATIONS_COMMANDS)

    send = _leaf(commands, "send", [common, journal], "request a product review and feedback")
    send.add_argument("order_id", metavar="ORDER_ID")
    send.add_argument("--send-key", metavar="K", help="a key of your own, to request again")
    send.set_defaults(
        run=run_send, api=SOLICITATIONS_COMMANDS, operation=review, text=None, body_json=None
    )

    many = _leaf(commands, "send-many", [common, journal], "request a review per CSV row")
    many.add_argument("csv", metavar="CSV", help="columns order_id and marketplace_id")
    many.add_argument(
        "--check-actions",
        action="store_true",
        help="skip orders that do not offer the solicitation now (not available)",
    )
    many.add_argument("--dry-run", action="store_true", help="validate and show; send nothing")
    many.add_argument("--report", metavar="FILE", help="write each row's outcome (.csv/.json)")
    many.add_argument("--quiet", action="store_true", help="no progress on stderr")
    many.set_defaults(run=run_send_many, api=SOLICITATIONS_COMMANDS, operation=review, text=None)


def _only_solicitation() -> Operation[Any]:
    # Amazon offers one solicitation type; a second one would need its own command.
    (operation,) = [op for op in SOLICITATIONS.values() if op.method == "POST"]
    return operation


def _journal_commands(
    groups: Any, common: argparse.ArgumentParser, journal: argparse.ArgumentParser
) -> None:
    group = groups.add_parser("journal", help="list and settle the send journal's entries")
    commands = group.add_subparsers(title="commands", metavar="{list,resolve}")

    listing = _leaf(commands, "list", [common, journal], "the journal's entries")
    listing.add_argument("--state", choices=STATES, help="only entries in this state")
    listing.set_defaults(run=run_journal_list)

    resolve = _leaf(commands, "resolve", [common, journal], "settle an unknown entry once you know")
    resolve.add_argument("key", metavar="KEY", help="the ID (or KEY) printed by journal list")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--delivered", dest="delivered", action="store_true", help="the buyer got it: sent"
    )
    outcome.add_argument(
        "--not-delivered",
        dest="delivered",
        action="store_false",
        help="it was not delivered: rejected, so it may be sent again",
    )
    resolve.set_defaults(run=run_journal_resolve)


def _operations_help() -> str:
    names = ", ".join(name for name, op in OPERATIONS.items() if op.method == "POST")
    return f"a MessagingApi method ({names}) or Amazon's operation id"


# -- messaging actions ----------------------------------------------------------------------


def run_actions(options: argparse.Namespace) -> int:
    commands: _ApiCommands = options.api
    marketplace = _required_marketplace(options)
    _check_order_id(options.order_id)
    with _api_client(options, None, marketplace) as client:
        allowed = commands.load()(client).order_actions(options.order_id, marketplace)
    if options.json:
        record = {"order_id": options.order_id, "marketplace_id": marketplace, "actions": allowed}
        _print_json(record)
    else:
        print("\n".join(allowed) if allowed else commands.none_available)
    return EXIT_OK


# -- messaging send -------------------------------------------------------------------------


def run_send(options: argparse.Namespace) -> int:
    operation = _message_operation(options.operation, options.api)
    marketplace = _required_marketplace(options)
    _check_order_id(options.order_id)
    if options.text is not None:
        body = _body_with_text(operation, options.text, "--text")
    elif options.body_json is not None:
        body = _body_from_file(operation, options.body_json)
    else:
        body = None  # a solicitation: the request has no body
    _check_request(operation, options.order_id, marketplace, body)
    job = Job(operation.name, options.order_id, marketplace, body, options.send_key)
    with _session(options, marketplace, journal_required=False) as (journal, client):
        result = _send_one(client, operation, job)
        key_id = _key_id(client.configuration, operation, job) if journal else None
    report = SendReport(results=[result], finished_at=time.time())
    if options.json:
        _print_json({**_result_record(result), "journal_id": key_id})
    elif result.outcome in (SENT, ALREADY_SENT):
        verb = "sent" if result.outcome == SENT else "already sent (nothing sent now)"
        print(f"{operation.name} {job.order_id}: {verb}, request id {result.request_id}")
    else:
        _error(f"{operation.name} {job.order_id}: {_describe(result)}")
        if result.outcome in (UNKNOWN, ALREADY_UNKNOWN) and key_id:
            _error(_resolve_hint(key_id, options))
    return report.exit_code


def _send_one(client: ApiClient, operation: Operation[Any], job: Job) -> JobResult:
    args = (job.order_id, [job.marketplace_id])
    try:
        response = client.call(operation, args, job.body, send_key=job.send_key)
    except KeyboardInterrupt:
        raise
    except OpenApiException as exc:
        outcome, status, request_id = _outcome_of_error(exc)
        return JobResult(job, outcome, request_id, status, _one_line(exc), time.time())
    request_id = response.headers.get(REQUEST_ID_HEADER)
    return JobResult(job, SENT, request_id, response.status_code, None, time.time())


# -- messaging send-many --------------------------------------------------------------------


@dataclass(frozen=True)
class _RowError:
    line: int
    message: str


def run_send_many(options: argparse.Namespace) -> int:
    operation = _message_operation(options.operation, options.api)
    if not options.journal:
        raise ApiValueError("send-many needs --journal PATH: it is what makes a re-run resume")
    report_format = _report_format(options.report)
    if options.text is not None:
        _body_with_text(operation, options.text, "--text")  # a usage error before the rows
    jobs, errors = read_jobs(Path(options.csv), operation, options.text)
    if errors:
        for row_error in errors:
            _error(f"{options.csv}:{row_error.line}: {row_error.message}")
        raise ApiValueError(f"{len(errors)} invalid row(s) in {options.csv}; nothing was sent")
    if not jobs:
        raise ApiValueError(f"{options.csv} has no rows; nothing to send")
    host_marketplace = _host_marketplace(options, jobs)
    with _session(options, host_marketplace, journal_required=True) as (journal, client):
        assert journal is not None
        if options.dry_run:
            return _dry_run(options, client, journal, operation, jobs)
        report = _send_jobs(client, jobs, options, options.api.load())
        ids = _unsettled_ids(client.configuration, operation, report)
    _print_report(options, operation, report, ids)  # first: the run must be seen whatever
    if options.report:
        try:
            _write_report(report, Path(options.report), report_format)
        except OSError as exc:
            _error(f"--report {options.report}: could not be written ({exc.strerror})")
    return EXIT_INTERRUPTED if report.interrupted else report.exit_code


def _send_jobs(
    client: ApiClient, jobs: List[Job], options: argparse.Namespace, api: Type[BaseApi]
) -> SendReport:
    progress = not options.quiet
    return send_many(client, jobs, check_actions=options.check_actions, progress=progress, api=api)


def _unsettled_ids(
    config: Configuration, operation: Operation[Any], report: SendReport
) -> Dict[Optional[int], str]:
    """The journal ids of the rows a person must settle, by CSV line."""
    return {
        result.job.line: _key_id(config, operation, result.job)
        for result in report.results
        if result.outcome in (UNKNOWN, ALREADY_UNKNOWN)
    }


def read_jobs(
    path: Path, operation: Operation[Any], default_text: Optional[str]
) -> Tuple[List[Job], List[_RowError]]:
    """Every row of the CSV as a job, or every row's errors (by line): nothing half-checked."""
    jobs: List[Job] = []
    errors: List[_RowError] = []
    first_line: Dict[str, int] = {}
    for line, row in _csv_rows(path):
        try:
            job = _row_job(operation, line, row, default_text)
        except ApiValueError as exc:
            errors.append(_RowError(line, str(exc)))
            continue
        # By order alone: an order has one marketplace, and a second row naming another one
        # would be another journal key, so the buyer would be sent this twice.
        seen = first_line.setdefault(job.order_id, line)
        if seen != line:
            message = f"order {job.order_id} is on line {seen} too (one message per order)"
            errors.append(_RowError(line, message))
            continue
        jobs.append(job)
    return jobs, errors


def _csv_rows(path: Path) -> Iterator[Tuple[int, Dict[str, str]]]:
    if not path.is_file():
        raise ApiValueError(f"--csv {path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # strict: an unclosed quote is an error, not every following row merged into one text.
        reader = csv.reader(handle, strict=True)
        try:
            yield from _rows_of(path, reader)
        except (csv.Error, UnicodeDecodeError) as exc:
            reason = (
                "not UTF-8 text (save the file as CSV UTF-8)"
                if isinstance(exc, UnicodeDecodeError)
                else str(exc)
            )
            raise ApiValueError(f"{path}:{reader.line_num + 1}: {reason}") from None


def _rows_of(path: Path, reader: Any) -> Iterator[Tuple[int, Dict[str, str]]]:
    header = next(reader, None)
    if header is None:
        raise ApiValueError(f"{path} is empty: expected a header row ({', '.join(CSV_COLUMNS)})")
    columns = [name.strip().lower() for name in header]
    _check_columns(path, columns)
    line = reader.line_num
    for cells in reader:
        first, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) > len(columns):
            yield first, {"": "more cells than the header has columns"}
            continue
        cells += [""] * (len(columns) - len(cells))
        yield first, dict(zip(columns, cells))


def _check_columns(path: Path, columns: List[str]) -> None:
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    missing = [name for name in CSV_COLUMNS[:2] if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        # A misspelt "txt" column would otherwise send --text to every buyer instead.
        raise ApiValueError(
            f"{path}:1: the header must name the columns order_id, marketplace_id and "
            f"optionally text (each once); got {', '.join(columns) or 'nothing'}"
        )


def _row_job(
    operation: Operation[Any], line: int, row: Dict[str, str], default_text: Optional[str]
) -> Job:
    """The row's job; ApiValueError naming every problem of the row (ids and body alike)."""
    if "" in row:
        raise ApiValueError(row[""])
    order_id = row["order_id"].strip()
    marketplace_id = row["marketplace_id"].strip()
    problems: List[str] = []
    for check, args in ((_check_order_id, (order_id,)), (_check_ids, (order_id, marketplace_id))):
        try:
            check(*args)
        except ApiValueError as exc:
            problems.append(str(exc))
    try:
        text = (row.get("text") or "").strip()  # a blank cell is no text: --text applies
        body = _row_body(operation, text or default_text)
        _check_request(operation, order_id, marketplace_id, body)
    except ApiValueError as exc:
        if not problems:  # an id's error would be repeated by the request's check
            problems.append(str(exc))
    if problems:
        raise ApiValueError("; ".join(problems))
    return Job(operation.name, order_id, marketplace_id, body, None, None, line)


def _row_body(operation: Operation[Any], text: Optional[str]) -> Any:
    model = operation.body_model
    if model is None:
        if text:
            raise ApiValueError(f"{operation.name} takes no body: the row must have no text")
        return None
    if "text" not in model.model_fields:
        raise ApiValueError(
            f"{operation.name}'s body ({model.__name__}) has no text; send it with "
            "`messaging send --body-json`"
        )
    if not text:
        raise ApiValueError("no text: fill the row's text cell, or give --text")
    return _body_with_text(operation, text, "text")


def _dry_run(
    options: argparse.Namespace,
    client: ApiClient,
    journal: SendJournal,
    operation: Operation[Any],
    jobs: List[Job],
) -> int:
    plan = []
    for job in jobs:
        key = _send_key(client.configuration, operation, job)
        entry = journal.get(key)
        state = None if entry is None else entry.state
        plan.append((job, state, _short_id(str(key)), entry))
    if options.json:
        _print_json({"dry_run": True, "rows": [_plan_record(*item) for item in plan]})
        return EXIT_OK
    for job, state, _, entry in plan:
        print(f"line {job.line}: {job.order_id} {job.marketplace_id}: {_plan_words(state, entry)}")
        if state not in (None, "rejected") or job.body is None:
            continue
        print(f"    {_preview(job.body)}")
    would = sum(1 for _, state, _, _ in plan if state in (None, "rejected"))
    print(f"dry run: {would} of {len(plan)} would be sent by {operation.name}; nothing was sent")
    return EXIT_OK


def _plan_words(state: Optional[str], entry: Optional[JournalEntry]) -> str:
    if state is None:
        return "would send"
    if state == "rejected":
        return "would send (rejected before, so it may be sent again)"
    if state == "sent":
        return f"already sent (request id {entry.request_id if entry else None}): skipped"
    if state == "unknown":
        return "unknown outcome: never sent again until settled (journal resolve)"
    return "being sent by another run right now: skipped"


def _plan_record(
    job: Job, state: Optional[str], key_id: str, entry: Optional[JournalEntry]
) -> Dict[str, Any]:
    return {
        "line": job.line,
        "order_id": job.order_id,
        "marketplace_id": job.marketplace_id,
        "body": _body_json(job.body),
        "journal_state": state,
        "journal_id": key_id,
        "would_send": state in (None, "rejected"),
        "request_id": entry.request_id if entry else None,
    }


def _print_report(
    options: argparse.Namespace,
    operation: Operation[Any],
    report: SendReport,
    ids: Dict[Optional[int], str],
) -> None:
    if options.json:
        out = io.StringIO()
        report.write_json(out)
        text = out.getvalue()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    counts = {name: n for name, n in report.counts().items() if n}
    took = max(report.finished_at - report.started_at, 0.0)
    summary = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
    print(f"{operation.name}: {len(report.results)} row(s) in {took:.1f} s: {summary}")
    for result in report.results:
        if result.outcome in (SENT, ALREADY_SENT, NOT_STARTED):
            continue
        print(f"line {result.job.line}: {result.job.order_id}: {_describe(result)}")
        if result.job.line in ids:
            print(f"    {_resolve_hint(ids[result.job.line], options)}")
    if report.interrupted:
        waiting = counts.get(NOT_STARTED, 0)
        print(f"interrupted: {waiting} row(s) not started; run the same command to resume")


def _describe(result: JobResult) -> str:
    words = result.outcome.replace("_", " ")
    if result.status is not None:
        words += f" ({result.status})"
    if result.outcome == UNKNOWN or result.outcome == ALREADY_UNKNOWN:
        words += ": Amazon may have delivered it; it is never sent again until settled"
    error = result.error
    if error and result.job.line is not None:
        error = error.removeprefix(f"line {result.job.line}: ")
    if error:
        words += f": {error}"
    return words


def _resolve_hint(key_id: str, options: argparse.Namespace) -> str:
    journal: str = options.journal
    where = redact_url(journal) if "://" in journal else journal
    return (
        f"{options.api.how_to_check}, then: py-sp-api journal resolve {key_id} "
        f"--journal {where} --delivered (or --not-delivered)"
    )


def _report_format(path: Optional[str]) -> Optional[str]:
    if path is None:
        return None
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ApiValueError(f"--report {path}: name a .csv or a .json file")
    folder = Path(path).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        # Checked before sending: after it, a report that cannot be written would hide the run.
        raise ApiValueError(f"--report {path}: cannot write to {folder}")
    return suffix[1:]


def _write_report(report: SendReport, path: Path, report_format: Optional[str]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as out:
        if report_format == "csv":
            report.write_csv(out)
        else:
            report.write_json(out)
    os.replace(temporary, path)


# -- journal list / resolve -----------------------------------------------------------------


def run_journal_list(options: argparse.Namespace) -> int:
    with _opened_journal(options, required=True, existing=True) as journal:
        assert journal is not None
        entries = journal.entries(options.state)
    if options.json:
        _print_json([_entry_record(entry) for entry in entries])
        return EXIT_OK
    rows = [
        (
            _short_id(e.key),
            e.state,
            e.order_id,
            e.marketplace_id,
            e.operation,
            e.caller_key or "-",
            _utc(e.updated_at),
            e.request_id or "-",
        )
        for e in entries
    ]
    header = ("ID", "STATE", "ORDER", "MARKETPLACE", "OPERATION", "SEND KEY", "UPDATED", "REQUEST")
    _print_table(header, rows)
    return EXIT_OK


def run_journal_resolve(options: argparse.Namespace) -> int:
    with _opened_journal(options, required=True, existing=True) as journal:
        assert journal is not None
        entry = _find_entry(journal, options.key)
        try:
            settled = journal.resolve(entry.key, delivered=options.delivered)
        except ApiValueError as exc:  # not unknown, or its sender still runs: refused
            _error(_one_line(exc))
            return EXIT_SOME_FAILED
    if options.json:
        _print_json(_entry_record(settled))
    else:
        print(f"{_short_id(settled.key)} {settled.order_id} {settled.operation}: {settled.state}")
    return EXIT_OK


def _find_entry(journal: SendJournal, key: str) -> JournalEntry:
    if key.startswith("["):
        try:
            SendKey.parse(key)
        except (ValueError, TypeError) as exc:
            raise ApiValueError(f"{key!r} is not a journal key: {exc}") from None
        entry = journal.get(key)
        if entry is None:
            raise ApiValueError(f"no journal entry for {key}")
        return entry
    wanted = key.strip().lower()
    if len(wanted) < 4:
        raise ApiValueError(
            "give the ID printed by `py-sp-api journal list` (at least 4 characters)"
        )
    matches = [e for e in journal.entries() if _short_id(e.key).startswith(wanted)]
    if not matches:
        raise ApiValueError(f"no journal entry with ID {key} (see `py-sp-api journal list`)")
    if len(matches) > 1:
        raise ApiValueError(f"ID {key} names {len(matches)} entries: give more of it")
    return matches[0]


def _entry_record(entry: JournalEntry) -> Dict[str, Any]:
    record = entry.to_record()
    record.pop("claim_id", None)
    return {"id": _short_id(entry.key), **record}


# -- shared pieces --------------------------------------------------------------------------


def _message_operation(name: str, commands: _ApiCommands = MESSAGING) -> Operation[Any]:
    for operation in commands.operations.values():
        if name in (operation.name, operation.operation_id) and operation.method == "POST":
            return operation
    raise ApiValueError(f"{name!r} is not a message type; one of: {_operations_help()}")


def _required_marketplace(options: argparse.Namespace) -> str:
    given: Optional[str] = options.marketplace
    if not given:
        raise ApiValueError("give --marketplace ID (e.g. ATVPDKIKX0DER): the order's marketplace")
    try:
        return regions.marketplace(given).id  # a country code ("DE") names its marketplace
    except ApiValueError:
        return given  # a marketplace Amazon added since: its id's form is checked later


def _check_order_id(order_id: str) -> None:
    if not ORDER_ID_FORM.fullmatch(order_id):
        raise ApiValueError(
            f"order id {order_id!r} is not of Amazon's form (e.g. 113-1234567-1234567, "
            "or D01-1234567-1234567 for a digital order)"
        )


def _body_with_text(operation: Operation[Any], text: str, where: str) -> Any:
    model = operation.body_model
    if model is None or "text" not in model.model_fields:
        has = "no body" if model is None else f"a body ({model.__name__}) without text"
        raise ApiValueError(f"{where}: {operation.name} takes {has}; use --body-json")
    return _validated(model, {"text": text})


def _body_from_file(operation: Operation[Any], path: str) -> Any:
    model = operation.body_model
    if model is None:
        raise ApiValueError(f"--body-json: {operation.name} takes no body")
    if not Path(path).is_file():
        raise ApiValueError(f"--body-json {path}: no such file")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ApiValueError(f"--body-json {path}: not JSON ({exc})") from None
    except UnicodeDecodeError:
        raise ApiValueError(f"--body-json {path}: not UTF-8 text") from None
    return _validated(model, data)


def _validated(model: Any, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ApiValueError(f"invalid {model.__name__}: {problems}") from None


def _check_request(
    operation: Operation[Any], order_id: str, marketplace_id: str, body: Any
) -> None:
    """The checks the call itself makes (ids' forms, the body, unknown fields), sending nothing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # a removed type: warned later
            operation.prepare((order_id, [marketplace_id]), body)
    except (ApiValueError, ApiTypeError) as exc:
        raise ApiValueError(_one_line(exc)) from None


def _check_ids(order_id: str, marketplace_id: str) -> None:
    """The order and marketplace ids alone, as a call checks them."""
    if not marketplace_id:
        raise ApiValueError("marketplace_id is empty")
    _check_request(OPERATIONS["get_messaging_actions_for_order"], order_id, marketplace_id, None)


def _host_marketplace(options: argparse.Namespace, jobs: List[Job]) -> Optional[str]:
    """A marketplace that picks Amazon's host for the rows, when no option picks one."""
    if options.sandbox or options.endpoint or options.region or options.marketplace:
        return None
    found: Dict[str, str] = {}
    for job in jobs:
        try:
            region = regions.marketplace(job.marketplace_id).region.code
        except ApiValueError:
            raise ApiValueError(
                f"line {job.line}: marketplace {job.marketplace_id} is not one py-sp-api knows; "
                "pick the host with --region"
            ) from None
        found.setdefault(region, job.marketplace_id)
    if len(found) > 1:
        raise ApiValueError(
            f"the rows span regions {', '.join(sorted(found))}: run once per region "
            "(one CSV each, or --region)"
        )
    return next(iter(found.values()))


@contextlib.contextmanager
def _session(
    options: argparse.Namespace, marketplace: Optional[str], *, journal_required: bool
) -> Iterator[Tuple[Optional[SendJournal], ApiClient]]:
    """The journal (if any) and a client that sends through it."""
    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(_opened_journal(options, required=journal_required))
        yield journal, stack.enter_context(_api_client(options, journal, marketplace))


@contextlib.contextmanager
def _api_client(
    options: argparse.Namespace, journal: Optional[SendJournal], marketplace: Optional[str]
) -> Iterator[ApiClient]:
    with contextlib.ExitStack() as stack:
        config = _configuration(options, journal, marketplace, stack)
        yield stack.enter_context(ApiClient(config))


def _configuration(
    options: argparse.Namespace,
    journal: Optional[SendJournal],
    marketplace: Optional[str],
    stack: contextlib.ExitStack,
) -> Configuration:
    settings: Dict[str, Any] = {"journal": journal, "seller_id": options.seller_id}
    if options.sandbox:
        from py_sp_api.testing import MessagingSandbox

        sandbox = stack.enter_context(MessagingSandbox())
        return _SandboxConfiguration(sandbox.url, **settings)
    if options.endpoint:
        if LwaCredentials.available_in_env():
            settings["credentials"] = LwaCredentials.from_env()
        return Configuration(options.endpoint, **settings)
    settings["credentials"] = LwaCredentials.from_env()
    if options.region:
        return Configuration.for_region(options.region, **settings)
    chosen = options.marketplace or marketplace
    if chosen:
        return Configuration.for_marketplace(chosen, **settings)
    raise ApiValueError("pick the host: --region, --marketplace, --endpoint URL or --sandbox")


@contextlib.contextmanager
def _opened_journal(
    options: argparse.Namespace, *, required: bool, existing: bool = False
) -> Iterator[Optional[SendJournal]]:
    where: Optional[str] = options.journal
    if not where:
        if required:
            raise ApiValueError("give --journal PATH (an SQLite file, or a redis:// URL)")
        yield None
        return
    journal = _open_journal(where, options.namespace, options.lease, existing)
    try:
        yield journal
    finally:
        journal.close()


def _open_journal(where: str, namespace: Optional[str], lease: float, existing: bool) -> Any:
    if re.match(r"(redis|rediss|unix)://", where):
        if not namespace:
            raise ApiValueError("a Redis journal needs --namespace NAME")
        try:
            return SendJournal.redis(where, namespace=namespace, lease=lease)
        except ImportError:
            raise ApiValueError('a Redis journal needs: pip install "py-sp-api[redis]"') from None
    if namespace:
        raise ApiValueError("--namespace is for a redis:// journal only")
    if existing and not Path(where).is_file():
        raise ApiValueError(f"no journal at {where}")
    return SendJournal.sqlite(where, lease=lease)


def _send_key(config: Configuration, operation: Operation[Any], job: Job) -> SendKey:
    return SendKey.for_message(config, operation, job.marketplace_id, job.order_id, job.send_key)


def _key_id(config: Configuration, operation: Operation[Any], job: Job) -> str:
    return _short_id(str(_send_key(config, operation, job)))


def _short_id(key: str) -> str:
    """A handle for a journal key that fits on a command line (the key is JSON)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:SHORT_ID_LENGTH]


def _result_record(result: JobResult) -> Dict[str, Any]:
    return {
        "operation": result.job.operation,
        "order_id": result.job.order_id,
        "marketplace_id": result.job.marketplace_id,
        "outcome": result.outcome,
        "status": result.status,
        "request_id": result.request_id,
        "error": result.error,
    }


def _body_json(body: Any) -> Any:
    return None if body is None else body.model_dump(mode="json", by_alias=True, exclude_none=True)


def _preview(body: Any, width: int = 70) -> str:
    text = json.dumps(_body_json(body), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    if not rows:
        print("(no entries)")


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _one_line(exc: BaseException) -> str:
    return "; ".join(part.strip() for part in str(exc).splitlines() if part.strip())


def _error(message: str) -> None:
    print(f"py-sp-api: {message}", file=sys.stderr, flush=True)


__all__: Tuple[str, ...] = ("build_parser", "main", "read_jobs")
