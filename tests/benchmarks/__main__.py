"""Benchmarks: ``python -m tests.benchmarks`` from the repository root.

Measures, against a local nginx serving canned Messaging answers, in one run:

* client-process CPU per call (``time.process_time``) after warm-up, for GET ``get_attributes``
  and POST ``create_confirm_order_details`` with a body, for raw urllib3 and for py-sp-api
  (validation on; then auth with a cached LWA token and rate limiting with a bucket that never
  blocks), interleaved round by round so machine noise hits every variant alike; and, reported
  without a budget, the same with OpenTelemetry on (the SDK recording spans and metrics, no
  exporter), when ``opentelemetry-sdk`` is installed;
* cold import of ``py_sp_api.generated.messaging`` (and of ``MessagingApi`` from it) minus bare
  interpreter start, against importing the runtime dependencies;
* peak RSS of a process that made 100 calls, against the same with raw urllib3;
* per-call cost over 10,000 calls: the last thousand against the first thousand.

It prints a table and each ratio against its budget, and exits 1 if a budget is missed.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Tuple

import urllib3

from tests.benchmarks.nginx import Nginx, nginx_version

if TYPE_CHECKING:
    from py_sp_api.runtime.events import Telemetry

REPO = Path(__file__).resolve().parents[2]
ORDER = "123-1234567-1234567"
MARKETPLACE = "ATVPDKIKX0DER"
TEXT = "Could you confirm the engraving reads 'For Ada, 1815'?"
HEADERS = {"Accept": "application/hal+json", "User-Agent": "raw-urllib3"}

Call = Callable[[], object]


def raw_calls(base: str) -> Tuple[Call, Call]:
    pool = urllib3.PoolManager(maxsize=10, retries=False)
    get_url = f"{base}/messaging/v1/orders/{ORDER}/attributes?marketplaceIds={MARKETPLACE}"
    post_url = (
        f"{base}/messaging/v1/orders/{ORDER}/messages/confirmOrderDetails"
        f"?marketplaceIds={MARKETPLACE}"
    )
    post_headers = {**HEADERS, "Content-Type": "application/json"}

    def get() -> object:
        return json.loads(pool.request("GET", get_url, headers=HEADERS).data)

    def post() -> object:
        body = json.dumps({"text": TEXT}).encode()
        return json.loads(pool.request("POST", post_url, body=body, headers=post_headers).data)

    return get, post


def client_calls(base: str, production: bool, telemetry: bool = False) -> Tuple[Call, Call]:
    from py_sp_api import LwaCredentials, RateLimit, RateLimiting
    from py_sp_api.generated.messaging import (
        ApiClient,
        Configuration,
        CreateConfirmOrderDetailsRequest,
        MessagingApi,
    )

    if production:
        never_blocks = RateLimit(rate=1e9, burst=10**9)
        config = Configuration(
            host=base,
            credentials=LwaCredentials(
                "client-id", "secret", "Atzr|x", endpoint=f"{base}/auth/o2/token"
            ),
            rate_limiting=RateLimiting(default=never_blocks, headroom=0),
        )
    else:
        config = Configuration(host=base, rate_limiting=False)
    if telemetry:
        config.telemetry = _recording_telemetry()
    api = MessagingApi(ApiClient(config))
    marketplaces = [MARKETPLACE]

    def get() -> object:
        return api.get_attributes(ORDER, marketplaces)

    def post() -> object:
        body = CreateConfirmOrderDetailsRequest(text=TEXT)
        return api.create_confirm_order_details(ORDER, marketplaces, body)

    return get, post


def _recording_telemetry() -> Telemetry:
    """OpenTelemetry with the SDK recording every span and metric, and exporting nothing."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    from py_sp_api.runtime.otel import OpenTelemetry

    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return OpenTelemetry(tracer_provider=TracerProvider(), meter_provider=meters)


def _otel_sdk_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("opentelemetry.sdk") is not None


