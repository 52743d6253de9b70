"""Renders the Markdown reference: one page for the API class, one per model."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Set

from py_sp_api.codegen.ir import ApiDef, ModelDef, OperationDef, ParamDef
from py_sp_api.codegen.render_python import removal_note

EXAMPLE_ORDER_ID = "123-1234567-1234567"
EXAMPLE_MARKETPLACE = "ATVPDKIKX0DER"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_api_doc(api_package: str, api: ApiDef, header: str, models_dir: str = "models") -> str:
    models = {m.name: m for m in api.models}
    out: List[str] = [
        header,
        f"# {api_package}.{api.class_name}",
        "",
        f"All paths are relative to the configured host (default *{api.host}*).",
        "",
        "Method | HTTP request | Rate (req/s) | Burst | Description",
        "------ | ------------ | ------------ | ----- | -----------",
    ]
    for op in api.operations:
        summary = _cell(op.description.split("**Usage Plan:**")[0]).split(". ")[0].rstrip(".")
        marker = "" if op.rate_documented else " *"
        if op.removed:
            summary = f"**Removed by Amazon {op.removed.removed_on}.** {summary}"
        out.append(
            f"[**{op.python_name}**](#{op.python_name}) | **{op.method}** {op.path} | "
            f"{op.rate:g}{marker} | {op.burst}{marker} | {summary}"
        )
    if any(not op.rate_documented for op in api.operations):
        out += [
            "",
            "\\* Amazon's model gives no usage plan for this operation; the value is the API's "
            "default and is marked `documented=False` in code.",
        ]
    out += [
        "",
        "Read a usage plan from code, e.g. to size a worker pool:",
        "",
        "```python",
        f"from {api_package} import {api.class_name}",
        "",
        f'plan = {api.class_name}.rate_limit("{api.operations[0].python_name}")',
        "print(plan.rate, plan.burst, plan.documented)",
        "```",
        "",
    ]
    for op in api.operations:
        out += _render_operation(api_package, api, op, models, models_dir)
    return "\n".join(out)


def _render_operation(
    api_package: str,
    api: ApiDef,
    op: OperationDef,
    models: Dict[str, ModelDef],
    models_dir: str,
) -> List[str]:
    """The operation's section: what it does, an example, parameters, answers."""
    args = [p.python_name for p in op.params if p.required] + (["body"] if op.body else [])
    # Optional parameters are keyword-only in the generated methods.
    args += [f"{p.python_name}={p.python_name}" for p in op.params if not p.required]
    return [
        *_operation_summary(api, op, args),
        *_operation_example(api_package, api, op, models, args),
        *_parameters_table(op, models_dir),
        *_return_type_and_headers(op, models_dir),
        *_responses_table(op),
        "",
        "[[Back to top]](#)",
        "",
    ]


def _operation_summary(api: ApiDef, op: OperationDef, args: List[str]) -> List[str]:
    description = op.description.split("**Usage Plan:**")[0].strip()
    rate_note = "" if op.rate_documented else " (not documented by Amazon; the API's default)"
    return [
        f"## {op.python_name}",
        "",
        f"> {op.response_model} {op.python_name}({', '.join(args)})",
        "",
        *([f"**{removal_note(op)}**", ""] if op.removed else []),
        " ".join(description.split()),
        "",
        f"**Usage plan:** {op.rate:g} request(s) per second, burst {op.burst}{rate_note}. "
        f'In code: `{api.class_name}.rate_limit("{op.python_name}")`. The '
        "`x-amzn-RateLimit-Limit` response header states the rate Amazon applies to your "
        "account when it differs.",
        "",
    ]


