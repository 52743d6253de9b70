"""py-sp-api: a typed, rate-aware client for Amazon's Selling Partner API.

Importing this package configures nothing: no logging handlers, no network, no global state,
and no submodule is loaded until one of the names below is first used. The Messaging client
lives in :mod:`py_sp_api.generated.messaging`, the Solicitations client in
:mod:`py_sp_api.generated.solicitations`.
"""

from typing import TYPE_CHECKING, Dict

from py_sp_api._version import __version__
from py_sp_api.runtime.lazy import lazy_attributes

if TYPE_CHECKING:
    from py_sp_api.runtime.auth import (
        CallableTokenProvider as CallableTokenProvider,
        LwaCredentials as LwaCredentials,
        LwaTokenProvider as LwaTokenProvider,
        StaticTokenProvider as StaticTokenProvider,
        TokenProvider as TokenProvider,
    )
    from py_sp_api.runtime.bulk import (
        Job as Job,
        SendReport as SendReport,
        send_many as send_many,
    )
    from py_sp_api.runtime.events import Hooks as Hooks
    from py_sp_api.runtime.exceptions import (
        DuplicateSendError as DuplicateSendError,
        LwaAuthError as LwaAuthError,
        RateLimitStoreError as RateLimitStoreError,
        RateLimitWaitExceeded as RateLimitWaitExceeded,
        SendJournalError as SendJournalError,
    )
    from py_sp_api.runtime.journal import (
        JournalEntry as JournalEntry,
        SendJournal as SendJournal,
        SendKey as SendKey,
    )
    from py_sp_api.runtime.operation import RateLimit as RateLimit
    from py_sp_api.runtime.ratelimit import (
        BucketStore as BucketStore,
        LocalBucketStore as LocalBucketStore,
        RateLimiting as RateLimiting,
    )
    from py_sp_api.runtime.redis_store import RedisBucketStore as RedisBucketStore
    from py_sp_api.runtime.regions import (
        EU as EU,
        FE as FE,
        MARKETPLACES as MARKETPLACES,
        NA as NA,
        REGIONS as REGIONS,
        Marketplace as Marketplace,
        Region as Region,
    )
    from py_sp_api.runtime.retry import NO_RETRIES as NO_RETRIES, RetryPolicy as RetryPolicy

_EXPORTS: Dict[str, str] = {
    "BucketStore": "py_sp_api.runtime.ratelimit",
    "CallableTokenProvider": "py_sp_api.runtime.auth",
    "DuplicateSendError": "py_sp_api.runtime.exceptions",
    "EU": "py_sp_api.runtime.regions",
    "FE": "py_sp_api.runtime.regions",
    "Hooks": "py_sp_api.runtime.events",
    "Job": "py_sp_api.runtime.bulk",
    "JournalEntry": "py_sp_api.runtime.journal",
    "LocalBucketStore": "py_sp_api.runtime.ratelimit",
    "LwaAuthError": "py_sp_api.runtime.exceptions",
    "LwaCredentials": "py_sp_api.runtime.auth",
    "LwaTokenProvider": "py_sp_api.runtime.auth",
    "MARKETPLACES": "py_sp_api.runtime.regions",
    "Marketplace": "py_sp_api.runtime.regions",
    "NA": "py_sp_api.runtime.regions",
    "NO_RETRIES": "py_sp_api.runtime.retry",
    "REGIONS": "py_sp_api.runtime.regions",
    "RateLimit": "py_sp_api.runtime.operation",
    "RateLimitStoreError": "py_sp_api.runtime.exceptions",
    "RateLimitWaitExceeded": "py_sp_api.runtime.exceptions",
    "RateLimiting": "py_sp_api.runtime.ratelimit",
    "RedisBucketStore": "py_sp_api.runtime.redis_store",
    "Region": "py_sp_api.runtime.regions",
    "RetryPolicy": "py_sp_api.runtime.retry",
    "SendJournal": "py_sp_api.runtime.journal",
    "SendJournalError": "py_sp_api.runtime.exceptions",
    "SendKey": "py_sp_api.runtime.journal",
    "SendReport": "py_sp_api.runtime.bulk",
    "StaticTokenProvider": "py_sp_api.runtime.auth",
    "TokenProvider": "py_sp_api.runtime.auth",
    "send_many": "py_sp_api.runtime.bulk",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if not TYPE_CHECKING:
    # Hidden from type checkers: they would accept any name as Any through it.
    __getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
