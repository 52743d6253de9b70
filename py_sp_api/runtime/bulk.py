"""Messaging many orders: ``send_many`` runs a job list through the send journal and the limiter.

A job is any action on an order: a Messaging message, or a Solicitations request for a review
(``send_many(..., api=SolicitationsApi)``); both go through the same journal and limiter.

Amazon keeps one token bucket per operation and seller, so a job list is split into those
buckets and each bucket gets a worker of its own: a mixed list keeps every bucket busy at once,
and no bucket waits behind a slower one. The client's rate limiter paces each worker; the send
journal makes a re-run skip what was sent. The command line (``py_sp_api.cli``) is built on it.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

from py_sp_api.runtime.api_client import ApiClient
from py_sp_api.runtime.base_api import BaseApi
from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiTypeError,
    ApiValueError,
    DuplicateSendError,
)
from py_sp_api.runtime.operation import Operation

_log = logging.getLogger("py_sp_api.bulk")

# Outcomes of a job, as the report counts them.
SENT = "sent"  # Amazon answered 2xx; recorded sent
REJECTED = "rejected"  # Amazon answered 4xx (429 included after the retries); nothing delivered
UNKNOWN = "unknown"  # no answer / 5xx / dropped: recorded unknown, never resent
ALREADY_SENT = "already_sent"  # the journal holds the key as sent: skipped (a resumed run)
ALREADY_UNKNOWN = "already_unknown"  # the journal holds it as unknown: listed, never sent
IN_FLIGHT_ELSEWHERE = "in_flight_elsewhere"  # another worker holds the claim now
NOT_AVAILABLE = "not_available"  # check_actions: the order does not offer this type now
INVALID = "invalid"  # refused before sending (bad order id, body...): nothing sent
FAILED = "failed"  # any other error before anything was sent (credentials, ...)
NOT_STARTED = "not_started"  # the run was interrupted (Ctrl-C) before this job's turn
PENDING = "pending"  # queued as a task (py_sp_api.integrations.celery) with no result yet
OUTCOMES: Tuple[str, ...] = (
    SENT,
    REJECTED,
    UNKNOWN,
    ALREADY_SENT,
    ALREADY_UNKNOWN,
    IN_FLIGHT_ELSEWHERE,
    NOT_AVAILABLE,
    INVALID,
    FAILED,
    NOT_STARTED,
    PENDING,
)

# Outcomes that may hide a delivered message nobody can confirm: exit code 3.
UNSETTLED_OUTCOMES: Tuple[str, ...] = (UNKNOWN, ALREADY_UNKNOWN)
# Outcomes that leave a job undone (exit code 1); SENT and ALREADY_SENT are done.
UNDONE_OUTCOMES: Tuple[str, ...] = (
    REJECTED,
    INVALID,
    FAILED,
    NOT_AVAILABLE,
    NOT_STARTED,
    IN_FLIGHT_ELSEWHERE,
    PENDING,
)
# Outcomes whose request went to Amazon, spending a token of the operation's bucket.
TOKEN_SPENDING_OUTCOMES: Tuple[str, ...] = (SENT, REJECTED, UNKNOWN)
REPORT_COLUMNS: Tuple[str, ...] = (
    "line",
    "operation",
    "order_id",
    "marketplace_id",
    "send_key",
    "seller",
    "outcome",
    "status",
    "request_id",
    "error",
)
_DUPLICATE_OUTCOMES = {"sent": ALREADY_SENT, "unknown": ALREADY_UNKNOWN}
_ERROR_LIMIT = 1000  # characters of an error kept in a report row
_TICK = 0.2  # seconds between progress refreshes while waiting for the workers


@dataclass(frozen=True)
class Job:
    """One message (or solicitation) to send.

    Args:
        operation: the API method's name, e.g. ``"create_confirm_order_details"`` or
            ``"create_product_review_and_seller_feedback_solicitation"``.
        order_id, marketplace_id: the order and its marketplace.
        body: the request model (or a dict of it); ``None`` for operations without a body.
        send_key: the journal's caller key (``None``: one message of this type per order).
        seller: which client sends it, when ``send_many`` is given several (by name).
        line: where the job came from (a CSV line number), for reports and errors.
    """

    operation: str
    order_id: str
    marketplace_id: str
    body: Any = None
    send_key: Optional[str] = None
    seller: Optional[str] = None
    line: Optional[int] = None


@dataclass(frozen=True)
class JobResult:
    job: Job
    outcome: str
    request_id: Optional[str] = None
    status: Optional[int] = None
    error: Optional[str] = None
    finished_at: Optional[float] = None

    def to_record(self) -> Dict[str, Any]:
        """The report row: :data:`REPORT_COLUMNS` as a dict."""
        job = self.job
        return {
            "line": job.line,
            "operation": job.operation,
            "order_id": job.order_id,
            "marketplace_id": job.marketplace_id,
            "send_key": job.send_key,
            "seller": job.seller,
            "outcome": self.outcome,
            "status": self.status,
            "request_id": self.request_id,
            "error": self.error,
        }


@dataclass
class SendReport:
    """What ``send_many`` did: one :class:`JobResult` per job, in the jobs' order.

    ``started_at``/``finished_at`` are seconds since the epoch; ``interrupted`` is True when
    Ctrl-C stopped the run (the jobs not begun then are ``not_started``).
    """

    results: List[JobResult] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    interrupted: bool = False

    @property
    def elapsed(self) -> float:
        """Seconds the run took."""
        return max(0.0, self.finished_at - self.started_at)

    def counts(self) -> Dict[str, int]:
        """How many jobs ended in each outcome (every outcome present, zeros included)."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some rejected (or invalid/failed/not available), 3 some unknown."""
        outcomes = {result.outcome for result in self.results}
        if outcomes.intersection(UNSETTLED_OUTCOMES):
            return 3
        if outcomes.intersection(UNDONE_OUTCOMES):
            return 1
        return 0

    def write_csv(self, out: IO[str]) -> None:
        """One row per job (:data:`REPORT_COLUMNS`), a header first."""
        writer = csv.DictWriter(out, fieldnames=list(REPORT_COLUMNS))
        writer.writeheader()
        for result in self.results:
            writer.writerow(result.to_record())

    def write_json(self, out: IO[str]) -> None:
        """An object: ``counts``, ``interrupted``, ``elapsed`` (seconds) and ``results``."""
        document = {
            "counts": self.counts(),
            "interrupted": self.interrupted,
            "elapsed": round(self.elapsed, 3),
            "results": [result.to_record() for result in self.results],
        }
        json.dump(document, out, indent=2)
        out.write("\n")


