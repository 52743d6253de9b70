"""Per-operation usage plans: read by the generator from each operation's Usage Plan table."""

from __future__ import annotations

import copy
import json

import pytest

from py_sp_api.codegen.generate import TARGETS, spec_path
from py_sp_api.codegen.ir import SpecReader
from py_sp_api.generated.messaging import RATE_LIMITS, MessagingApi
from py_sp_api.generated.messaging.exceptions import ApiValueError
from py_sp_api.runtime.operation import RateLimit

# By hand, from the spec's descriptions: every operation documents 1 rps / burst 5 except
# sendInvoice, whose description has no table.
DOCUMENTED = {
    "confirm_customization_details", "create_amazon_motors", "create_confirm_delivery_details",
    "create_confirm_order_details", "create_confirm_service_details", "create_digital_access_key",
    "create_legal_disclosure", "create_negative_feedback_removal", "create_unexpected_problem",
    "create_warranty", "get_attributes", "get_messaging_actions_for_order",
}  # fmt: skip


def test_every_operation_has_its_plan_and_send_invoice_is_marked_undocumented() -> None:
    assert set(RATE_LIMITS) == DOCUMENTED | {"send_invoice"}
    for name in DOCUMENTED:
        assert RATE_LIMITS[name] == RateLimit(rate=1.0, burst=5, documented=True), name
    assert RATE_LIMITS["send_invoice"] == RateLimit(rate=1.0, burst=5, documented=False)
    assert MessagingApi.rate_limit("send_invoice") is RATE_LIMITS["send_invoice"]
    assert dict(MessagingApi.rate_limits()) == dict(RATE_LIMITS)


def test_an_unknown_method_name_is_a_clear_error() -> None:
    with pytest.raises(ApiValueError, match="unknown operation 'get_attribute'"):
        MessagingApi.rate_limit("get_attribute")


def test_the_generator_reads_the_table_not_a_default() -> None:
    # Change one operation's table in a copy of the spec: the plan must follow it.
    target = TARGETS[0]
    spec = json.loads(spec_path(target).read_bytes())
    changed = copy.deepcopy(spec)
    operation = changed["paths"]["/messaging/v1/orders/{amazonOrderId}/attributes"]["get"]
    operation["description"] = operation["description"].replace("| 1 | 5 |", "| 0.5 | 30 |")
    api = SpecReader(changed, target.class_name, target.default_rate).read()
    plans = {op.python_name: (op.rate, op.burst, op.rate_documented) for op in api.operations}
    assert plans["get_attributes"] == (0.5, 30, True)
    assert plans["send_invoice"] == (1.0, 5, False)
    assert plans["create_warranty"] == (1.0, 5, True)
