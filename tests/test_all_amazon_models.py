"""The generator handles every one of Amazon's models, and each generated client talks as Amazon's
sandbox expects.

Each model in ``../shared/spec/sp-api-models`` (Amazon's 66, see its README for the upstream
commit) is generated into one temporary directory, every generated module is imported, and every
static sandbox case (``x-amzn-api-sandbox``) is replayed through the generated client against a
local server (tests/support/sandbox_replay.py) that checks the request against the case, worked
out from the spec, and answers with the case's response: a 2xx answer must parse into the
declared model, any other status must raise the typed exception for it.

The cases that cannot pass as Amazon wrote them are listed in ``EXCLUDED`` with the reason; the
test fails if an excluded case starts passing, so the list cannot go stale.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
from pydantic import BaseModel

from py_sp_api.codegen import render_docs
from py_sp_api.codegen.generate import generate_package, package_name, repo_root, write_files
from py_sp_api.codegen.ir import SpecReader
from py_sp_api.runtime.exceptions import (
    ApiException,
    ApiResponseError,
    ApiTypeError,
    ApiValueError,
)
from tests.support.sandbox_replay import (
    Case,
    ReplayServer,
    cases,
    check_request,
    split_arguments,
)

MODELS_DIR = repo_root().parent / "shared" / "spec" / "sp-api-models"
MODEL_FILES = sorted(MODELS_DIR.glob("*/*.json")) if MODELS_DIR.is_dir() else []
MODEL_COUNT = 66

# Why a case cannot be replayed as Amazon wrote it. Each is a fault of the case, not the client.
NO_VALUE = (
    "a parameter is given without the sandbox format's 'value' wrapper, so the request the "
    "case stands for is unknown"
)
REQUEST_BREAKS_SCHEMA = (
    "the case's request body lacks fields its own schema requires; the client refuses it "
    "before sending (ApiValueError), as it must"
)
NOT_A_MARKETPLACE = (
    "the case's marketplace id ('marketplaceIdCase200' and the like) cannot be one; the client "
    "refuses it before sending (ApiValueError)"
)
RESPONSE_LACKS_REQUIRED = "the case's response lacks fields its own schema requires"
DATE_NO_OFFSET = (
    "the case's response has a date-time without time or offset ('2025-01-12') where its "
    "schema says format date-time"
)
DATE_NOT_ISO = (
    "the case's response has a date-time that is not ISO 8601 ('Mon Oct 28 18:49:32 UTC 2019')"
)
NONEXISTENT_DATE = "the case's response has a date that does not exist ('2024-02-30')"

# Case id (model file:operationId#index, counted across the operation's statuses) -> reason.
EXCLUDED: Dict[str, str] = {
    "easyShip_2022-03-23.json:createScheduledPackage#0": NO_VALUE,
    "easyShip_2022-03-23.json:listHandoverSlots#0": NO_VALUE,
    "easyShip_2022-03-23.json:updateScheduledPackages#0": NO_VALUE,
    "listingsItems_2020-09-01.json:patchListingsItem#0": NO_VALUE,
    "listingsItems_2020-09-01.json:putListingsItem#0": NO_VALUE,
    "listingsItems_2021-08-01.json:getListingsItem#0": NO_VALUE,
    "listingsItems_2021-08-01.json:patchListingsItem#0": NO_VALUE,
    "listingsItems_2021-08-01.json:putListingsItem#0": NO_VALUE,
    "listingsRestrictions_2021-08-01.json:getListingsRestrictions#0": NO_VALUE,
    "vendorDirectFulfillmentInventoryV1.json:submitInventoryUpdate#1": NO_VALUE,
    "vendorDirectFulfillmentOrdersV1.json:submitAcknowledgement#1": NO_VALUE,
    "vendorDirectFulfillmentPaymentsV1.json:submitInvoice#1": NO_VALUE,
    "vendorDirectFulfillmentShippingV1.json:submitShipmentConfirmations#1": NO_VALUE,
    "vendorDirectFulfillmentShippingV1.json:submitShipmentStatusUpdates#1": NO_VALUE,
    "vendorOrders.json:submitAcknowledgement#1": NO_VALUE,
    "vendorShipments.json:SubmitShipmentConfirmations#1": NO_VALUE,
    "externalFulfillmentShipments_2024-09-11.json:createPackages#0": REQUEST_BREAKS_SCHEMA,
    "externalFulfillmentShipments_2024-09-11.json:createPackages#1": REQUEST_BREAKS_SCHEMA,
    "externalFulfillmentShipments_2024-09-11.json:updatePackage#0": REQUEST_BREAKS_SCHEMA,
    "externalFulfillmentShipments_2024-09-11.json:updatePackage#1": REQUEST_BREAKS_SCHEMA,
    "sellerWallet_2024-03-01.json:createTransferSchedule#7": REQUEST_BREAKS_SCHEMA,
    "shipping.json:createShipment#0": REQUEST_BREAKS_SCHEMA,
    "shipping.json:createShipment#6": REQUEST_BREAKS_SCHEMA,
    "shipping.json:createShipment#7": REQUEST_BREAKS_SCHEMA,
    "shipping.json:purchaseShipment#0": REQUEST_BREAKS_SCHEMA,
    "vendorDirectFulfillmentShippingV1.json:submitShipmentStatusUpdates#0": REQUEST_BREAKS_SCHEMA,
    "sellerWallet_2024-03-01.json:listAccounts#0": NOT_A_MARKETPLACE,
    "sellerWallet_2024-03-01.json:listAccounts#6": NOT_A_MARKETPLACE,
    "sellerWallet_2024-03-01.json:listAccounts#7": NOT_A_MARKETPLACE,
    "fulfillmentInboundV0.json:getShipments#0": RESPONSE_LACKS_REQUIRED,
    "sellers.json:getAccount#0": RESPONSE_LACKS_REQUIRED,
    "shipping.json:getShipment#0": RESPONSE_LACKS_REQUIRED,
    "supplySources_2020-07-01.json:getSupplySource#0": RESPONSE_LACKS_REQUIRED,
    "supplySources_2020-07-01.json:getSupplySources#0": RESPONSE_LACKS_REQUIRED,
    "vendorOrders.json:getPurchaseOrder#1": RESPONSE_LACKS_REQUIRED,
    "vendorOrders.json:getPurchaseOrders#6": RESPONSE_LACKS_REQUIRED,
    "finances_2024-06-19.json:listBalances#1": DATE_NO_OFFSET,
    "finances_2024-06-19.json:listSummary#0": DATE_NO_OFFSET,
    "productFeesV0.json:getMyFeesEstimateForASIN#0": DATE_NOT_ISO,
    "productFeesV0.json:getMyFeesEstimateForSKU#0": DATE_NOT_ISO,
    "productFeesV0.json:getMyFeesEstimates#0": DATE_NOT_ISO,
    "customerFeedback_2024-06-01.json:getItemReviewTrends#0": NONEXISTENT_DATE,
}

# What an excluded case's failure must say: one that fails for another reason is a failure.
SYMPTOMS: Dict[str, Tuple[str, ...]] = {
    NO_VALUE: ("has no 'value'",),
    REQUEST_BREAKS_SCHEMA: ("refused before sending: ApiValueError: invalid ", "Field required"),
    NOT_A_MARKETPLACE: ("refused before sending: ApiValueError: marketplace_id", "cannot be one"),
    RESPONSE_LACKS_REQUIRED: ("answer does not parse", "'type': 'missing'"),
    DATE_NO_OFFSET: ("answer does not parse", "must carry a timezone offset"),
    DATE_NOT_ISO: ("answer does not parse", "not an ISO 8601 date-time"),
    NONEXISTENT_DATE: ("answer does not parse", "not an ISO 8601 date"),
}


def fails_for_its_reason(reason: str, problem: str) -> bool:
    return all(symptom in problem for symptom in SYMPTOMS[reason])


pytestmark = pytest.mark.skipif(
    not MODEL_FILES,
    reason=f"Amazon's models are not beside the repository ({MODELS_DIR} is absent)",
)

TALLY: Counter[str] = Counter()
REFUSALS: List[str] = []
REPLAYED = "replayed: request matched, answer parsed (or raised as its typed exception)"
REFUSED = "refused before sending with a typed error (bad input; Amazon's sandbox answers 4xx)"
# The tally over all 66 models at the upstream commit named in the models' README. A change to
# the generator or the runtime that moves cases from replayed to refused (a check grown too
# strict, say) would otherwise pass: each refusal only has to name a value its case gives.
EXPECTED_TALLY = {REPLAYED: 787, REFUSED: 84}
MODELS_REPLAYED: Set[str] = set()


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every model generated into one directory, which is put on ``sys.path``."""
    out = tmp_path_factory.mktemp("amazon_models")
    for spec in MODEL_FILES:
        write_files(generate_package(spec), out)
    sys.path.insert(0, str(out))
    try:
        yield out
    finally:
        sys.path.remove(str(out))