def send_many(
    client: Union[ApiClient, Mapping[str, ApiClient]],
    jobs: Iterable[Job],
    *,
    check_actions: bool = False,
    progress: Optional[bool] = None,
    max_workers: int = 32,
    api: Union[Type[BaseApi], Sequence[Type[BaseApi]], None] = None,
) -> SendReport:
    """Send every job, each usage-plan bucket busy at once; a job's failure never stops the run.

    ``client`` (or each client of a mapping, picked by ``Job.seller``) must have a send journal
    configured. ``progress=None`` shows progress when stderr is a terminal or in Jupyter.

    Jobs of one bucket (seller and operation) go in the order given; buckets run side by side,
    at most ``max_workers`` at once. ``api`` is the generated API class (or classes) whose
    methods the jobs name: ``MessagingApi`` by default, ``SolicitationsApi`` for review
    requests, or both for a mixed list. With ``check_actions`` each order's actions are asked
    first (``get_messaging_actions_for_order``, ``get_solicitation_actions_for_order``: once per
    order, marketplace and API), and a job whose action the order does not offer is skipped as
    ``not_available``. Ctrl-C stops
    handing out jobs: the requests already under way finish and are journaled, the rest are
    ``not_started``, and the report comes back with ``interrupted=True``.

    Raises:
        ApiValueError, ApiTypeError: before anything is sent, for a client without a journal
            (or without a lasting seller name), a job that is not a :class:`Job`, a bad
            ``max_workers``, an ``api`` that is not a generated API class (or a list of
            them), or ``api`` classes that name one method twice.
    """
    clients = _checked_clients(client)
    job_list = _checked_jobs(jobs)
    _check_max_workers(max_workers)
    sending = _sending_operations(api)
    run = _Run(clients, job_list, check_actions, sending)
    return run.execute(progress, max_workers)


