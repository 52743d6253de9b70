"""Sending messages from Celery workers: once per key, at the plan's pace, across a fleet.

Needs the ``[celery]`` extra (``pip install "py-sp-api[celery]"``: celery and redis). Celery
brings the queue, the workers and the hosts; the SDK brings what keeps buyers from being
messaged twice and Amazon from answering 429:

* :func:`message_task` declares a task that sends one message (operation, order id, marketplace
  id, body, send key, seller) through the client's send journal and rate limiter, both shared
  by every worker process (``SendJournal.redis`` and ``RedisBucketStore``). Each worker process
  builds its clients itself, lazily, after the fork, with the factory it is given.
* :func:`enqueue` queues a ``send_many`` job list as tasks; :meth:`Batch.report` gathers their
  results into a :class:`~py_sp_api.runtime.bulk.SendReport`.

What a task does with each outcome:

=====================================  ==========================================================
the journal holds the key ``sent``     returns ``already_sent``; nothing is sent
the key is ``unknown`` / ``in_flight``  returns ``already_unknown`` / ``in_flight_elsewhere``:
                                       never retried, whatever ``autoretry_for`` says
Amazon answered 429                    the journal records it ``rejected`` (nothing processed),
                                       and the task is retried with a countdown
the token is further off than          nothing is claimed nor sent; retried with a countdown of
``max_rate_wait``                      that wait, so no prefork slot sleeps on a bucket (as
                                       often as it takes: a token wait spends no retry)
no answer / 5xx                        returns ``unknown`` (journaled so); never resent
=====================================  ==========================================================

Tasks are declared ``acks_late`` and ``reject_on_worker_lost``: a task whose worker process died
is delivered again, and the journal makes the second run send nothing if the first had claimed
its key. Arguments and results are small JSON values: no client, model or secret ever goes
through the broker or the result backend. docs/messaging-at-scale.md shows a deployment.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from py_sp_api.runtime.api_client import ApiClient
from py_sp_api.runtime.bulk import (
    ALREADY_SENT,
    FAILED,
    INVALID,
    OUTCOMES,
    PENDING,
    REJECTED,
    SENT,
    UNKNOWN,
    Job,
    JobResult,
    SendReport,
    _checked_jobs,
    _describe,
    _outcome_of_entry,
    _outcome_of_error,
    _sending_operations,
)
from py_sp_api.runtime.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiResponseError,
    ApiTypeError,
    ApiValueError,
    DuplicateSendError,
    RateLimitWaitExceeded,
    SendJournalError,
)
from py_sp_api.runtime.forksafe import reinit_after_fork
from py_sp_api.runtime.journal import MemoryJournalBackend, SendKey
from py_sp_api.runtime.operation import Operation
from py_sp_api.runtime.ratelimit import LocalBucketStore, checked_seconds
from py_sp_api.runtime.retry import parse_retry_after

_log = logging.getLogger("py_sp_api.celery")

ClientFactory = Callable[[Optional[str]], ApiClient]
"""Builds the client of one seller (``None``: jobs without a seller) in a worker process."""

DEFAULT_TASK_NAME = "py_sp_api.send_message"
DEFAULT_MAX_RATE_WAIT = 2.0
"""Seconds a task may wait in its worker for a rate-limit token before it is retried instead."""
DEFAULT_MAX_RETRIES = 50
"""Celery retries of one task after refusals (429s, Redis or connection refusals); waits for a
rate-limit token are not counted: a bucket's backlog may take many turns to clear."""
_RETRY_BACKOFF = 1.0  # seconds before a retry when nothing says how long (doubles, capped)
_RETRY_BACKOFF_CAP = 60.0  # and the longest countdown of any retry (jitter aside)
_POLL = 0.2  # seconds between looks at the result backend while gathering
# The errors whose outcome send_many's reading gives (any other: the journal says).
_READ_BY_OUTCOME = (
    ApiException,
    ApiResponseError,
    ApiConnectionError,
    DuplicateSendError,
    ApiValueError,
    ApiTypeError,
)