@pytest.fixture(scope="session")
def replay_server() -> Iterator[ReplayServer]:
    server = ReplayServer()
    try:
        yield server
    finally:
        server.stop()
    assert server.errors == [], "the replay server itself failed"


def test_every_model_is_there() -> None:
    assert len(MODEL_FILES) == MODEL_COUNT, [p.name for p in MODEL_FILES]


@pytest.mark.parametrize("spec_file", MODEL_FILES, ids=lambda p: p.stem)
def test_model_generates_imports_and_replays_its_sandbox(
    spec_file: Path, generated: Path, replay_server: ReplayServer
) -> None:
    package = package_name(spec_file)
    modules = _import_everything(generated, package)
    assert modules, package
    operations = importlib.import_module(f"{package}.operations").OPERATIONS
    by_route = routes(operations)
    api_module = importlib.import_module(package)
    api_class = getattr(api_module, next(n for n in api_module.__all__ if n.endswith("Api")))
    client_module = importlib.import_module(f"{package}.api_client")
    config_module = importlib.import_module(f"{package}.configuration")
    configuration = config_module.Configuration(
        host=replay_server.url, rate_limiting=False, retry=_no_retries()
    )
    failures: List[str] = []
    still_passing: List[str] = []
    spec = json.loads(spec_file.read_bytes())
    DEFINITIONS[spec_file.name] = spec.get("definitions", {})
    with client_module.ApiClient(configuration) as client:
        api = api_class(client)
        for case in cases(spec, spec_file.name):
            TALLY["cases"] += 1
            outcome, problem = (
                ("", case.problem)
                if case.problem
                else _replay(case, api, by_route, replay_server, package)
            )
            if case.id in EXCLUDED:
                TALLY[f"excluded: {EXCLUDED[case.id]}"] += 1
                if problem is None:
                    still_passing.append(case.id)
                elif not fails_for_its_reason(EXCLUDED[case.id], problem):
                    failures.append(
                        f"{case.id} (excluded: {EXCLUDED[case.id]}) fails otherwise: {problem}"
                    )
            elif problem is not None:
                failures.append(f"{case.id} ({case.status}): {problem}")
            else:
                TALLY[outcome] += 1
    assert failures == [], "\n".join(failures)
    assert still_passing == [], "excluded, yet they pass: remove them from EXCLUDED"
    MODELS_REPLAYED.add(spec_file.name)