def _operation_example(
    api_package: str,
    api: ApiDef,
    op: OperationDef,
    models: Dict[str, ModelDef],
    args: List[str],
) -> List[str]:
    """A runnable call: the imports, a client, example arguments (and body), the error path."""
    imports = sorted({m for m in [op.body_model, op.response_model] if m})
    if op.body_model:
        imports += sorted(_nested_models(models[op.body_model], models) - set(imports))
    arguments = [
        f"    {p.python_name} = {_example_argument(p)!r}  # {p.description.split('. ')[0]}"
        for p in op.params
    ]
    if op.body_model:
        body = _construct(models[op.body_model], op.example_body or {}, models)
        arguments.append(f"    body = {body}")
    return [
        "### Example",
        "",
        "```python",
        f"import {api_package}",
        *[f"from {api_package}.models.{models[name].module} import {name}" for name in imports],
        f"from {api_package}.rest import ApiException",
        "",
        f'configuration = {api_package}.Configuration(host="{api.host}")',
        "",
        f"with {api_package}.ApiClient(configuration) as api_client:",
        f"    api = {api_package}.{api.class_name}(api_client)",
        *arguments,
        "    try:",
        f"        result = api.{op.python_name}({', '.join(args)})",
        "        print(result)",
        "    except ApiException as e:",
        '        print(f"{e.status} {e.reason}, request id {e.request_id}: {e.errors}")',
        "```",
        "",
    ]


def _parameters_table(op: OperationDef, models_dir: str) -> List[str]:
    out = [
        "### Parameters",
        "",
        "Name | Type | Description | Notes",
        "---- | ---- | ----------- | -----",
    ]
    for p in op.params:
        notes = ["required" if p.required else "optional", p.location]
        if p.max_items is not None:
            notes.append(f"at most {p.max_items} item(s)")
        out.append(
            f"**{p.python_name}** | **{p.doc_type}** | {_cell(p.description)} | {', '.join(notes)}"
        )
    if op.body:
        out.append(
            f"**body** | [**{op.body.doc_type}**]({models_dir}/{op.body.doc_type}.md) | "
            f"{_cell(op.body.description)} | {'required' if op.body.required else 'optional'}"
        )
    return [
        *out,
        "**_request_timeout** | float or (connect, read) | Overrides the configured timeout for this call. | optional, keyword",
        "**_headers** | Mapping[str, str] | Extra headers for this call. | optional, keyword",
        "",
    ]


def _return_type_and_headers(op: OperationDef, models_dir: str) -> List[str]:
    return [
        "### Return type",
        "",
        f"[**{op.response_model}**]({models_dir}/{op.response_model}.md); "
        f"`{op.python_name}_with_http_info` returns `ApiResponse[{op.response_model}]`, "
        f"`{op.python_name}_without_preload_content` the unread urllib3 response.",
        "",
        "### HTTP request headers",
        "",
        f"- **Content-Type**: {op.consumes if op.body else 'none (no body)'}",
        f"- **Accept**: {op.produces}",
        "",
    ]


def _responses_table(op: OperationDef) -> List[str]:
    out = [
        "### HTTP responses",
        "",
        "Status | Meaning | Response headers | Raised as",
        "------ | ------- | ---------------- | ---------",
    ]
    for resp in op.responses:
        headers = "<br>".join(f"`{h}`: {_cell(d)}" for h, d in resp.headers)
        out.append(
            f"**{resp.status}** | {_cell(resp.description)} | {headers} | {_raised_as(resp.status)}"
        )
    return out


_EXAMPLE_VALUES: Dict[str, Any] = {
    "integer": 10, "number": 1.5, "boolean": True,
    "date-time": "2024-05-01T10:00:00Z", "date": "2024-05-01",
}  # fmt: skip


def _example_argument(param: ParamDef) -> Any:
    if param.is_array:
        return [EXAMPLE_MARKETPLACE] if param.kind == "string" else [_EXAMPLE_VALUES[param.kind]]
    return _EXAMPLE_VALUES.get(param.kind, EXAMPLE_ORDER_ID)