def message_task(
    app: Any,
    clients: ClientFactory,
    *,
    name: str = DEFAULT_TASK_NAME,
    max_rate_wait: float = DEFAULT_MAX_RATE_WAIT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    **options: Any,
) -> Any:
    """Declare on ``app`` the task that sends one message; return it (a Celery task).

    Call it as ``task.delay(operation, order_id, marketplace_id, body=None, send_key=None,
    seller=None)``, or through :func:`enqueue`. ``operation`` is a method of ``MessagingApi``
    or of ``SolicitationsApi`` that sends (the solicitation takes no body). ``body`` is the
    request as a JSON object (for a model, ``json.loads(model.to_json())``). The result is a
    dict: ``outcome`` (one of the ``send_many`` outcomes), ``status``, ``request_id``, ``key``
    (the journal key), ``retries`` (after refusals) and ``error``.

    Args:
        app: the Celery application.
        clients: ``clients(seller)`` builds that seller's :class:`ApiClient`. It is called in
            each worker process, the first time the process sends for that seller (after the
            fork, never in the parent), and its client is kept for the process's life. The
            client must have a send journal shared by the workers (``SendJournal.redis`` for
            several hosts, ``SendJournal.sqlite`` for one) and, with rate limiting on, a
            shared bucket store (``RedisBucketStore``). The task sends through a copy of it
            whose rate limiter's ``max_wait`` is at most ``max_rate_wait`` and whose retry
            policy is one attempt: waits and 429s are handed to Celery (a countdown) instead
            of sleeping in a worker. The client returned is left as it was.
        name: the task's name.
        max_rate_wait: seconds a worker may wait for a token; beyond, the task is retried
            after the wait, without holding a worker process meanwhile.
        max_retries: Celery retries before a task gives up (``rejected`` after 429s,
            ``failed`` otherwise).
        options: other ``app.task`` options (``queue``, ``time_limit``, ...).
    """
    checked_seconds(max_rate_wait, "max_rate_wait", zero_allowed=True)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ApiValueError(f"max_retries must be an int >= 0, not {max_retries!r}")
    if not callable(clients):
        raise ApiTypeError("clients must be a callable: clients(seller) -> ApiClient")
    built = _WorkerClients(clients, float(max_rate_wait))
    options.setdefault("acks_late", True)
    options.setdefault("reject_on_worker_lost", True)

    @app.task(bind=True, name=name, max_retries=max_retries, **options)  # type: ignore[untyped-decorator]
    def send_message(
        task: Any,
        operation: str,
        order_id: str,
        marketplace_id: str,
        body: Any = None,
        send_key: Optional[str] = None,
        seller: Optional[str] = None,
    ) -> Dict[str, Any]:
        job = Job(operation, order_id, marketplace_id, body, send_key, seller)
        return _Attempt(task, built, job).run()

    return send_message


# -- the worker side ------------------------------------------------------------------------------


class _WorkerClients:
    """The clients of one worker process, built on first use; forgotten in a forked child."""

    def __init__(self, factory: ClientFactory, max_rate_wait: float) -> None:
        self._factory = factory
        self._max_rate_wait = max_rate_wait
        self._lock = threading.Lock()
        self._apis: Dict[Tuple[Optional[str], type], Any] = {}
        self._clients: Dict[Optional[str], ApiClient] = {}
        reinit_after_fork(self)

    def api(self, seller: Optional[str], api_class: type) -> Any:
        """The seller's ``api_class`` (``MessagingApi``, ``SolicitationsApi``) over its client;
        :class:`ApiValueError` for a client unfit for a fleet."""
        api = self._apis.get((seller, api_class))
        if api is None:
            with self._lock:
                api = self._apis.get((seller, api_class))
                if api is None:
                    client = self._clients.get(seller)
                    if client is None:
                        client = self._clients[seller] = self._prepared(seller)
                    api = self._apis[(seller, api_class)] = api_class(client)
        return api

    def _prepared(self, seller: Optional[str]) -> ApiClient:
        client = self._factory(seller)
        if not isinstance(client, ApiClient):
            raise ApiTypeError(f"clients({seller!r}) returned a {type(client).__name__}")
        config = client.configuration
        journal = config.journal
        if journal is None or isinstance(journal.backend, MemoryJournalBackend):
            raise ApiValueError(
                "a Celery worker's client needs a send journal its workers share: "
                "Configuration(journal=SendJournal.redis(url, namespace=...)); nothing was sent"
            )
        config.journal_identity  # noqa: B018  (ApiValueError now: no lasting seller name)
        limiting = config.rate_limiting
        if limiting.enabled and isinstance(limiting.store, LocalBucketStore):
            raise ApiValueError(
                "a Celery worker's client must pace on a shared bucket store "
                "(RateLimiting(store=RedisBucketStore.from_url(url))): with a local one each "
                "worker process would send at the full plan; nothing was sent"
            )
        # The task's own settings go on copies: the factory may hand out a client the
        # application also uses elsewhere, which must keep waiting and retrying as it did.
        wait = limiting.max_wait
        own = copy.copy(config)
        own.rate_limiting = replace(
            limiting,
            max_wait=self._max_rate_wait if wait is None else min(wait, self._max_rate_wait),
        )
        own.retry = replace(config.retry, max_attempts=1)  # Celery retries, with a countdown
        prepared = copy.copy(client)  # the same connections, headers and token provider
        prepared.configuration = own
        return prepared

    def _reinit_after_fork(self) -> None:
        # The parent's clients stay the parent's: each child builds its own, on first use.
        self._lock = threading.Lock()
        self._apis = {}
        self._clients = {}