def test_reference_pages_render_for_every_model() -> None:
    # Only the shipped APIs get pages, but any model may become one: none may fail to render.
    for spec_file in MODEL_FILES:
        spec = json.loads(spec_file.read_bytes())
        api = SpecReader(spec, "SomeApi", (1.0, 5)).read()
        models = {model.name: model for model in api.models}
        page = render_docs.render_api_doc("pkg", api, "<!-- -->", "some/models")
        assert all(f"## {op.python_name}" in page for op in api.operations), spec_file.name
        for model in api.models:
            assert render_docs.render_model_doc(
                "pkg", "SomeApi", model, models, "<!-- -->", "some/models"
            ).startswith("<!-- -->")


def routes(operations: Dict[str, Any]) -> Dict[Tuple[str, str], Tuple[str, Any]]:
    """``(method, path) -> (method name, Operation)``: operation ids repeat even within one
    model (shippingV2's linkCarrierAccount is a PUT and a POST), routes do not."""
    return {(op.method, op.path): (name, op) for name, op in operations.items()}


def _no_retries() -> Any:
    from py_sp_api.runtime.retry import RetryPolicy

    return RetryPolicy(max_attempts=1)


def _import_everything(root: Path, package: str) -> List[str]:
    names = sorted(
        ".".join(path.relative_to(root).with_suffix("").parts).replace(".__init__", "")
        for path in (root / package).rglob("*.py")
    )
    for name in names:
        module = importlib.import_module(name)
        for exported in getattr(module, "__all__", []):
            value = getattr(module, exported)
            # Building each model's validator resolves every forward reference it holds.
            if isinstance(value, type) and issubclass(value, BaseModel):
                value.model_rebuild()
                value.__pydantic_validator__.validate_python  # noqa: B018
    return names


