"""Round trips for every model, and forward compatibility with fields Amazon adds later.

The hypothesis strategies are built from ``py_sp_api/specs/messaging.json`` by the tests' own
reading of the spec (``tests/support/spec_models.py``): they produce valid wire-form dicts
(camelCase keys, date-times as ISO 8601 strings), including unknown keys a newer API version
could send.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Set

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from py_sp_api.generated.messaging.exceptions import ApiValueError, ModelValidationError
from py_sp_api.generated.messaging.models import (
    CreateLegalDisclosureRequest,
    GetAttributesResponse,
    GetAttributesResponseBuyer,
    GetMessagingActionsForOrderResponse,
    LinkObject,
)
from py_sp_api.runtime.model import SpApiRequestModel
from tests.support.spec_models import (
    DEFS,
    MODEL_NAMES,
    SPEC_MODELS,
    minimal_wire,
    model_class,
    pascal,
    python_name,
    ref_name,
)

UTC = timezone.utc
# Models only ever sent: they refuse unknown fields (a typo would otherwise be sent as nothing).
REQUEST_ONLY = {name for name in MODEL_NAMES if issubclass(model_class(name), SpApiRequestModel)}

HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------------
# Reading the spec
# --------------------------------------------------------------------------------------------


def _known_keys(name: str) -> Set[str]:
    props = SPEC_MODELS[name]["properties"]
    return set(props) | {python_name(p) for p in props}


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Unknown keys whose value is null are covered by their own tests below
# (test_unknown_null_field_survives_in_every_model and the one after it), so a failure there
# is reported once, precisely; here top-level unknown values are non-null (nulls nested inside
# them are included).
NON_NULL_JSON = JSON_VALUES.filter(lambda v: v is not None)

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
AWARE_DATETIMES = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)),
    OFFSETS,
)


def _render(dt: datetime, style: str) -> str:
    utc = dt.astimezone(UTC)
    if style == "extended":  # 2004-12-13T21:39:45.123456+05:30
        return dt.isoformat()
    if style == "zulu":  # 2004-12-13T16:09:45.123456Z
        return utc.replace(tzinfo=None).isoformat() + "Z"
    if style == "millis":  # 2004-12-13T16:09:45.123Z
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert style == "basic"  # 20041213T160945Z
    return utc.strftime("%Y%m%dT%H%M%SZ")


DATETIME_STRINGS = st.builds(
    _render, AWARE_DATETIMES, st.sampled_from(["extended", "zulu", "millis", "basic"])
)

_STRATEGIES: Dict[str, st.SearchStrategy] = {}


def _prop_strategy(owner: str, prop_name: str, prop: Dict[str, Any]) -> st.SearchStrategy:
    if "$ref" in prop:
        ref = ref_name(prop)
        if ref in SPEC_MODELS:
            return model_strategy(ref)
        return _prop_strategy(owner, prop_name, DEFS[ref])
    kind = prop.get("type", "object")
    if kind == "array":
        low = prop.get("minItems", prop.get("minLength", 0))
        high = prop.get("maxItems", prop.get("maxLength", 3))
        items = _prop_strategy(owner, prop_name, prop["items"])
        return st.lists(items, min_size=low, max_size=high)
    if kind == "object":
        if prop.get("properties"):
            return model_strategy(owner + pascal(prop_name))
        # Free-form (the Schema definition): any JSON object.
        return st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)
    assert kind == "string", f"spec uses a type this test does not know: {kind}"
    if prop.get("format") == "date-time":
        return DATETIME_STRINGS
    return st.text(min_size=prop.get("minLength", 0), max_size=prop.get("maxLength", 20))


def model_strategy(name: str) -> st.SearchStrategy:
    """Valid wire-form dicts for a model, sometimes with unknown extra keys."""
    if name not in _STRATEGIES:
        schema = SPEC_MODELS[name]
        props = schema["properties"]
        required = set(schema.get("required", []))
        known = _known_keys(name)
        declared = st.fixed_dictionaries(
            {p: _prop_strategy(name, p, s) for p, s in props.items() if p in required},
            optional={p: _prop_strategy(name, p, s) for p, s in props.items() if p not in required},
        )
        extra = st.dictionaries(
            st.text(min_size=1, max_size=8).filter(lambda k: k not in known),
            NON_NULL_JSON,
            max_size=0 if name in REQUEST_ONLY else 2,  # those refuse unknown fields
        )
        _STRATEGIES[name] = st.builds(lambda d, e: {**e, **d}, declared, extra)
    return _STRATEGIES[name]


# --------------------------------------------------------------------------------------------
# Normalising wire dicts for comparison
# --------------------------------------------------------------------------------------------


def _parse_wire_datetime(text: Any) -> datetime:
    assert isinstance(text, str), f"expected an ISO 8601 string, got {text!r}"
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y%m%dT%H%M%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
    raise AssertionError(f"not ISO 8601 with an offset: {text!r}")


def _python_datetime(value: Any) -> datetime:
    assert isinstance(value, datetime), f"expected a datetime, got {value!r}"
    assert value.utcoffset() is not None, f"naive datetime {value!r}"
    return value.astimezone(UTC)


Leaf = Callable[[Any], datetime]


def _walk_prop(owner: str, prop_name: str, prop: Dict[str, Any], value: Any, leaf: Leaf) -> Any:
    if "$ref" in prop:
        ref = ref_name(prop)
        if ref in SPEC_MODELS:
            return normalise(ref, value, leaf)
        return _walk_prop(owner, prop_name, DEFS[ref], value, leaf)
    kind = prop.get("type", "object")
    if kind == "array":
        return [_walk_prop(owner, prop_name, prop["items"], item, leaf) for item in value]
    if kind == "object" and prop.get("properties"):
        return normalise(owner + pascal(prop_name), value, leaf)
    if kind == "string" and prop.get("format") == "date-time":
        return leaf(value)
    return value


def normalise(name: str, value: Dict[str, Any], leaf: Leaf) -> Dict[str, Any]:
    """The wire dict with every date-time replaced by its instant in UTC."""
    assert isinstance(value, dict), value
    props = SPEC_MODELS[name]["properties"]
    return {
        key: _walk_prop(name, key, props[key], item, leaf) if key in props else item
        for key, item in value.items()
    }


def to_python_names(name: str, value: Dict[str, Any]) -> Dict[str, Any]:
    """The same document keyed by python field names (unknown keys unchanged)."""
    props = SPEC_MODELS[name]["properties"]

    def convert(prop_name: str, prop: Dict[str, Any], item: Any) -> Any:
        if "$ref" in prop:
            ref = ref_name(prop)
            if ref in SPEC_MODELS:
                return to_python_names(ref, item)
            return convert(prop_name, DEFS[ref], item)
        kind = prop.get("type", "object")
        if kind == "array":
            return [convert(prop_name, prop["items"], x) for x in item]
        if kind == "object" and prop.get("properties"):
            return to_python_names(name + pascal(prop_name), item)
        return item

    return {
        (python_name(key) if key in props else key): (
            convert(key, props[key], item) if key in props else item
        )
        for key, item in value.items()
    }


# --------------------------------------------------------------------------------------------
# 6. Round trips for every model
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
@HYPOTHESIS
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    cls = model_class(name)
    wire = data.draw(model_strategy(name), label="wire")
    expected = normalise(name, wire, _parse_wire_datetime)

    model = cls.from_dict(wire)
    assert type(model) is cls

    as_dict = model.to_dict()
    assert normalise(name, as_dict, _python_datetime) == expected

    as_json = model.to_json()
    assert normalise(name, json.loads(as_json), _parse_wire_datetime) == expected
    assert cls.from_json(as_json) == model
    assert cls.from_json(as_json.encode("utf-8")) == model
    assert cls.from_dict(as_dict) == model

    assert json.loads(model.to_str()) == json.loads(as_json)

    assert cls.from_dict(to_python_names(name, wire)) == model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_from_dict_none_is_none(name: str) -> None:
    assert model_class(name).from_dict(None) is None


def test_strategy_covers_every_model() -> None:
    assert len(MODEL_NAMES) == 35
    for name in MODEL_NAMES:
        assert model_strategy(name) is model_strategy(name)


# --------------------------------------------------------------------------------------------
# 5. Forward compatibility
# --------------------------------------------------------------------------------------------

NEWER_ATTRIBUTES = {"buyer": {"locale": "en-US", "newField": 1}, "topLevelNew": {"a": [1]}}


def _three_ways(cls: Any, wire: Dict[str, Any]) -> List[Any]:
    model = cls.from_dict(wire)
    return [model, cls.from_dict(model.to_dict()), cls.from_json(model.to_json())]


def test_unknown_fields_parse_and_survive_round_trips() -> None:
    for model in _three_ways(GetAttributesResponse, NEWER_ATTRIBUTES):
        assert model.to_dict() == NEWER_ATTRIBUTES
        assert json.loads(model.to_json()) == NEWER_ATTRIBUTES
        assert json.loads(model.to_str()) == NEWER_ATTRIBUTES
        assert isinstance(model.buyer, GetAttributesResponseBuyer)
        assert model.buyer.locale == "en-US"
        assert model.model_extra == {"topLevelNew": {"a": [1]}}
        assert model.buyer.model_extra == {"newField": 1}
    first, via_dict, via_json = _three_ways(GetAttributesResponse, NEWER_ATTRIBUTES)
    assert first == via_dict == via_json


def test_unknown_key_inside_a_nested_link_object() -> None:
    wire = {
        "_links": {
            "self": {"href": "/orders/1", "templated": False, "hreflang": "en"},
            "actions": [
                {"href": "/orders/1/messages/a", "name": "a", "deprecation": {"at": None}},
                {"href": "/orders/1/messages/b"},
            ],
        },
        "_embedded": {"actions": [], "cursor": "abc"},
        "newTopLevel": [1, "two", {"three": 3.5}],
    }
    for model in _three_ways(GetMessagingActionsForOrderResponse, wire):
        assert model.to_dict() == wire
        assert json.loads(model.to_json()) == wire
        link = model.links.var_self
        assert isinstance(link, LinkObject)
        assert link.href == "/orders/1"
        assert link.model_extra == {"templated": False, "hreflang": "en"}
        assert model.links.actions[0].model_extra == {"deprecation": {"at": None}}
        assert model.links.actions[1].model_extra == {}


def test_unknown_field_that_looks_like_hal_metadata_is_kept() -> None:
    wire = {"buyer": {"locale": "de-DE", "_meta": {"v": 2}}, "_links": {"self": {"href": "x"}}}
    model = GetAttributesResponse.from_dict(wire)
    assert model.to_dict() == wire
    assert GetAttributesResponse.from_json(model.to_json()).to_dict() == wire


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n not in REQUEST_ONLY])
def test_unknown_null_field_survives_in_every_model_that_is_received(name: str) -> None:
    cls = model_class(name)
    wire = {**minimal_wire(name), "futureField": None, "futureList": [None]}
    model = cls.from_dict(wire)
    assert model.model_extra == {"futureField": None, "futureList": [None]}
    assert model.to_dict() == wire
    assert json.loads(model.to_json()) == wire
    assert json.loads(model.to_str()) == wire
    assert cls.from_json(model.to_json()) == model
    assert cls.from_dict(model.to_dict()) == model


def test_the_request_only_models_are_exactly_those_no_answer_contains() -> None:
    assert sorted(REQUEST_ONLY) == sorted(
        [*(n for n in MODEL_NAMES if n.endswith("Request")), "Attachment"]
    )


@pytest.mark.parametrize("name", sorted(REQUEST_ONLY))
def test_a_request_model_refuses_an_unknown_field_when_built(name: str) -> None:
    cls = model_class(name)
    wire = {**minimal_wire(name), "txet": "hi"}
    builds: List[Callable[[], object]] = [
        lambda: cls(**wire),
        lambda: cls.from_dict(wire),
        lambda: cls.from_json(json.dumps(wire)),
    ]
    for build in builds:
        with pytest.raises(ModelValidationError) as caught:
            build()
        assert "txet" in str(caught.value)
        assert isinstance(caught.value, ApiValueError)


def test_a_nested_request_model_refuses_an_unknown_field_too() -> None:
    with pytest.raises(ModelValidationError, match="fileNmae"):
        CreateLegalDisclosureRequest.from_dict(
            {"attachments": [{"uploadDestinationId": "u-1", "fileName": "a.pdf", "fileNmae": "b"}]}
        )


def test_unknown_field_with_a_null_value_survives() -> None:
    # A newer API version may send a new field as null (e.g. an optional value it has no data
    # for). The model keeps unknown fields, so the wire form should come back unchanged.
    wire = {"buyer": {"locale": "en-US", "newField": None}, "topLevelNew": None}
    model = GetAttributesResponse.from_dict(wire)
    assert model.model_extra == {"topLevelNew": None}
    assert model.to_dict() == wire
    assert GetAttributesResponse.from_json(model.to_json()) == model
