"""Messaging-specific test data: realistic bodies, the spec's sandbox answers, a call helper."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from dateutil.parser import isoparse

from py_sp_api.generated.messaging import CreateWarrantyRequest, MessagingApi
from py_sp_api.generated.messaging.operations import OPERATIONS

from .spec_models import SPEC

MARKETPLACE = "ATVPDKIKX0DER"
ORDER_ID = "123-1234567-1234567"
REQUEST_ID_HEADER = "x-amzn-RequestId"

NAMES: List[str] = sorted(OPERATIONS)
BODY_NAMES: List[str] = [name for name in NAMES if OPERATIONS[name].body_model is not None]

_UPLOAD_ID = "4e936e26-7b72-4b84-af27-e6baee1d546d"

SAMPLE_BODIES: Dict[str, Optional[Dict[str, Any]]] = {
    "confirm_customization_details": {
        "text": "Please confirm the engraving \u201cF\u00fcr Ana \u2014 2024\u201d.",
        "attachments": [
            {"uploadDestinationId": _UPLOAD_ID, "fileName": "engraving-proof.png"},
            {"uploadDestinationId": "9b1d2c3e-0000-4a4a-8b8b-123456789abc", "fileName": "font.png"},
        ],
    },
    "create_amazon_motors": {
        "attachments": [{"uploadDestinationId": _UPLOAD_ID, "fileName": "AmazonMotors.txt"}]
    },
    "create_confirm_delivery_details": {
        "text": "Your order will be delivered on Friday between 9:00 and 12:00."
    },
    "create_confirm_order_details": {"text": "Please confirm the size (EU 42) before we ship."},
    "create_confirm_service_details": {"text": "The technician will arrive on 3 May at 10:00."},
    "create_digital_access_key": {
        "text": "Your access key is in the attached file.",
        "attachments": [{"uploadDestinationId": _UPLOAD_ID, "fileName": "access-key.txt"}],
    },
    "create_legal_disclosure": {
        "attachments": [{"uploadDestinationId": _UPLOAD_ID, "fileName": "Widerrufsbelehrung.pdf"}]
    },
    "create_negative_feedback_removal": None,
    "create_unexpected_problem": {
        "text": "Your parcel was damaged in transit; a replacement ships today."
    },
    "create_warranty": {
        "attachments": [
            {
                "uploadDestinationId": "8634452c-4d4f-4703-8cea-2ecc9dcb3279",
                "fileName": "warranty.txt",
            }
        ],
        "coverageStartDate": "2024-05-01T00:00:00Z",
        "coverageEndDate": "2026-04-30T23:59:59.500-08:00",
    },
    "get_attributes": None,
    "get_messaging_actions_for_order": None,
    "send_invoice": {
        "attachments": [{"uploadDestinationId": _UPLOAD_ID, "fileName": "invoice-2024-0001.pdf"}]
    },
}

DATE_TIME_FIELDS = ("coverageStartDate", "coverageEndDate")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def comparable_body(body: Any) -> Any:
    """A wire body with each date-time replaced by (instant, UTC offset).

    ``Z`` and ``+00:00``, or ``.5`` and ``.500``, are the same RFC 3339 value; the instant and
    the offset the buyer sees are what must survive. Each date-time must be RFC 3339.
    """
    if not isinstance(body, dict):
        return body
    result = dict(body)
    for name in DATE_TIME_FIELDS:
        if name in result:
            text = result[name]
            assert isinstance(text, str), f"{name} must be a string on the wire"
            assert RFC3339.match(text), f"{name}={text!r} is not RFC 3339"
            value: datetime = isoparse(text)
            moment: Tuple[datetime, Any] = (value, value.utcoffset())
            result[name] = moment
    return result


def spec_operation(name: str) -> Dict[str, Any]:
    """The spec's operation object for the method ``name``."""
    operation_id = OPERATIONS[name].operation_id
    for methods in SPEC["paths"].values():
        for operation in methods.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise KeyError(operation_id)


def sandbox_response(name: str) -> Any:
    """The spec's static sandbox answer for the success status of ``name``."""
    responses = spec_operation(name)["responses"]
    status = "200" if "200" in responses else "201"
    static = responses[status].get("x-amzn-api-sandbox", {}).get("static") or [{}]
    return static[0].get("response", {})


def sandbox_request_body(name: str) -> Optional[Dict[str, Any]]:
    """The request body of the spec's static sandbox example for ``name``, if it has one."""
    responses = spec_operation(name)["responses"]
    status = "200" if "200" in responses else "201"
    static = responses[status].get("x-amzn-api-sandbox", {}).get("static") or [{}]
    body = static[0].get("request", {}).get("parameters", {}).get("body")
    return None if body is None else body["value"]


def body_model_instance(name: str) -> Any:
    """The sample body of ``name`` as its request model (``None`` for body-less operations)."""
    operation = OPERATIONS[name]
    sample = SAMPLE_BODIES[name]
    if operation.body_model is None:
        return None
    return operation.body_model.model_validate(sample)


def warranty_body() -> CreateWarrantyRequest:
    """A valid ``create_warranty`` body (one attachment, a year of coverage)."""
    return CreateWarrantyRequest.model_validate(
        {
            "attachments": [{"uploadDestinationId": "8634452c", "fileName": "warranty.txt"}],
            "coverageStartDate": "2024-01-01T00:00:00Z",
            "coverageEndDate": "2025-01-01T00:00:00Z",
        }
    )


_DEFAULT: Any = object()


def invoke(
    api: MessagingApi,
    name: str,
    order_id: Any = ORDER_ID,
    marketplace_ids: Any = _DEFAULT,
    body: Any = _DEFAULT,
    *,
    variant: str = "",
    **kwargs: Any,
) -> Any:
    """Call ``api.<name><variant>`` with the generated method's positional signature.

    By default the marketplace is ``[MARKETPLACE]`` and the body is the operation's sample body
    (as its model); body-less operations get no body argument at all.
    """
    if marketplace_ids is _DEFAULT:
        marketplace_ids = [MARKETPLACE]
    method = getattr(api, name + variant)
    if OPERATIONS[name].body_model is None:
        return method(order_id, marketplace_ids, **kwargs)
    if body is _DEFAULT:
        body = body_model_instance(name)
    return method(order_id, marketplace_ids, body, **kwargs)


def expected_path(name: str, encoded_order_id: str) -> str:
    """The spec's path template of ``name`` with the (already encoded) order id filled in."""
    paths: Dict[str, Dict[str, Any]] = SPEC["paths"]
    for template, methods in paths.items():
        if any(
            isinstance(op, dict) and op.get("operationId") == OPERATIONS[name].operation_id
            for op in methods.values()
        ):
            return template.replace("{amazonOrderId}", encoded_order_id)
    raise KeyError(name)


def spec_method(name: str) -> str:
    operation_id = OPERATIONS[name].operation_id
    paths: Dict[str, Dict[str, Any]] = SPEC["paths"]
    for methods in paths.values():
        for method, operation in methods.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return method.upper()
    raise KeyError(operation_id)