def _replay(
    case: Case,
    api: Any,
    by_route: Dict[Tuple[str, str], Tuple[str, Any]],
    server: ReplayServer,
    package: str,
) -> Tuple[str, Any]:
    """``(outcome, None)`` when the case replays as Amazon's sandbox would; else the problem."""
    name, operation = by_route[(case.method, case.path)]
    python_names = {("path", p.name): p.python_name for p in operation.path_params}
    python_names.update({("query", p.name): p.python_name for p in operation.query_params})
    python_names.update({("header", p.name): p.python_name for p in operation.header_params})
    kwargs, body = split_arguments(case, python_names, DEFINITIONS[case.model])
    if operation.body is not None:
        kwargs["body"] = body
    method = getattr(api, f"{name}_with_http_info")
    expected = server.expect(case)
    try:
        response = method(**kwargs)
    except (ApiTypeError, ApiValueError) as exc:
        if (
            400 <= case.status <= 499
            and expected.received == 0
            and refuses_what_the_case_gives(case, python_names, str(exc))
        ):
            # The case sends bad input to show Amazon's 400; the client refuses it before
            # sending, as it must, with a typed error.
            REFUSALS.append(f"{case.id}: {exc}")
            return REFUSED, None
        return "", f"refused before sending: {type(exc).__name__}: {str(exc)[:300]}"
    except TypeError as exc:
        return "", f"cannot call: {exc}"
    except ApiResponseError as exc:
        return "", f"{case.status} answer does not parse: {str(exc)[:300]}"
    except ApiException as exc:
        if 200 <= case.status <= 299:
            return "", f"{type(exc).__name__} for a {case.status}: {str(exc)[:300]}"
        if exc.status != case.status:
            return "", f"status {exc.status}, expected {case.status}"
        return REPLAYED, _checked(expected, _error_model_problem(case, package))
    if not 200 <= case.status <= 299:
        return "", f"returned for a {case.status}"
    if operation.response is None or case.status in operation.bodiless_statuses:
        if response.data is not None:
            return "", f"data {response.data!r} for an answer without a body"
    elif not isinstance(response.data, operation.response_model):
        return "", f"data is a {type(response.data).__name__}"
    return REPLAYED, _checked(expected, None)


def refuses_what_the_case_gives(
    case: Case, python_names: Dict[Tuple[str, str], str], message: str
) -> bool:
    """Whether a refusal names a value the case gives, not a placeholder the harness chose."""
    given = [
        python_names[(place, name)]
        for (place, name) in python_names
        if name in case.parameters and case.parameters[name] is not None
    ]
    if any(message.startswith((f"{name} ", f"{name}:")) for name in given):
        return True
    body_given = any(
        param["in"] == "body" and param["name"] in case.parameters for param in case.spec_parameters
    )
    return body_given and message.startswith("invalid ")


def _checked(expected: Any, problem: Any) -> Any:
    if expected.received != 1:
        return f"{expected.received} requests reached the server"
    if expected.mismatches:
        return "; ".join(expected.mismatches)
    return problem


def _error_model_problem(case: Case, package: str) -> Any:
    """An error answer's body parses into the model its status declares, when it has one."""
    spec = json.loads((MODEL_FILES_BY_NAME[case.model]).read_bytes())
    response = spec["paths"][case.path][case.method.lower()]["responses"][str(case.status)]
    ref = response.get("schema", {}).get("$ref", "")
    models = importlib.import_module(f"{package}.models")
    model = getattr(models, ref.rsplit("/", 1)[-1], None) if ref else None
    if model is None or case.response is None:
        return None
    try:
        model.model_validate(case.response)
    except Exception as exc:
        return f"the {case.status} body is not a {model.__name__}: {str(exc)[:300]}"
    return None