def _raised_as(status: str) -> str:
    names = {
        "400": "BadRequestException", "401": "UnauthorizedException",
        "403": "ForbiddenException", "404": "NotFoundException", "409": "ConflictException",
        "413": "PayloadTooLargeException", "415": "UnsupportedMediaTypeException",
        "422": "UnprocessableEntityException", "429": "TooManyRequestsException",
    }  # fmt: skip
    if status.startswith("2"):
        return "returned"
    if status.startswith("5"):
        return "ServiceException"
    return names.get(status, "ApiException")


def _nested_models(model: ModelDef, models: Dict[str, ModelDef]) -> Set[str]:
    found: Set[str] = set()
    todo = list(model.model_imports)
    while todo:  # models may refer to themselves or each other
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(models[name].model_imports)
    return found


def _construct(model: ModelDef, value: Dict[str, Any], models: Dict[str, ModelDef]) -> str:
    args = []
    for f in model.fields:
        if f.wire_name not in value:
            continue
        args.append(f"{f.name}={_value(f.type_expr, value[f.wire_name], models)}")
    return f"{model.name}({', '.join(args)})"


def _value(type_expr: str, value: Any, models: Dict[str, ModelDef]) -> str:
    if type_expr.startswith("List[") and isinstance(value, list):
        inner = type_expr[5:-1]
        return "[" + ", ".join(_value(inner, v, models) for v in value) + "]"
    if type_expr in models and isinstance(value, dict):
        return _construct(models[type_expr], value, models)
    return repr(value)


def render_model_doc(
    api_package: str,
    class_name: str,
    model: ModelDef,
    models: Dict[str, ModelDef],
    header: str,
    models_dir: str = "models",
) -> str:
    to_docs = "../" * (models_dir.count("/") + 1)
    example = json.dumps(_example(model, models), separators=(",", ":"))
    out = [
        header,
        f"# {model.name}",
        "",
        " ".join(model.description.split()) or model.name,
        "",
        *_properties_table(model),
        "",
        "Fields not listed here (added by Amazon later) are kept on parse and sent back by "
        "`to_dict()` / `to_json()`.",
        "",
        "## Example",
        "",
        "```python",
        f"from {api_package}.models.{model.module} import {model.name}",
        "",
        f"instance = {model.name}.from_json({example!r})",
        "print(instance.to_json())",
        f"assert {model.name}.from_dict(instance.to_dict()) == instance",
        "```",
        "",
        f"[[Back to API]]({to_docs}{class_name}.md)",
        "",
    ]
    return "\n".join(out)


def _properties_table(model: ModelDef) -> List[str]:
    out = [
        "## Properties",
        "",
        "Name | Wire name | Type | Description | Notes",
        "---- | --------- | ---- | ----------- | -----",
    ]
    for f in model.fields:
        type_cell = f"[**{f.doc_type}**]({f.doc_link}.md)" if f.doc_link else f"**{f.doc_type}**"
        notes = ["required" if f.required else "optional"]
        if "min_length" in f.constraints:
            notes.append(f"min {f.constraints['min_length']}")
        if "max_length" in f.constraints:
            notes.append(f"max {f.constraints['max_length']}")
        out.append(
            f"**{f.name}** | `{f.wire_name}` | {type_cell} | {_cell(f.description)} | "
            f"{', '.join(notes)}"
        )
    return out


def _example(model: ModelDef, models: Dict[str, ModelDef], depth: int = 0) -> Dict[str, Any]:
    """A minimal valid document: the required fields, with placeholder values."""
    out: Dict[str, Any] = {}
    for f in model.fields:
        if f.required and depth < 20:  # a model that requires itself has no finite example
            out[f.wire_name] = _example_value(f.type_expr, models, depth + 1)
    return out


def _example_value(type_expr: str, models: Dict[str, ModelDef], depth: int = 0) -> Any:
    if type_expr.startswith("List["):
        return [_example_value(type_expr[5:-1], models, depth)]
    if type_expr in models:
        return _example(models[type_expr], models, depth)
    if type_expr == "AwareDateTime":
        return "2024-05-01T10:00:00Z"
    return {"str": "example", "int": 1, "float": 1.0, "bool": True}.get(type_expr, {})