_Outcome = Tuple[str, Optional[int], Optional[str], Optional[str]]  # outcome, status, id, error


@dataclass(frozen=True)
class _Retry:
    """Nothing was sent, and a later attempt may succeed: retry after ``countdown`` seconds."""

    countdown: float
    outcome: str  # what the job ends as if no retry is left
    error: str
    status: Optional[int] = None
    refused: bool = True  # False for a token wait: the plan at work, it spends no retry


class _Attempt:
    """One run of the task for one job."""

    def __init__(self, task: Any, clients: _WorkerClients, job: Job) -> None:
        self.task = task
        self.clients = clients
        self.job = job
        self.key: Optional[str] = None

    def run(self) -> Dict[str, Any]:
        done = self._send()
        if not isinstance(done, _Retry):
            return self._result(*done)
        retries = int(self.task.request.retries or 0)
        if done.refused and retries >= self.task.max_retries:
            return self._result(done.outcome, done.status, None, done.error)
        _log.info(
            "%s for order %s: nothing was sent (%s); retrying in %.2fs",
            self.job.operation,
            self.job.order_id,
            done.error,
            done.countdown,
        )
        if not done.refused:
            # A bucket's backlog may take many turns to clear: waiting for one's turn must not
            # use up the retries meant for refusals. Celery counts from the request's number.
            self.task.request.retries = retries - 1
        # Celery's Retry: the broker gets the task back with a countdown; this process is free.
        raise self.task.retry(countdown=done.countdown, max_retries=self.task.max_retries)

    def _send(self) -> Union[_Outcome, _Retry]:
        job = self.job
        try:
            api_class, operation = _sending_operation(job.operation)
            api = self.clients.api(job.seller, api_class)
            config = api.api_client.configuration
            key = SendKey.for_message(
                config, operation, job.marketplace_id, job.order_id, job.send_key
            )
            self.key = str(key)
        except (ApiValueError, ApiTypeError) as exc:
            return INVALID, None, None, _describe(exc)
        except Exception as exc:  # the factory failed (credentials, Redis...): nothing sent
            return FAILED, None, None, _describe(exc)
        args: List[Any] = [job.order_id, [job.marketplace_id]]
        if operation.body is not None:
            args.append(job.body)
        elif job.body is not None:
            return INVALID, None, None, f"{job.operation} takes no body; nothing was sent"
        method = getattr(api, f"{operation.name}_with_http_info")
        try:
            response = method(*args, _send_key=job.send_key)
        except Exception as exc:
            return self._failure(exc, operation, config)
        return SENT, response.status_code, response.request_id, None

    def _failure(
        self, exc: Exception, operation: Operation[Any], config: Any
    ) -> Union[_Outcome, _Retry]:
        error = _describe(exc)
        if isinstance(exc, RateLimitWaitExceeded):  # before the claim: nothing was sent
            return _Retry(_countdown(exc.wait), FAILED, error, None, refused=False)
        if isinstance(exc, SendJournalError):  # the claim was refused or given back
            return _Retry(self._backoff(), FAILED, error, None)
        if isinstance(exc, ApiException) and exc.status == 429:
            # Nothing processed; the journal recorded it rejected.
            return _Retry(self._throttled_wait(exc, operation, config), REJECTED, error, 429)
        if isinstance(exc, ApiConnectionError) and exc.request_sent is False:
            return _Retry(self._backoff(), FAILED, error, None)  # refused before any byte left
        if isinstance(exc, _READ_BY_OUTCOME):
            outcome, status, request_id = _outcome_of_error(exc)
            return outcome, status, request_id, None if outcome == ALREADY_SENT else error
        # Anything else raised during the call (a soft time limit, say): the client journaled
        # it unknown if a request was out, or released the claim if not.
        return self._journaled_state(), None, None, error

    def _throttled_wait(self, exc: ApiException, operation: Operation[Any], config: Any) -> float:
        retry_after = parse_retry_after(exc.headers)
        if retry_after is not None:
            return _countdown(retry_after)
        plan = config.rate_limiting.plan_for(operation)
        return _countdown(1.0 / plan.rate)

    def _backoff(self) -> float:
        retries = int(self.task.request.retries or 0)
        return _countdown(_RETRY_BACKOFF * 2.0**retries)

    def _journaled_state(self) -> str:
        try:
            api_class = _sending_operation(self.job.operation)[0]
            journal = self.clients.api(self.job.seller, api_class).api_client.configuration.journal
            held = journal.get(self.key) if self.key is not None else None
        except Exception:
            return UNKNOWN
        return _outcome_of_entry(held)

    def _result(
        self, outcome: str, status: Optional[int], request_id: Optional[str], error: Optional[str]
    ) -> Dict[str, Any]:
        return {
            "outcome": outcome,
            "status": status,
            "request_id": request_id,
            "key": self.key,
            "retries": int(self.task.request.retries or 0),
            "error": error,
        }