def cpu_per_call(
    cases: Dict[str, Call], baselines: Dict[str, str], calls: int, rounds: int
) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Median CPU per call of each case, and median paired ratio to its baseline.

    Rounds are short and interleaved, and each case's ratio is taken round by round against
    its baseline measured moments before, so drifts in machine load cancel out.
    """
    for call in cases.values():  # warm-up: connections, caches, lazy schema builds
        for _ in range(200):
            call()
    samples: Dict[str, List[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            call = cases[name]
            started = time.process_time()
            for _ in range(calls):
                call()
            samples[name].append((time.process_time() - started) / calls)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {
        name: statistics.median(
            ours / raw for ours, raw in zip(samples[name], samples[baselines[name]])
        )
        for name in baselines
    }
    return medians, ratios


def growth(
    ours: Call, raw: Call, total: int = 10_000, window: int = 1_000, size: int = 50
) -> Tuple[float, float, int]:
    """Our CPU per call relative to raw urllib3 over the first and the last ``window`` calls.

    The two clients alternate in slices of ``size`` calls. A least-squares line through all
    the slice ratios gives its value at the first and the last window, so that one noisy
    slice cannot read as growth (or hide it). Also returns how many objects the garbage
    collector tracks after ``total`` calls, minus before: a leak shows up there too.
    """
    objects_before = len(gc.get_objects())
    points: List[Tuple[float, float]] = []
    for index in range(total // size):
        started = time.process_time()
        for _ in range(size):
            ours()
        mine = time.process_time() - started
        started = time.process_time()
        for _ in range(size):
            raw()
        points.append((index * size + size / 2, mine / max(time.process_time() - started, 1e-9)))
    gc.collect()
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)

    def at(x: float) -> float:
        return mean_y + slope * (x - mean_x)

    return at(window / 2), at(total - window / 2), len(gc.get_objects()) - objects_before


def _run_python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    return time.perf_counter() - started


def import_times(repeats: int) -> Dict[str, float]:
    variants = {
        "interpreter": "pass",
        "deps": "import urllib3, dateutil.parser\nfrom pydantic import BaseModel",
        "package": "import py_sp_api.generated.messaging",
        "MessagingApi": (
            "from py_sp_api.generated.messaging import MessagingApi, ApiClient, Configuration"
        ),
    }
    samples: Dict[str, List[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, code in variants.items():
            samples[name].append(_run_python(code))
    return {name: statistics.median(values) for name, values in samples.items()}


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
_RSS_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from tests.benchmarks.__main__ import client_calls, raw_calls
get, post = ({factory})({base!r}{extra})
for _ in range(50):
    get(); post()
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""


def peak_rss_kib(base: str, ours: bool) -> int:
    factory = "client_calls" if ours else "raw_calls"
    extra = ", False" if ours else ""
    code = _RSS_SCRIPT.format(repo=str(REPO), factory=factory, base=base, extra=extra)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    )
    return int(out.stdout.split()[-1])


_INSTRUCTIONS_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from tests.benchmarks.__main__ import client_calls, raw_calls
get, post = raw_calls({base!r}) if {kind!r} == "raw" else client_calls({base!r}, {kind!r} == "prod")
for _ in range({count}):
    get()
"""