# -- validation ---------------------------------------------------------------------------------


def _checked_clients(
    client: Union[ApiClient, Mapping[str, ApiClient]],
) -> Dict[Optional[str], ApiClient]:
    if isinstance(client, ApiClient):
        clients: Dict[Optional[str], ApiClient] = {None: client}
    elif isinstance(client, Mapping):
        if not client:
            raise ApiValueError("send_many needs at least one client")
        clients = {}
        for seller, each in client.items():
            if not isinstance(seller, str) or not isinstance(each, ApiClient):
                raise ApiTypeError("send_many takes an ApiClient or a {seller name: ApiClient}")
            clients[seller] = each
    else:
        raise ApiTypeError(
            f"send_many takes an ApiClient or a {{seller: ApiClient}}, not {type(client).__name__}"
        )
    for name, each in clients.items():
        config = each.configuration
        if config.journal is None:
            whose = "the client" if name is None else f"the client of seller {name!r}"
            raise ApiValueError(
                f"{whose} has no send journal: pass Configuration(journal=SendJournal.sqlite("
                "path)) so that a re-run never messages a buyer twice; nothing was sent"
            )
        config.journal_identity  # noqa: B018  (ApiValueError now, not once per job)
    return clients


def _checked_jobs(jobs: Iterable[Job]) -> List[Job]:
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Iterable):
        raise ApiTypeError(f"jobs must be an iterable of Job, not {type(jobs).__name__}")
    job_list = list(jobs)
    for index, job in enumerate(job_list):
        if not isinstance(job, Job):
            raise ApiTypeError(f"jobs[{index}] is a {type(job).__name__}, not a Job")
    return job_list


def _sending_operations(
    api: Union[Type[BaseApi], Sequence[Type[BaseApi]], None],
) -> Dict[str, Tuple[Type[BaseApi], Operation[Any]]]:
    """The operations jobs may name (those that send), by method name, with their API class."""
    if api is None:
        from py_sp_api.generated.messaging import MessagingApi

        api = MessagingApi
    if isinstance(api, type):
        classes: List[Any] = [api]
    elif isinstance(api, Sequence) and not isinstance(api, str):
        classes = list(api)
    else:
        raise ApiTypeError(
            "api must be a generated API class (or a list of them), e.g. SolicitationsApi, "
            f"not a {type(api).__name__} instance"
        )
    sending: Dict[str, Tuple[Type[BaseApi], Operation[Any]]] = {}
    for each in classes:
        if not (isinstance(each, type) and issubclass(each, BaseApi)):
            raise ApiTypeError(f"api must be a generated API class (or a list of them): {each!r}")
        for name, operation in each.operations.items():
            if operation.is_idempotent or not operation.journaled:
                continue  # send_many journals every job
            if name in sending and sending[name][0] is not each:
                # A job names a method: with two candidates, which one sends is a guess.
                raise ApiValueError(
                    f"{name} is a method of {sending[name][0].__name__} and {each.__name__}: "
                    "run their jobs in separate send_many calls"
                )
            sending[name] = (each, operation)
    if not sending:
        raise ApiValueError("api names no operation that sends anything")
    return sending


def _check_max_workers(max_workers: int) -> None:
    if isinstance(max_workers, bool) or not isinstance(max_workers, int):
        raise ApiTypeError(f"max_workers must be an int, not {type(max_workers).__name__}")
    if max_workers < 1:
        raise ApiValueError(f"max_workers must be at least 1, got {max_workers}")


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Bucket:
    """One usage-plan bucket of a run: a seller's operation, and the jobs it sends in order."""

    identity: str
    operation: Operation[Any]
    client: ApiClient
    indices: List[int] = field(default_factory=list)

    @property
    def plan(self) -> Tuple[Optional[float], int]:
        """``(rate, burst the client uses)``; rate ``None`` when the client does not pace."""
        limiting = self.client.configuration.rate_limiting
        if not limiting.enabled:
            return None, 0
        plan = limiting.plan_for(self.operation)
        return plan.rate, limiting.burst_for(plan)