def _sending_operation(name: Any) -> Tuple[type, Operation[Any]]:
    """The API class and operation of a method that sends: a message or a solicitation."""
    sending = _sending_operations_of_both()
    found = sending.get(name) if isinstance(name, str) else None
    if found is None:
        known = ", ".join(sorted(sending))
        raise ApiValueError(
            f"{name!r} is not an operation that sends a message or a solicitation ({known})"
        )
    return found


@functools.lru_cache(maxsize=1)
def _sending_operations_of_both() -> Dict[str, Tuple[type, Operation[Any]]]:
    from py_sp_api.generated.messaging import MessagingApi
    from py_sp_api.generated.solicitations import SolicitationsApi

    return dict(_sending_operations([MessagingApi, SolicitationsApi]))


def _countdown(seconds: float) -> float:
    """A retry's countdown: at most about a minute, and jittered.

    Far off, a task would sit in a worker's memory as an ETA task past the Redis broker's
    visibility timeout, and be delivered again meanwhile. Tasks refused together must not all
    come back at the same instant.
    """
    if not 0 <= seconds <= _RETRY_BACKOFF_CAP:  # NaN too
        seconds = _RETRY_BACKOFF_CAP
    return seconds * (1.0 + random.random() / 4)  # noqa: S311 - jitter, not cryptography


# -- the enqueuing side ---------------------------------------------------------------------------


@dataclass
class Batch:
    """Jobs queued by :func:`enqueue`, and their Celery results (``AsyncResult``), in order."""

    jobs: List[Job]
    results: List[Any]
    started_at: float

    def report(self, timeout: float) -> SendReport:
        """Wait up to ``timeout`` seconds for every task; a task without a result is ``pending``.

        Needs the app's result backend; may be called again for the tasks still pending. A
        task that ended without an outcome (its worker died under a hard time limit, say)
        reads ``unknown``: its message may have gone (the journal says).
        """
        checked_seconds(timeout, "timeout", zero_allowed=True)
        found = _collected(self.results, timeout)
        report = SendReport(started_at=self.started_at)
        for job, result in zip(self.jobs, self.results):
            report.results.append(_gathered(job, found.get(result.id)))
        report.finished_at = time.time()
        return report


def enqueue(task: Any, jobs: Iterable[Job], **apply_options: Any) -> Batch:
    """Queue one task per job (the ``send_many`` job list); gather with :meth:`Batch.report`.

    Jobs are checked first (a :class:`ApiTypeError`/:class:`ApiValueError` and nothing is
    queued for any of them: not a :class:`Job`, a body that is not JSON, one order named with
    two marketplaces). They are queued
    interleaved across usage-plan buckets (seller and operation), each bucket's in its order,
    so that a long run of one bucket does not hold the workers while the others wait.
    ``apply_options`` go to ``apply_async`` (``queue``, ``priority``, ...).
    """
    job_list = _checked_jobs(jobs)
    messages = [_message(index, job) for index, job in enumerate(job_list)]
    _check_one_marketplace_per_order(job_list)
    started_at = time.time()
    results: List[Any] = [None] * len(job_list)
    for index in _interleaved(job_list):
        args, kwargs = messages[index]
        results[index] = task.apply_async(args=args, kwargs=kwargs, **apply_options)
    return Batch(job_list, results, started_at)


