"""The generated Messaging models: layout, wire aliases, spec constraints and the Error model.

Every expectation here is derived from ``py_sp_api/specs/messaging.json`` by the tests' own
reading of the spec (``tests/support/spec_models.py``, not the package's code generator), or
written out by hand.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any, Dict, List, Tuple, Type

import pytest
from pydantic import ValidationError

import py_sp_api.generated.messaging as messaging_pkg
import py_sp_api.generated.messaging.models as models_pkg
from py_sp_api.generated.messaging.models import (
    Attachment,
    CreateConfirmCustomizationDetailsRequest,
    CreateDigitalAccessKeyRequest,
    CreateWarrantyRequest,
    Error,
    GetAttributesResponse,
    GetAttributesResponseBuyer,
    GetMessagingActionResponse,
    GetMessagingActionResponseEmbedded,
    GetMessagingActionResponseLinks,
    GetMessagingActionsForOrderResponseLinks,
    GetSchemaResponse,
    GetSchemaResponseLinks,
    InvoiceRequest,
    LinkObject,
)
from py_sp_api.runtime.model import SpApiModel
from tests.support.spec_models import (
    DEFS,
    MODEL_NAMES,
    MODELS_PACKAGE,
    SPEC_MODELS,
    minimal_wire,
    model_class,
    module_name,
    python_name,
)

# --------------------------------------------------------------------------------------------
# Cases derived from the spec
# --------------------------------------------------------------------------------------------


def _required_pairs() -> List[Tuple[str, str]]:
    return [
        (name, prop)
        for name in MODEL_NAMES
        for prop in sorted(SPEC_MODELS[name].get("required", []))
    ]


def _string_limits() -> List[Tuple[str, str, int, int]]:
    out = []
    for name in MODEL_NAMES:
        for prop_name, prop in SPEC_MODELS[name]["properties"].items():
            if prop.get("type") == "string" and ("maxLength" in prop or "minLength" in prop):
                out.append((name, prop_name, prop["minLength"], prop["maxLength"]))
    return out


def _array_limits() -> List[Tuple[str, str, int, int]]:
    out = []
    for name in MODEL_NAMES:
        for prop_name, prop in SPEC_MODELS[name]["properties"].items():
            if prop.get("type") != "array":
                continue
            # Amazon writes minLength/maxLength on arrays where it means item counts.
            high = prop.get("maxItems", prop.get("maxLength"))
            low = prop.get("minItems", prop.get("minLength", 0))
            if high is not None or low:
                out.append((name, prop_name, low, high))
    return out


STRING_LIMITS = _string_limits()
ARRAY_LIMITS = _array_limits()


def _attachment(i: int = 0) -> Dict[str, str]:
    return {"uploadDestinationId": f"dest-{i}", "fileName": f"file-{i}.pdf"}


# --------------------------------------------------------------------------------------------
# 1. Layout
# --------------------------------------------------------------------------------------------


def test_spec_reading_finds_the_documented_inline_models() -> None:
    # Sanity check on the tests' own spec reading, with names written out by hand.
    inline = set(SPEC_MODELS) - set(DEFS)
    assert inline == {
        "GetAttributesResponseBuyer",
        "GetMessagingActionResponseEmbedded",
        "GetMessagingActionResponseLinks",
        "GetMessagingActionsForOrderResponseEmbedded",
        "GetMessagingActionsForOrderResponseLinks",
        "GetSchemaResponseLinks",
    }
    assert len(SPEC_MODELS) == 35
    assert "Schema" not in SPEC_MODELS  # free-form object: a Dict, not a class
    assert "ErrorList" not in SPEC_MODELS  # array: a List[Error], not a class


def test_exactly_the_spec_models_exist_as_modules() -> None:
    present = {info.name for info in pkgutil.iter_modules(models_pkg.__path__) if not info.ispkg}
    expected = {module_name(name) for name in SPEC_MODELS}
    assert "get_attributes_response_buyer" in expected
    assert "get_messaging_action_response_links" in expected
    assert present == expected


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_is_importable_from_its_module_and_both_packages(name: str) -> None:
    module = importlib.import_module(f"{MODELS_PACKAGE}.{module_name(name)}")
    cls = getattr(module, name)
    assert isinstance(cls, type)
    assert issubclass(cls, SpApiModel)
    assert cls.__name__ == name
    assert cls.__module__ == module.__name__
    assert getattr(models_pkg, name) is cls
    assert getattr(messaging_pkg, name) is cls
    assert module.__all__ == [name]


def test_package_all_lists_exactly_the_models() -> None:
    assert sorted(models_pkg.__all__) == MODEL_NAMES
    assert set(MODEL_NAMES) <= set(messaging_pkg.__all__)
    namespace: Dict[str, Any] = {}
    exec(f"from {MODELS_PACKAGE} import *", namespace)
    assert {k for k in namespace if not k.startswith("__")} == set(MODEL_NAMES)


# --------------------------------------------------------------------------------------------
# 2. Field names and wire aliases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fields_mirror_the_spec_properties(name: str) -> None:
    schema = SPEC_MODELS[name]
    fields = model_class(name).model_fields
    by_wire = {(info.alias or field): field for field, info in fields.items()}
    assert set(by_wire) == set(schema["properties"])
    for wire, field in by_wire.items():
        assert field == python_name(wire), wire
        assert fields[field].is_required() == (wire in schema.get("required", [])), wire


@pytest.mark.parametrize(
    ("cls", "field", "alias"),
    [
        (GetSchemaResponse, "links", "_links"),
        (GetMessagingActionResponse, "links", "_links"),
        (GetMessagingActionResponse, "embedded", "_embedded"),
        (GetSchemaResponseLinks, "var_self", "self"),
        (GetMessagingActionResponseLinks, "var_self", "self"),
        (GetMessagingActionResponseLinks, "var_schema", "schema"),
        (GetMessagingActionResponseEmbedded, "var_schema", "schema"),
        (Attachment, "upload_destination_id", "uploadDestinationId"),
        (Attachment, "file_name", "fileName"),
        (CreateWarrantyRequest, "coverage_start_date", "coverageStartDate"),
        (CreateWarrantyRequest, "coverage_end_date", "coverageEndDate"),
    ],
)
def test_named_aliases(cls: Type[SpApiModel], field: str, alias: str) -> None:
    assert cls.model_fields[field].alias == alias


_LINK = {"href": "/messaging/v1/orders/1/messages/confirmOrderDetails", "name": "confirm"}
_SCHEMA_LINK = {"href": "/messaging/v1/orders/1/schemas/confirmOrderDetails"}


@pytest.mark.parametrize(
    ("cls", "by_name", "wire"),
    [
        (
            Attachment,
            {"upload_destination_id": "d-1", "file_name": "a.pdf"},
            {"uploadDestinationId": "d-1", "fileName": "a.pdf"},
        ),
        (
            CreateWarrantyRequest,
            {"attachments": [{"upload_destination_id": "d", "file_name": "f"}]},
            {"attachments": [{"uploadDestinationId": "d", "fileName": "f"}]},
        ),
        (
            GetMessagingActionResponseLinks,
            {"var_self": _LINK, "var_schema": _SCHEMA_LINK},
            {"self": _LINK, "schema": _SCHEMA_LINK},
        ),
        (
            GetMessagingActionResponse,
            {
                "links": {"var_self": _LINK, "var_schema": _SCHEMA_LINK},
                "embedded": {"var_schema": {"links": {"var_self": _SCHEMA_LINK}}},
                "payload": {"name": "confirmOrderDetails"},
            },
            {
                "_links": {"self": _LINK, "schema": _SCHEMA_LINK},
                "_embedded": {"schema": {"_links": {"self": _SCHEMA_LINK}}},
                "payload": {"name": "confirmOrderDetails"},
            },
        ),
    ],
)
def test_constructible_by_field_name_and_by_alias(
    cls: Type[SpApiModel], by_name: Dict[str, Any], wire: Dict[str, Any]
) -> None:
    from_names = cls(**by_name)
    from_wire = cls(**wire)
    assert from_names == from_wire
    assert from_names.to_dict() == wire
    assert from_wire.to_dict() == wire
    assert json.loads(from_names.to_json()) == wire
    assert cls.from_dict(by_name) == cls.from_dict(wire) == from_wire


def test_attribute_access_uses_python_names() -> None:
    resp = GetMessagingActionResponse.from_dict(
        {
            "_links": {"self": _LINK, "schema": _SCHEMA_LINK},
            "_embedded": {"schema": {"payload": {"type": "object"}}},
        }
    )
    assert isinstance(resp.links, GetMessagingActionResponseLinks)
    assert resp.links.var_self == LinkObject(href=_LINK["href"], name="confirm")
    assert resp.links.var_schema.href == _SCHEMA_LINK["href"]
    assert resp.links.var_schema.name is None
    assert resp.embedded is not None
    assert isinstance(resp.embedded.var_schema, GetSchemaResponse)
    assert resp.embedded.var_schema.payload == {"type": "object"}
    assert resp.payload is None
    assert resp.errors is None


def test_to_dict_and_to_json_omit_unset_fields() -> None:
    assert CreateWarrantyRequest().to_dict() == {}
    assert CreateWarrantyRequest().to_json() == "{}"
    assert LinkObject(href="h").to_dict() == {"href": "h"}
    assert json.loads(LinkObject(href="h").to_json()) == {"href": "h"}
    assert GetAttributesResponse(buyer=GetAttributesResponseBuyer()).to_dict() == {"buyer": {}}
    # Assigning after construction makes a field "set", so it is emitted from then on.
    link = LinkObject(href="h")
    link.name = "n"
    assert link.to_dict() == {"href": "h", "name": "n"}


def test_explicit_null_is_kept_but_absence_is_not() -> None:
    # runtime/model.py: "Unset fields are left out, but a value that was given (even null ...)
    # is kept: nothing Amazon sent is lost in a round trip."
    parsed = GetAttributesResponse.from_dict({"buyer": None})
    assert parsed.buyer is None
    assert parsed.errors is None
    assert parsed.to_dict() == {"buyer": None}
    assert json.loads(parsed.to_json()) == {"buyer": None}
    assert GetAttributesResponse.from_json(parsed.to_json()).to_dict() == {"buyer": None}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_optional_field_given_as_null_round_trips(name: str) -> None:
    schema = SPEC_MODELS[name]
    optional = [p for p in schema["properties"] if p not in schema.get("required", [])]
    wire = {**minimal_wire(name), **{p: None for p in optional}}
    cls = model_class(name)
    model = cls.from_dict(wire)
    for prop in optional:
        assert getattr(model, python_name(prop)) is None
    assert model.to_dict() == wire
    assert json.loads(model.to_json()) == wire
    assert cls.from_json(model.to_json()) == model
    # Left out, the same fields stay out.
    assert cls.from_dict(minimal_wire(name)).to_dict() == minimal_wire(name)


# --------------------------------------------------------------------------------------------
# 3. Constraints from the spec
# --------------------------------------------------------------------------------------------


def _error_types(exc: pytest.ExceptionInfo[ValidationError]) -> List[Tuple[Tuple[Any, ...], str]]:
    return [(tuple(e["loc"]), e["type"]) for e in exc.value.errors()]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_minimal_wire_form_is_valid(name: str) -> None:
    cls = model_class(name)
    wire = minimal_wire(name)
    assert cls.from_dict(wire).to_dict() == wire


@pytest.mark.parametrize(("name", "prop"), _required_pairs())
def test_required_field_missing_or_null_is_rejected(name: str, prop: str) -> None:
    cls = model_class(name)
    wire = minimal_wire(name)
    without = {k: v for k, v in wire.items() if k != prop}
    with pytest.raises(ValidationError) as exc:
        cls.from_dict(without)
    assert _error_types(exc) == [((prop,), "missing")]
    with pytest.raises(ValidationError) as exc:
        cls.from_dict({**wire, prop: None})
    assert [loc for loc, _ in _error_types(exc)] == [(prop,)]


def test_required_pairs_cover_the_documented_ones() -> None:
    pairs = set(_required_pairs())
    assert {
        ("Attachment", "fileName"),
        ("Attachment", "uploadDestinationId"),
        ("LinkObject", "href"),
        ("Error", "code"),
        ("Error", "message"),
        ("GetMessagingActionsForOrderResponseLinks", "self"),
        ("GetMessagingActionsForOrderResponseLinks", "actions"),
    } <= pairs


def test_documented_required_fields_by_hand() -> None:
    with pytest.raises(ValidationError) as exc:
        Attachment()  # type: ignore[call-arg]  # both required fields left out on purpose
    assert sorted(_error_types(exc)) == [
        (("fileName",), "missing"),
        (("uploadDestinationId",), "missing"),
    ]
    with pytest.raises(ValidationError) as exc:
        LinkObject(name="only a name")  # type: ignore[call-arg]  # href left out on purpose
    assert _error_types(exc) == [(("href",), "missing")]
    with pytest.raises(ValidationError) as exc:
        Error.from_dict({"details": "d"})
    assert sorted(_error_types(exc)) == [(("code",), "missing"), (("message",), "missing")]
    with pytest.raises(ValidationError) as exc:
        GetMessagingActionsForOrderResponseLinks.from_dict({})
    assert sorted(_error_types(exc)) == [(("actions",), "missing"), (("self",), "missing")]
    with pytest.raises(ValidationError) as exc:
        GetMessagingActionsForOrderResponseLinks.from_dict(
            {"self": {"name": "no href"}, "actions": []}
        )
    assert _error_types(exc) == [(("self", "href"), "missing")]


def test_string_limits_found_in_the_spec() -> None:
    assert sorted((name, high) for name, _, _, high in STRING_LIMITS) == sorted(
        [
            ("CreateConfirmCustomizationDetailsRequest", 800),
            ("CreateConfirmDeliveryDetailsRequest", 2000),
            ("CreateConfirmOrderDetailsRequest", 2000),
            ("CreateConfirmServiceDetailsRequest", 2000),
            ("CreateDigitalAccessKeyRequest", 400),
            ("CreateUnexpectedProblemRequest", 2000),
        ]
    )
    assert {low for _, _, low, _ in STRING_LIMITS} == {1}


@pytest.mark.parametrize(("name", "prop", "low", "high"), STRING_LIMITS)
def test_text_length_limits(name: str, prop: str, low: int, high: int) -> None:
    cls = model_class(name)
    field = python_name(prop)
    for ok in ("a" * low, "a" * high, "\u00fc" * high, "x" * (high // 2)):
        assert getattr(cls.from_dict({prop: ok}), field) == ok
    with pytest.raises(ValidationError) as exc:
        cls.from_dict({prop: "a" * (high + 1)})
    assert _error_types(exc) == [((prop,), "string_too_long")]
    with pytest.raises(ValidationError) as exc:
        cls.from_dict({prop: "a" * (low - 1)})
    assert _error_types(exc) == [((prop,), "string_too_short")]
    # Keyword construction by python name goes through the same checks.
    with pytest.raises(ValidationError):
        cls(**{field: "a" * (high + 1)})


@pytest.mark.parametrize(("name", "prop", "low", "high"), STRING_LIMITS)
def test_text_limits_also_apply_on_assignment(name: str, prop: str, low: int, high: int) -> None:
    cls = model_class(name)
    field = python_name(prop)
    model = cls.from_dict({prop: "hello"})
    setattr(model, field, "b" * high)
    assert getattr(model, field) == "b" * high
    with pytest.raises(ValidationError):
        setattr(model, field, "c" * (high + 1))
    assert getattr(model, field) == "b" * high
    with pytest.raises(ValidationError):
        setattr(model, field, "")
    with pytest.raises(ValidationError):
        setattr(model, field, 12345)
    assert model.to_dict() == {prop: "b" * high}


def test_array_limits_found_in_the_spec() -> None:
    assert sorted(ARRAY_LIMITS) == sorted(
        [
            ("CreateAmazonMotorsRequest", "attachments", 0, 5),
            ("CreateConfirmCustomizationDetailsRequest", "attachments", 0, 5),
            ("CreateDigitalAccessKeyRequest", "attachments", 0, 5),
            ("CreateLegalDisclosureRequest", "attachments", 0, 5),
            ("CreateWarrantyRequest", "attachments", 1, 5),
            ("InvoiceRequest", "attachments", 1, 5),
        ]
    )


@pytest.mark.parametrize(("name", "prop", "low", "high"), ARRAY_LIMITS)
def test_attachment_count_limits(name: str, prop: str, low: int, high: int) -> None:
    cls = model_class(name)
    field = python_name(prop)
    at_most = [_attachment(i) for i in range(high)]
    model = cls.from_dict({prop: at_most})
    assert [a.file_name for a in getattr(model, field)] == [a["fileName"] for a in at_most]
    assert model.to_dict() == {prop: at_most}
    with pytest.raises(ValidationError) as exc:
        cls.from_dict({prop: [_attachment(i) for i in range(high + 1)]})
    assert _error_types(exc) == [((prop,), "too_long")]
    if low:
        with pytest.raises(ValidationError) as exc:
            cls.from_dict({prop: []})
        assert _error_types(exc) == [((prop,), "too_short")]
    else:
        assert getattr(cls.from_dict({prop: []}), field) == []
    # Each item is an Attachment, validated like one.
    with pytest.raises(ValidationError) as exc:
        cls.from_dict({prop: [{"uploadDestinationId": "d"}]})
    assert _error_types(exc) == [((prop, 0, "fileName"), "missing")]


@pytest.mark.parametrize(("name", "prop", "low", "high"), ARRAY_LIMITS)
def test_attachment_limits_also_apply_on_assignment(
    name: str, prop: str, low: int, high: int
) -> None:
    cls = model_class(name)
    field = python_name(prop)
    model = cls.from_dict({prop: [_attachment()]})
    with pytest.raises(ValidationError):
        setattr(model, field, [Attachment.from_dict(_attachment(i)) for i in range(high + 1)])
    assert len(getattr(model, field)) == 1
    if low:
        with pytest.raises(ValidationError):
            setattr(model, field, [])
    setattr(model, field, [_attachment(7)])
    assert getattr(model, field) == [
        Attachment(upload_destination_id="dest-7", file_name="file-7.pdf")
    ]


def test_documented_limits_by_hand() -> None:
    assert CreateConfirmCustomizationDetailsRequest(text="t" * 800).text == "t" * 800
    with pytest.raises(ValidationError):
        CreateConfirmCustomizationDetailsRequest(text="t" * 801)
    with pytest.raises(ValidationError):
        CreateDigitalAccessKeyRequest(text="t" * 401)
    with pytest.raises(ValidationError):
        InvoiceRequest(attachments=[])
    with pytest.raises(ValidationError):
        CreateWarrantyRequest(attachments=[])
    with pytest.raises(ValidationError):
        InvoiceRequest(attachments=[_attachment(i) for i in range(6)])
    # Omitting the list entirely is fine: the property is optional.
    assert InvoiceRequest().attachments is None
    request = CreateDigitalAccessKeyRequest(text="short")
    with pytest.raises(ValidationError):
        request.text = "t" * 401
    assert request.text == "short"


def test_nested_models_validate_assignment_too() -> None:
    request = InvoiceRequest(attachments=[_attachment()])
    assert request.attachments is not None
    with pytest.raises(ValidationError):
        request.attachments[0].file_name = None  # type: ignore[assignment]  # a required field set to None on purpose
    assert request.attachments[0].file_name == "file-0.pdf"
    link = LinkObject(href="h")
    with pytest.raises(ValidationError):
        link.href = None  # type: ignore[assignment]  # the required field set to None on purpose
    assert link.href == "h"


# --------------------------------------------------------------------------------------------
# 7. The error model
# --------------------------------------------------------------------------------------------


def test_error_from_dict() -> None:
    error = Error.from_dict({"code": "InvalidInput", "message": "m", "details": "d"})
    assert isinstance(error, Error)
    assert error.code == "InvalidInput"
    assert error.message == "m"
    assert error.details == "d"
    assert error.to_dict() == {"code": "InvalidInput", "message": "m", "details": "d"}


def test_error_details_is_optional_and_errors_list_parses() -> None:
    error = Error.from_dict({"code": "NotFound", "message": "missing"})
    assert error.details is None
    assert error.to_dict() == {"code": "NotFound", "message": "missing"}
    body = {
        "errors": [
            {"code": "InvalidInput", "message": "bad", "details": ""},
            {"code": "QuotaExceeded", "message": "slow down"},
        ]
    }
    response = GetAttributesResponse.from_json(json.dumps(body))
    assert response.errors is not None
    assert [e.code for e in response.errors] == ["InvalidInput", "QuotaExceeded"]
    assert response.errors[0].details == ""
    assert response.errors[1].details is None
    assert response.buyer is None
    assert response.to_dict() == body


def test_error_rejects_non_string_code() -> None:
    with pytest.raises(ValidationError) as exc:
        Error.from_dict({"code": 400, "message": "m"})
    assert _error_types(exc) == [(("code",), "string_type")]