class _Pending:
    """A value one thread fetches while others wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.actions: List[str] = []
        self.error: Optional[str] = None


class _Run:
    def __init__(
        self,
        clients: Dict[Optional[str], ApiClient],
        jobs: List[Job],
        check_actions: bool,
        sending: Dict[str, Tuple[Type[BaseApi], Operation[Any]]],
    ) -> None:
        self.jobs = jobs
        self.check_actions = check_actions
        self.sending = sending
        self.results: List[Optional[JobResult]] = [None] * len(jobs)
        self.stop = threading.Event()
        api_classes = {api_class for api_class, _ in sending.values()}
        self.apis: Dict[Tuple[int, type], BaseApi] = {
            (id(each), api_class): api_class(each)
            for each in clients.values()
            for api_class in api_classes
        }
        self._actions_lock = threading.Lock()
        self._actions: Dict[Tuple[int, type, str, str], _Pending] = {}
        self.buckets = self._bucketed(clients)
        self.progress: Any = None

    def _bucketed(self, clients: Dict[Optional[str], ApiClient]) -> List[Bucket]:
        buckets: Dict[Tuple[str, str], Bucket] = {}
        first_job: Dict[Tuple[int, str, str, Optional[str]], int] = {}
        for index, job in enumerate(self.jobs):
            client, problem = _client_for(clients, job)
            found = self.sending.get(job.operation)
            operation = None if found is None else found[1]
            if problem is None and operation is None:
                problem = self._unknown_operation(job)
            if problem is None and client is not None:
                # Each marketplace id is another journal key: one order in two would go twice.
                key = (id(client), job.operation, job.order_id, job.send_key)
                problem = self._other_marketplace(job, first_job.setdefault(key, index))
            if problem is not None or client is None or operation is None:
                self.results[index] = _result(job, INVALID, error=_at_line(job, problem or ""))
                continue
            identity = client.configuration.rate_limit_identity
            bucket = buckets.get((identity, operation.name))
            if bucket is None:
                bucket = buckets[(identity, operation.name)] = Bucket(identity, operation, client)
            bucket.indices.append(index)
        return list(buckets.values())

    def _other_marketplace(self, job: Job, first: int) -> Optional[str]:
        earlier = self.jobs[first]
        if earlier.marketplace_id == job.marketplace_id:
            return None  # the same key: the journal refuses the second
        where = f"on line {earlier.line}" if earlier.line is not None else f"in jobs[{first}]"
        return (
            f"order {job.order_id} is also {where}, with marketplace {earlier.marketplace_id}: "
            "an order has one marketplace; nothing was sent"
        )

    def _unknown_operation(self, job: Job) -> str:
        # Often a method of another API (a review request with Messaging's default): say so.
        classes = " or ".join(
            sorted({api_class.__name__ for api_class, _ in self.sending.values()})
        )
        known = ", ".join(sorted(self.sending))
        return (
            f"{job.operation!r} is not an operation of {classes} that sends ({known}); a job of "
            "another API needs its class in send_many(api=...)"
        )

    # -- driving ---------------------------------------------------------------------------

    def execute(self, progress: Optional[bool], max_workers: int) -> SendReport:
        from py_sp_api.runtime.progress import make_progress

        report = SendReport(started_at=time.time())
        self.progress = make_progress(progress, len(self.jobs), self.buckets)
        for result in self.results:
            if result is not None:
                self.progress.finished(None, result.outcome)
        workers = max(1, min(max_workers, len(self.buckets)))
        executor = ThreadPoolExecutor(workers, thread_name_prefix="py-sp-api-send-many")
        futures: List[Future[None]] = []
        try:
            try:
                futures = [executor.submit(self._drain, bucket) for bucket in self.buckets]
                self._wait(futures)
            except KeyboardInterrupt:
                # Workers are never interrupted: a request under way finishes and is journaled.
                report.interrupted = True
                self.stop.set()
                self._wait(futures)
        finally:
            self.stop.set()
            executor.shutdown(wait=not report.interrupted or all(f.done() for f in futures))
            self.progress.close()
        report.results = [
            result if result is not None else _result(job, NOT_STARTED)
            for job, result in zip(self.jobs, self.results)
        ]
        report.finished_at = time.time()
        return report

    def _wait(self, futures: Sequence[Future[None]]) -> None:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=_TICK, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:  # a bug here, not a job's failure: say so, go on
                    _log.error("send_many: a worker stopped: %s: %s", type(error).__name__, error)
            self.progress.tick()

    def _drain(self, bucket: Bucket) -> None:
        api = self.apis[(id(bucket.client), self.sending[bucket.operation.name][0])]
        for index in bucket.indices:
            if self.stop.is_set():
                return  # the rest stay NOT_STARTED
            job = self.jobs[index]
            try:
                result = self._run_job(job, bucket, api)
            except Exception as exc:  # e.g. the journal unreadable for one job's check
                error = _at_line(job, f"before sending: {_describe(exc)}")
                result = _result(job, FAILED, error=error)
            if result is None:
                return  # stopped after its check, before sending
            self.results[index] = result
            self.progress.finished(bucket, result.outcome)

    # -- one job ----------------------------------------------------------------------------

    def _run_job(self, job: Job, bucket: Bucket, api: BaseApi) -> Optional[JobResult]:
        if self.check_actions:
            skipped = self._checked_first(job, bucket, api)
            if skipped is not None:
                return skipped
            if self.stop.is_set():
                return None
        operation = bucket.operation
        if operation.body is None and job.body is not None:
            error = f"{job.operation} takes no body; nothing was sent"
            return _result(job, INVALID, error=_at_line(job, error))
        args: List[Any] = [job.order_id, [job.marketplace_id]]
        if operation.body is not None:
            args.append(job.body)
        method: Callable[..., Any] = getattr(api, f"{operation.name}_with_http_info")
        try:
            response = method(*args, _send_key=job.send_key)
        except Exception as exc:
            return self._failure(job, bucket, exc)
        return _result(job, SENT, request_id=response.request_id, status=response.status_code)

    def _checked_first(self, job: Job, bucket: Bucket, api: BaseApi) -> Optional[JobResult]:
        """``already_*`` from the journal, else ``not_available``/``failed`` from the check."""
        held = _journal_entry(job, bucket)
        if held is not None and held.state in ("sent", "unknown", "in_flight"):
            return _duplicate(job, held.state, held)
        actions, error = self._actions_of(job, bucket, api)
        if error is not None:
            return _result(job, FAILED, error=_at_line(job, f"checking the actions: {error}"))
        if job.operation not in actions:
            offered = ", ".join(actions) or "none"
            error = f"the order does not offer {job.operation} now (it offers: {offered})"
            return _result(job, NOT_AVAILABLE, error=error)
        return None

    def _actions_of(
        self, job: Job, bucket: Bucket, api: BaseApi
    ) -> Tuple[List[str], Optional[str]]:
        key = (id(bucket.client), type(api), job.order_id, job.marketplace_id)
        with self._actions_lock:
            pending = self._actions.get(key)
            fetching = pending is None
            if pending is None:
                pending = self._actions[key] = _Pending()
        if fetching:
            try:
                pending.actions = api.order_actions(job.order_id, job.marketplace_id)
            except Exception as exc:
                pending.error = _describe(exc)
            finally:
                pending.done.set()
        else:
            pending.done.wait()
        return pending.actions, pending.error

    def _failure(self, job: Job, bucket: Bucket, exc: Exception) -> JobResult:
        if isinstance(exc, DuplicateSendError):
            return _duplicate(job, exc.state, exc.entry)
        outcome, status, request_id = _outcome_of_error(exc)
        if outcome == UNKNOWN and status is None and isinstance(exc, ApiConnectionError):
            outcome = self._settled(job, bucket)  # dropped: the journal may know better
        return _result(
            job, outcome, request_id=request_id, status=status, error=_at_line(job, _describe(exc))
        )

    def _settled(self, job: Job, bucket: Bucket) -> str:
        """After a dropped connection: what the journal recorded (released: ``failed``)."""
        try:
            held = _journal_entry(job, bucket)
        except Exception:
            return UNKNOWN
        return _outcome_of_entry(held)


def _outcome_of_entry(held: Any) -> str:
    """A job's outcome from its journal entry after the call raised (none: released)."""
    if held is None:
        return FAILED
    return {"sent": SENT, "rejected": REJECTED}.get(held.state, UNKNOWN)