def instructions_per_call(base: str) -> Dict[str, float]:
    """GET instructions per call under callgrind: exact, whatever else the machine does."""
    counts: Dict[str, float] = {}
    for kind in ("raw", "ours", "prod"):
        totals = []
        for count in (100, 600):
            code = _INSTRUCTIONS_SCRIPT.format(repo=str(REPO), base=base, kind=kind, count=count)
            out = subprocess.run(
                ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                 sys.executable, "-c", code],
                capture_output=True, text=True, check=True, cwd=REPO,
            )  # fmt: skip
            totals.append(int(re.search(r"Collected : (\d+)", out.stderr).group(1)))  # type: ignore[union-attr]  # always printed
        counts[kind] = (totals[1] - totals[0]) / 500
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    parser.add_argument("--calls", type=int, default=100, help="calls per round and variant")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--import-repeats", type=int, default=15)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions with callgrind"
    )
    options = parser.parse_args()

    with Nginx() as server:
        raw_get, raw_post = raw_calls(server.url)
        ours_get, ours_post = client_calls(server.url, production=False)
        prod_get, prod_post = client_calls(server.url, production=True)
        cases = {
            "raw urllib3 GET": raw_get,
            "py-sp-api GET": ours_get,
            "py-sp-api GET, auth + rate limit": prod_get,
            "raw urllib3 POST": raw_post,
            "py-sp-api POST": ours_post,
            "py-sp-api POST, auth + rate limit": prod_post,
        }
        baselines = {
            "py-sp-api GET": "raw urllib3 GET",
            "py-sp-api GET, auth + rate limit": "raw urllib3 GET",
            "py-sp-api POST": "raw urllib3 POST",
            "py-sp-api POST, auth + rate limit": "raw urllib3 POST",
        }
        with_otel = _otel_sdk_installed()
        if with_otel:
            otel_get, otel_post = client_calls(server.url, production=False, telemetry=True)
            cases.update({"py-sp-api GET, OpenTelemetry": otel_get})
            cases.update({"py-sp-api POST, OpenTelemetry": otel_post})
            baselines["py-sp-api GET, OpenTelemetry"] = "raw urllib3 GET"
            baselines["py-sp-api POST, OpenTelemetry"] = "raw urllib3 POST"
        cpu, paired = cpu_per_call(cases, baselines, options.calls, options.rounds)
        first, last, new_objects = growth(ours_get, raw_get)
        rss_raw = peak_rss_kib(server.url, ours=False)
        rss_ours = peak_rss_kib(server.url, ours=True)
        instructions = instructions_per_call(server.url) if options.instructions else {}
    imports = import_times(options.import_repeats)

    base = imports["interpreter"]
    deps = imports["deps"] - base
    # (measure, shown value, ratio, budget)
    rows: List[Tuple[str, str, float, float]] = []
    for kind in ("GET", "POST"):
        for variant, budget in (("", 1.10), (", auth + rate limit", 1.15)):
            name = f"py-sp-api {kind}{variant}"
            label = f"{kind} CPU/call, {variant[2:] or 'validation on'}"
            rows.append((label, f"{cpu[name] * 1e6:.1f} us", paired[name], budget))
    for name, label in (
        ("package", "import py_sp_api.generated.messaging"),
        ("MessagingApi", "from ... import MessagingApi, ApiClient, Configuration"),
    ):
        value = imports[name] - base
        rows.append((label, f"{value * 1e3:.1f} ms", value / deps, 1.30))
    rows.append(
        ("peak RSS after 100 calls", f"{rss_ours / 1024:.1f} MiB", rss_ours / rss_raw, 1.50)
    )
    rows.append(("GET CPU/call vs raw, calls 9001-10000", f"{last:.2f}x raw", last / first, 1.10))

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    urllib3_version = importlib.metadata.version("urllib3")
    print(f"Python {platform.python_version()}, urllib3 {urllib3_version}, {nginx_version()}")
    print("\nreference")
    for name in ("raw urllib3 GET", "raw urllib3 POST"):
        print(f"  {name:46} {cpu[name] * 1e6:10.1f} us CPU/call")
    print(f"  {'import urllib3 + pydantic + dateutil':46} {deps * 1e3:10.1f} ms")
    print(f"  {'peak RSS, raw urllib3, 100 calls':46} {rss_raw / 1024:10.1f} MiB")
    print(f"  {'GET CPU/call vs raw, calls 1-1000':46} {first:10.2f}x")
    print(f"  {'objects tracked after 10,000 calls, minus before':46} {new_objects:10d}")
    print(f"\n{'measure':52} {'py-sp-api':>11} {'ratio':>7} {'budget':>7}")
    missed = 0
    for label, shown, measured, budget in rows:
        ok = measured <= budget
        missed += not ok
        print(f"{label:52} {shown:>11} {measured:6.2f}x {budget:6.2f}x  {'ok' if ok else 'MISSED'}")
    if with_otel:
        print("\nwith OpenTelemetry on (SDK recording spans and metrics; reported, no budget)")
        for kind in ("GET", "POST"):
            name = f"py-sp-api {kind}, OpenTelemetry"
            label = f"{kind} CPU/call, OpenTelemetry"
            extra = cpu[name] - cpu[f"py-sp-api {kind}"]
            print(
                f"{label:52} {cpu[name] * 1e6:8.1f} us {paired[name]:6.2f}x"
                f"  (+{extra * 1e6:.1f} us over no telemetry)"
            )
    if instructions:
        raw_count = instructions["raw"]
        print("\ninstructions per GET call (callgrind, deterministic):")
        for kind, label in (
            ("raw", "raw urllib3"),
            ("ours", "py-sp-api"),
            ("prod", "py-sp-api, auth + rate limit"),
        ):
            print(
                f"  {label:46} {instructions[kind]:12,.0f}  {instructions[kind] / raw_count:5.3f}x"
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