def _message(index: int, job: Job) -> Tuple[List[Any], Dict[str, Any]]:
    for name in ("operation", "order_id", "marketplace_id"):
        if not isinstance(getattr(job, name), str):
            raise ApiTypeError(f"jobs[{index}].{name} must be a str")
    try:
        operation = _sending_operation(job.operation)[1]
    except ApiValueError as exc:
        raise ApiValueError(f"jobs[{index}]: {exc}; nothing was queued") from None
    if operation.body is None and job.body is not None:
        raise ApiValueError(f"jobs[{index}]: {job.operation} takes no body; nothing was queued")
    for name in ("send_key", "seller"):
        if getattr(job, name) is not None and not isinstance(getattr(job, name), str):
            raise ApiTypeError(f"jobs[{index}].{name} must be a str or None")
    body = job.body
    if hasattr(body, "to_json"):
        body = json.loads(body.to_json())
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ApiTypeError(f"jobs[{index}].body is not JSON (a model or a dict): {exc}") from None
    args = [job.operation, job.order_id, job.marketplace_id]
    return args, {"body": body, "send_key": job.send_key, "seller": job.seller}


def _check_one_marketplace_per_order(jobs: Sequence[Job]) -> None:
    # Each marketplace id is another journal key: one order in two would be messaged twice.
    first: Dict[Tuple[Optional[str], str, str, Optional[str]], int] = {}
    for index, job in enumerate(jobs):
        earlier = first.setdefault((job.seller, job.operation, job.order_id, job.send_key), index)
        if jobs[earlier].marketplace_id != job.marketplace_id:
            raise ApiValueError(
                f"jobs[{index}]: order {job.order_id} is also in jobs[{earlier}], with "
                f"marketplace {jobs[earlier].marketplace_id}: an order has one marketplace; "
                "nothing was queued"
            )


def _interleaved(jobs: Sequence[Job]) -> List[int]:
    """Job indices, one bucket's next job after another's, round robin."""
    buckets: OrderedDict[Tuple[Optional[str], str], List[int]] = OrderedDict()
    for index, job in enumerate(jobs):
        buckets.setdefault((job.seller, job.operation), []).append(index)
    queues = [list(reversed(indices)) for indices in buckets.values()]
    order: List[int] = []
    while queues:
        for queue in queues:
            order.append(queue.pop())
        queues = [queue for queue in queues if queue]
    return order


def _collected(results: Sequence[Any], timeout: float) -> Dict[str, Tuple[str, Any]]:
    """``{task id: (state, value)}`` of the tasks that finished within ``timeout`` seconds."""
    found: Dict[str, Tuple[str, Any]] = {}
    if not results:
        return found
    backend = results[0].backend
    deadline = time.monotonic() + timeout
    if hasattr(backend, "get_many"):
        # Polls the stored results in bulk (MGET on Redis), whatever the backend's push
        # channel delivered or missed meanwhile. The deadline is ours, on the clock: celery
        # before 5.7 never times out a get_many(timeout=0), and counts the others in polls.
        def _stop_at_deadline() -> None:
            if time.monotonic() >= deadline:
                raise TimeoutError("the report's timeout passed")

        try:
            ids = {result.id for result in results}
            polled = backend.get_many(ids, interval=_POLL, on_interval=_stop_at_deadline)
            for task_id, meta in polled:
                found[str(task_id)] = (meta["status"], meta["result"])
        except Exception as exc:  # the deadline, or the backend failing
            _log.debug("gathering results stopped: %s", type(exc).__name__)
        return found
    for result in results:
        try:
            value = result.get(timeout=max(deadline - time.monotonic(), 0.001), propagate=False)
        except Exception as exc:  # not finished in time: pending
            _log.debug("no result for %s: %s", result.id, type(exc).__name__)
        else:
            found[result.id] = (result.state, value)
    return found


def _gathered(job: Job, finished: Optional[Tuple[str, Any]]) -> JobResult:
    if finished is None:
        error = "no result yet: the task may still run; gather again"
        return JobResult(job, PENDING, error=error, finished_at=time.time())
    state, value = finished
    if state != "SUCCESS" or not isinstance(value, dict) or value.get("outcome") not in OUTCOMES:
        error = (
            f"the task ended {state} without an outcome ({type(value).__name__}: {value}); its "
            "worker may have died while sending: the send journal holds what is known"
        )
        return JobResult(job, UNKNOWN, error=error[:1000], finished_at=time.time())
    return JobResult(
        job,
        value["outcome"],
        request_id=value.get("request_id"),
        status=value.get("status"),
        error=value.get("error"),
        finished_at=time.time(),
    )


__all__: Tuple[str, ...] = (
    "DEFAULT_MAX_RATE_WAIT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TASK_NAME",
    "Batch",
    "ClientFactory",
    "enqueue",
    "message_task",
)