MODEL_FILES_BY_NAME = {path.name: path for path in MODEL_FILES}
DEFINITIONS: Dict[str, Dict[str, Any]] = {}


def test_an_excluded_case_failing_for_another_reason_is_not_excused() -> None:
    reason = "shipping.json:createShipment#0"
    assert fails_for_its_reason(
        EXCLUDED[reason],
        "refused before sending: ApiValueError: invalid CreateShipmentRequest: 3 validation "
        "errors for CreateShipmentRequest\nshipTo\n  Field required [type=missing]",
    )
    # The same case refused for its path, or answered with a parse error: a client bug.
    assert not fails_for_its_reason(
        EXCLUDED[reason], "refused before sending: ApiValueError: order_id must not be empty"
    )
    assert not fails_for_its_reason(EXCLUDED[reason], "cannot call: unexpected keyword 'body'")
    assert not fails_for_its_reason(
        EXCLUDED["sellers.json:getAccount#0"], "path /sellers/v1/x, expected /sellers/v1/account"
    )


def test_a_refusal_of_a_value_the_case_does_not_give_is_not_excused() -> None:
    spec_parameters = [
        {"name": "orderId", "in": "path", "required": True, "type": "string"},
        {"name": "marketplaceIds", "in": "query", "required": True, "type": "array"},
    ]
    case = Case(
        "m.json", "getX", "GET", "/x/{orderId}", 1, 400, {"orderId": " "}, spec_parameters, {}
    )
    names = {("path", "orderId"): "order_id", ("query", "marketplaceIds"): "marketplace_ids"}
    assert refuses_what_the_case_gives(case, names, "order_id must not be empty")
    # marketplace_ids was the harness's placeholder: refusing it is the client's fault.
    assert not refuses_what_the_case_gives(case, names, "marketplace_ids: 'X' cannot be one")
    assert not refuses_what_the_case_gives(case, names, "invalid GetXRequest: ...")


def test_a_case_is_replayed_through_the_operation_of_its_own_route(generated: Path) -> None:
    operations = importlib.import_module("shipping_v2.operations").OPERATIONS
    route = "/shipping/v2/carrierAccounts/{carrierId}"
    found = routes(operations)
    assert found[("PUT", route)][0] == "link_carrier_account"
    assert found[("POST", route)][0] == "link_carrier_account_"


def test_every_parameter_a_case_names_is_replayed() -> None:
    # A name the harness does not match to a spec parameter would be neither sent nor checked:
    # the case would pass with a placeholder in its place.
    ignored = []
    for spec_file in MODEL_FILES:
        for case in cases(json.loads(spec_file.read_bytes()), spec_file.name):
            declared = {param["name"] for param in case.spec_parameters}
            ignored += [f"{case.id}: {name}" for name in case.parameters if name not in declared]
    assert ignored == []


def test_a_path_value_sent_unencoded_is_a_mismatch() -> None:
    # "a/b" as one segment is "a%2Fb"; sent as "a/b" it names another resource. Comparing
    # decoded paths would not see the difference.
    spec_parameters = [{"name": "id", "in": "path", "required": True, "type": "string"}]
    case = Case("m.json", "getX", "GET", "/x/{id}", 0, 200, {"id": "a/b"}, spec_parameters, {})
    sent = SimpleNamespace(command="GET", path="/x/a/b", headers={})
    assert any(problem.startswith("path") for problem in check_request(case, sent, b""))  # type: ignore[arg-type]
    sent.path = "/x/a%2Fb"
    assert check_request(case, sent, b"") == []  # type: ignore[arg-type]


def test_zz_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the counts (run with -s to see them); runs last in this file."""
    if not TALLY:
        pytest.skip("the per-model tests did not run")
    with capsys.disabled():
        for key, count in sorted(TALLY.items()):
            print(f"sandbox cases, {key}: {count}")
    settled = sum(count for key, count in TALLY.items() if key != "cases")
    assert settled == TALLY["cases"]
    if len(MODELS_REPLAYED) == MODEL_COUNT:  # not when a -k selection ran some models only
        assert {key: TALLY[key] for key in EXPECTED_TALLY} == EXPECTED_TALLY
