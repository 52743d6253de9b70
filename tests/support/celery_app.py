"""The Celery app of the Celery tests, run by a real ``celery -A tests.support.celery_app worker``.

The worker reads where things are from the environment (``SPAPI_TEST_*``, set by
:class:`tests.support.celery_worker.CeleryWorker`); the test process builds the same app with
:func:`make_app` to queue tasks and read results. One Redis is broker, result backend, journal
and rate-limit store, as docs/messaging-at-scale.md describes.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple, Optional

from celery import Celery

from py_sp_api import RateLimiting, SendJournal
from py_sp_api.generated.messaging import ApiClient, Configuration
from py_sp_api.integrations.celery import message_task
from py_sp_api.runtime.redis_store import RedisBucketStore


class FleetApp(NamedTuple):
    app: Any
    send: Any  # the message task
    send_autoretry: Any  # the same, declared with autoretry_for=(Exception,)
    send_impatient: Any  # the same, waiting at most 0.5 s in the worker for a token
    send_impatient_once: Any  # waiting at most 0.5 s, and retried at most once after a refusal
    send_soft_limited: Any  # a 1 s soft time limit, and autoretry_for=(Exception,)
    send_hard_limited: Any  # a 1 s hard time limit: the process is killed, the task failed


def make_app(redis_url: str, host: str = "", namespace: str = "", lease: float = 60.0) -> FleetApp:
    app = Celery("py_sp_api_tests", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # A result object collected after its test stopped Redis gives up at once (it would
        # otherwise retry its unsubscribe for a while, holding up the end of the session).
        result_backend_transport_options={"retry_policy": {"max_retries": 0}},
    )

    def client_for(seller: Optional[str]) -> ApiClient:
        # Runs in a worker process, after the fork, once per seller.
        configuration = Configuration(
            host=host,
            access_token=f"Atza|token-of-{seller}",
            seller_id=seller,
            journal=SendJournal.redis(redis_url, namespace=namespace, lease=lease),
            rate_limiting=RateLimiting(
                store=RedisBucketStore.from_url(redis_url, namespace=namespace, workers=2)
            ),
        )
        return ApiClient(configuration)

    send = message_task(app, client_for)
    send_autoretry = message_task(
        app, client_for, name="tests.send_autoretry", autoretry_for=(Exception,), retry_backoff=1
    )
    send_impatient = message_task(app, client_for, name="tests.send_impatient", max_rate_wait=0.5)
    send_impatient_once = message_task(
        app, client_for, name="tests.send_impatient_once", max_rate_wait=0.5, max_retries=1
    )
    send_soft_limited = message_task(
        app,
        client_for,
        name="tests.send_soft_limited",
        soft_time_limit=1,
        autoretry_for=(Exception,),
        retry_backoff=1,
    )
    send_hard_limited = message_task(app, client_for, name="tests.send_hard_limited", time_limit=1)
    return FleetApp(
        app,
        send,
        send_autoretry,
        send_impatient,
        send_impatient_once,
        send_soft_limited,
        send_hard_limited,
    )


def _from_environment() -> Optional[FleetApp]:
    url = os.environ.get("SPAPI_TEST_REDIS_URL")
    if url is None:
        return None
    return make_app(
        url,
        host=os.environ["SPAPI_TEST_HOST"],
        namespace=os.environ["SPAPI_TEST_NAMESPACE"],
        lease=float(os.environ["SPAPI_TEST_LEASE"]),
    )


_worker_app = _from_environment()
app = _worker_app.app if _worker_app is not None else None
