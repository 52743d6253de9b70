"""Rate-limit buckets are per API and operation; send-journal keys stay as sellers stored them."""

from __future__ import annotations

from py_sp_api.generated.messaging import Configuration, Error
from py_sp_api.generated.messaging.operations import CREATE_WARRANTY, GET_ATTRIBUTES
from py_sp_api.generated.solicitations.operations import GET_SOLICITATION_ACTIONS_FOR_ORDER
from py_sp_api.runtime.journal import SendKey
from py_sp_api.runtime.operation import ModelRef, Operation, PathParam, RateLimit
from py_sp_api.runtime.ratelimit import LocalBucketStore, RateLimiting, bucket_key


def _get_order(api: str) -> Operation[Error]:
    """``getOrder`` as two of Amazon's APIs (Orders v0 and Orders 2026-01-01) declare it."""
    return Operation(
        name="get_order",
        operation_id="getOrder",
        method="GET",
        path="/orders/v0/orders/{orderId}" if api == "orders_v0" else "/orders/2026/{orderId}",
        path_params=(PathParam("orderId", "order_id"),),
        query_params=(),
        response=ModelRef("py_sp_api.generated.messaging.models.error", "Error"),
        rate_limit=RateLimit(0.5, 30),
        api=api,
    )


def test_two_apis_with_the_same_operation_id_never_share_a_bucket() -> None:
    v0, current = _get_order("orders_v0"), _get_order("orders_2026_01_01")
    assert bucket_key("seller", v0) != bucket_key("seller", current)


def test_the_limiter_keeps_one_bucket_per_api_for_a_repeated_operation_id() -> None:
    store = LocalBucketStore()
    limiter = RateLimiting(store=store, sleep=lambda seconds: None)
    for operation in (_get_order("orders_v0"), _get_order("orders_2026_01_01")):
        limiter.acquire(operation, "seller")
    assert len(store._buckets) == 2


def test_an_override_can_name_one_api_of_a_repeated_method_name() -> None:
    # get_order is a method of five of Amazon's APIs, each with its own plan.
    v0, current = _get_order("orders_v0"), _get_order("orders_2026_01_01")
    limiter = RateLimiting(
        overrides={"orders_v0.get_order": RateLimit(5.0, 10), "get_order": RateLimit(2.0, 4)}
    )
    assert limiter.plan_for(v0) == RateLimit(5.0, 10)
    assert limiter.plan_for(current) == RateLimit(2.0, 4)  # the bare name: every other API
    assert RateLimiting(overrides={"orders_v0.get_order": RateLimit(5.0, 10)}).plan_for(
        current
    ) == RateLimit(0.5, 30)


def test_generated_operations_name_their_api_in_the_bucket_key() -> None:
    assert bucket_key("id", GET_ATTRIBUTES) == "id|messaging|GetAttributes"
    assert (
        bucket_key("id", GET_SOLICITATION_ACTIONS_FOR_ORDER)
        == "id|solicitations|getSolicitationActionsForOrder"
    )


def test_a_messaging_journal_key_is_what_earlier_releases_stored() -> None:
    # Journals persist these keys: a changed derivation would let a resumed run send again.
    config = Configuration(host="https://sellingpartnerapi-na.amazon.com", seller_id="seller-42")
    key = SendKey.for_message(config, CREATE_WARRANTY, "ATVPDKIKX0DER", "123-1234567-1234567")
    assert str(key) == (
        '["https://sellingpartnerapi-na.amazon.com|seller-42","ATVPDKIKX0DER",'
        '"123-1234567-1234567","CreateWarranty",null]'
    )