def _outcome_of_error(exc: BaseException) -> Tuple[str, Optional[int], Optional[str]]:
    """What a send that raised ``exc`` means for its job: ``(outcome, status, request id)``.

    The one reading of an error shared by ``send_many``, the command line and the Celery
    task, so that each reports what the send journal recorded. A dropped connection whose
    request may have left is ``unknown`` (the journal may hold more: a caller may look).
    """
    if isinstance(exc, DuplicateSendError):
        entry = exc.entry
        outcome = _DUPLICATE_OUTCOMES.get(exc.state, IN_FLIGHT_ELSEWHERE)
        return outcome, getattr(entry, "status", None), getattr(entry, "request_id", None)
    if isinstance(exc, ApiResponseError):
        # A 2xx whose body could not be read: Amazon took the message (journaled sent).
        return SENT, exc.status, exc.request_id
    if isinstance(exc, ApiException):
        status = exc.status
        outcome = REJECTED if isinstance(status, int) and 400 <= status <= 499 else UNKNOWN
        return outcome, status, exc.request_id
    if isinstance(exc, ApiConnectionError):
        answered = exc.answered_status  # the status came, the body was cut off
        if isinstance(answered, int):
            return _by_status(answered), answered, exc.request_id
        return (FAILED if exc.request_sent is False else UNKNOWN), None, None
    if isinstance(exc, (ApiValueError, ApiTypeError)):
        return INVALID, None, None
    return FAILED, None, None


