"""A guided tour: every Messaging and Solicitations operation, called for real.

``python -m py_sp_api.tour`` starts the local sandbox, builds a client and calls all 15
operations (13 of Messaging, 2 of Solicitations), printing for each the HTTP status, the usage
plan and the typed result.

``python -m py_sp_api.tour --live --order-id 113-... --marketplace-id ATVPDKIKX0DER`` instead
runs the three read-only operations against Amazon for a real order, with LWA credentials from
``LWA_CLIENT_ID``, ``LWA_CLIENT_SECRET`` and ``LWA_REFRESH_TOKEN``. Nothing is sent to a buyer.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import warnings
from typing import Any, List, Optional, Sequence, TextIO, Tuple, Type

from py_sp_api.generated.messaging import (
    ApiClient,
    Attachment,
    Configuration,
    CreateAmazonMotorsRequest,
    CreateConfirmCustomizationDetailsRequest,
    CreateConfirmDeliveryDetailsRequest,
    CreateConfirmOrderDetailsRequest,
    CreateConfirmServiceDetailsRequest,
    CreateDigitalAccessKeyRequest,
    CreateLegalDisclosureRequest,
    CreateUnexpectedProblemRequest,
    CreateWarrantyRequest,
    InvoiceRequest,
    MessagingApi,
)
from py_sp_api.generated.solicitations import SolicitationsApi
from py_sp_api.runtime.api_response import ApiResponse
from py_sp_api.runtime.base_api import BaseApi
from py_sp_api.runtime.exceptions import OpenApiException
from py_sp_api.runtime.model import SpApiModel
from py_sp_api.runtime.ratelimit import parse_rate_header

SANDBOX_ORDER = "123-1234567-1234567"
MARKETPLACE = "ATVPDKIKX0DER"
UPLOAD_ID = "4e936e26-7b72-4b84-af27-e6baee1d546d"
NO_BODY = None
APIS: Tuple[Type[BaseApi], ...] = (MessagingApi, SolicitationsApi)


def _attachments(file_name: str, count: int = 1) -> List[Attachment]:
    return [Attachment(upload_destination_id=UPLOAD_ID, file_name=file_name)] * count


def sandbox_calls() -> List[Tuple[str, Optional[SpApiModel]]]:
    """Every operation, with a body a seller would plausibly send (None: no body)."""
    text = "My Message"
    warranty_file = Attachment(
        upload_destination_id="8634452c-4d4f-4703-8cea-2ecc9dcb3279", file_name="warranty.txt"
    )
    return [
        ("get_messaging_actions_for_order", NO_BODY),
        ("get_attributes", NO_BODY),
        (
            "confirm_customization_details",
            CreateConfirmCustomizationDetailsRequest(
                text=text, attachments=_attachments("AmazonMotors.txt", 2)
            ),
        ),
        ("create_confirm_delivery_details", CreateConfirmDeliveryDetailsRequest(text=text)),
        ("create_confirm_order_details", CreateConfirmOrderDetailsRequest(text=text)),
        ("create_confirm_service_details", CreateConfirmServiceDetailsRequest(text=text)),
        (
            "create_amazon_motors",
            CreateAmazonMotorsRequest(attachments=_attachments("AmazonMotors.txt")),
        ),
        (
            "create_warranty",
            CreateWarrantyRequest.from_dict(
                {
                    "attachments": [warranty_file.to_dict()],
                    "coverageStartDate": "2004-12-13T21:39:45.618-08:00",
                    "coverageEndDate": "2005-12-13T21:39:45.618-08:00",
                }
            ),
        ),
        (
            "create_digital_access_key",
            CreateDigitalAccessKeyRequest(
                text=text, attachments=_attachments("AmazonMotors.txt", 2)
            ),
        ),
        (
            "create_legal_disclosure",
            CreateLegalDisclosureRequest(attachments=_attachments("AmazonMotors.txt", 2)),
        ),
        ("create_negative_feedback_removal", NO_BODY),
        ("create_unexpected_problem", CreateUnexpectedProblemRequest(text=text)),
        ("send_invoice", InvoiceRequest(attachments=_attachments("invoice.pdf"))),
        ("get_solicitation_actions_for_order", NO_BODY),
        ("create_product_review_and_seller_feedback_solicitation", NO_BODY),
    ]


READ_ONLY = (
    "get_messaging_actions_for_order",
    "get_attributes",
    "get_solicitation_actions_for_order",
)


def live_calls() -> List[Tuple[str, Optional[SpApiModel]]]:
    """The read-only operations: safe against a real order; nothing reaches a buyer."""
    return [call for call in sandbox_calls() if call[0] in READ_ONLY]


LINE_WIDTH = 99
INDENT = " " * 8


def _short(value: object, limit: int = LINE_WIDTH - len(INDENT) - 3) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def api_of(name: str) -> Type[BaseApi]:
    """The API class with a method ``name``."""
    for api in APIS:
        if name in api.operations:
            return api
    raise ValueError(f"no API has an operation {name!r}")


def _plan(name: str) -> str:
    plan = api_of(name).rate_limit(name)
    documented = "" if plan.documented else " (API default; undocumented)"
    return f"{plan.rate:g} req/s, burst {plan.burst}{documented}"


def _removed(name: str) -> Optional[str]:
    removal = api_of(name).operations[name].removed
    if removal is None:
        return None
    return f"removed from Amazon's model on {removal.removed_on}: Amazon may refuse it"


def run(
    config: Configuration,
    order_id: str,
    marketplace_id: str,
    calls: Sequence[Tuple[str, Optional[SpApiModel]]],
    out: TextIO = sys.stdout,
) -> int:
    """Call each operation, print a few lines per call, and return how many failed."""
    failures = 0
    started = time.monotonic()

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    with ApiClient(config) as client, warnings.catch_warnings():
        # The tour marks removed operations in its own lines; no warning text in between.
        warnings.simplefilter("ignore", DeprecationWarning)
        apis = {api: api(client) for api in APIS}
        for i, (name, body) in enumerate(calls, 1):
            api = apis[api_of(name)]
            prefix = f"[{i:2}/{len(calls)}] {name:33}"
            send = getattr(api, f"{name}_with_http_info")
            args = (order_id, [marketplace_id]) + (() if body is None else (body,))
            try:
                response: ApiResponse[Any] = send(*args)
            except OpenApiException as exc:
                failures += 1
                say(f"{prefix} FAILED: {type(exc).__name__}")
                for line in str(exc).splitlines():
                    say(INDENT + _short(line).strip("'\""))
                continue
            say(f"{prefix} HTTP {response.status_code}  {_plan(name)}")
            stated = parse_rate_header(response.rate_limit or "")
            if stated is not None and stated != api.rate_limit(name).rate:
                say(f"{INDENT}Amazon states {stated:g} req/s for your account")
            removed = _removed(name)
            if removed:
                say(f"{INDENT}{removed}")
            say(f"{INDENT}-> {_short(response.data)}")
            if api.operations[name] is api.actions_operation():
                allowed = ", ".join(api.available_actions(response.data)) or "none"
                for line in textwrap.wrap(
                    f"allowed: {allowed}",
                    LINE_WIDTH,
                    initial_indent=INDENT,
                    subsequent_indent=INDENT + "  ",
                ):
                    say(line)
    elapsed = time.monotonic() - started
    ok = len(calls) - failures
    say(f"{ok}/{len(calls)} operations succeeded against {config.host} in {elapsed:.2f}s")
    return failures


NEXT_STEP = (
    "Next: docs/first-live-call.md sets up credentials; then\n"
    "  python -m py_sp_api.tour --live --order-id <your order> --marketplace-id <its marketplace>"
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m py_sp_api.tour",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--live", action="store_true", help="call Amazon, read-only, with LWA_* credentials"
    )
    parser.add_argument("--order-id", help="a real order id (with --live)")
    parser.add_argument("--marketplace-id", default=MARKETPLACE, help="default: %(default)s")
    parser.add_argument(
        "--sandbox-host", action="store_true", help="with --live: Amazon's sandbox host"
    )
    options = parser.parse_args(argv)
    if options.live:
        from py_sp_api.runtime.auth import LwaCredentials

        if not options.order_id:
            parser.error("--live needs --order-id")
        if not LwaCredentials.available_in_env():
            parser.error("--live needs LWA_CLIENT_ID, LWA_CLIENT_SECRET and LWA_REFRESH_TOKEN")
        config = Configuration.for_marketplace(
            options.marketplace_id,
            sandbox=options.sandbox_host,
            credentials=LwaCredentials.from_env(),
        )
        print(f"Live tour: read-only calls for order {options.order_id} on {config.host}")
        return 1 if run(config, options.order_id, options.marketplace_id, live_calls()) else 0
    from py_sp_api.testing import MessagingSandbox

    with MessagingSandbox() as sandbox:
        print(f"Local sandbox listening on {sandbox.url} (no credentials, no network)")
        failures = run(
            sandbox.configuration(), SANDBOX_ORDER, options.marketplace_id, sandbox_calls()
        )
    print(NEXT_STEP)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