def _by_status(status: int) -> str:
    if 200 <= status <= 299:
        return SENT
    return REJECTED if 400 <= status <= 499 else UNKNOWN


def _client_for(
    clients: Dict[Optional[str], ApiClient], job: Job
) -> Tuple[Optional[ApiClient], Optional[str]]:
    if None in clients:
        return clients[None], None  # one client: Job.seller is only a label
    if job.seller is None:
        if len(clients) == 1:
            return next(iter(clients.values())), None
        return (
            None,
            f"no seller given, and there are {len(clients)}: {', '.join(map(str, clients))}",
        )
    chosen = clients.get(job.seller)
    if chosen is None:
        return None, f"unknown seller {job.seller!r} (known: {', '.join(map(str, clients))})"
    return chosen, None


def _journal_entry(job: Job, bucket: Bucket) -> Any:
    from py_sp_api.runtime.journal import SendKey

    config = bucket.client.configuration
    journal = config.journal
    assert journal is not None  # checked before the run
    key = SendKey.for_message(
        config, bucket.operation, job.marketplace_id, job.order_id, job.send_key
    )
    return journal.get(key)


def _duplicate(job: Job, state: str, entry: Any) -> JobResult:
    outcome = _DUPLICATE_OUTCOMES.get(state, IN_FLIGHT_ELSEWHERE)
    request_id = getattr(entry, "request_id", None)
    status = getattr(entry, "status", None)
    error = None if outcome == ALREADY_SENT else f"the send journal holds this message {state}"
    return _result(job, outcome, request_id=request_id, status=status, error=error)


def _result(
    job: Job,
    outcome: str,
    *,
    request_id: Optional[str] = None,
    status: Optional[int] = None,
    error: Optional[str] = None,
) -> JobResult:
    return JobResult(job, outcome, request_id, status, error, time.time())


def _describe(exc: BaseException) -> str:
    # Every error of this package is written without secrets; keep the report rows short.
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, (ApiException, ApiValueError, ApiTypeError)):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 3] + "..."


def _at_line(job: Job, error: str) -> str:
    return error if job.line is None else f"line {job.line}: {error}"


__all__: Tuple[str, ...] = (
    "ALREADY_SENT",
    "ALREADY_UNKNOWN",
    "FAILED",
    "INVALID",
    "IN_FLIGHT_ELSEWHERE",
    "NOT_AVAILABLE",
    "NOT_STARTED",
    "PENDING",
    "REJECTED",
    "SENT",
    "TOKEN_SPENDING_OUTCOMES",
    "UNDONE_OUTCOMES",
    "UNKNOWN",
    "UNSETTLED_OUTCOMES",
    "OUTCOMES",
    "REPORT_COLUMNS",
    "Bucket",
    "Job",
    "JobResult",
    "SendReport",
    "send_many",
)
