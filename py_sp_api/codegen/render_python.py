"""Renders the Python modules of a generated API package."""

from __future__ import annotations

import re
import textwrap
from typing import Dict, List

from py_sp_api.codegen.ir import (
    ApiDef,
    FieldDef,
    ModelDef,
    OperationDef,
    ParamDef,
    module_name,
    snake_case,
)
from py_sp_api.runtime import exceptions as runtime_exceptions

# Modules that only re-export the hand-written runtime, so the import paths documented for
# the generated client (``<package>.rest``, ``<package>.configuration``...) keep working.
_RUNTIME_SHIMS: Dict[str, List[str]] = {
    "api_client": ["ApiClient"],
    "api_response": ["ApiResponse"],
    "configuration": ["Configuration"],
    # Every exception of the runtime: a new one is re-exported on the next generation.
    "exceptions": sorted(runtime_exceptions.__all__),
    "rest": ["ApiException", "RESTClientObject", "RESTResponse"],
}


def _q(text: str) -> str:
    """A string literal (ruff format then picks its quotes)."""
    return repr(text)


def _import(module: str, names: List[str], indent: str = "", reexport: bool = False) -> List[str]:
    """``from module import names`` on one line (ruff format wraps it), or nothing."""
    if not names:
        return []
    items = [f"{n} as {n}" if reexport else n for n in names]
    return [f"{indent}from {module} import {', '.join(items)}"]


def _sorted_imports(names: Dict[str, List[str]], indent: str = "") -> List[str]:
    """One ``from ... import`` per module, in module order, as isort sorts them: a --spec
    package such as ``replenishment_2022_11_07`` comes after ``py_sp_api``."""
    return [line for module in sorted(names) for line in _import(module, names[module], indent)]


def _tuple(items: List[str]) -> str:
    """A tuple display; two items or more keep a trailing comma, so ruff puts one per line."""
    return "(" + "".join(f"{item}, " for item in items).rstrip() + ")"


def _doc(text: str, indent: str = "") -> str:
    """A docstring body, wrapped, with characters that would end the string escaped."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    wrapped = [
        textwrap.fill(
            " ".join(p.split()),
            width=96 - len(indent),
            break_long_words=False,
            break_on_hyphens=False,  # a hyphen inside a URL is not a place to break it
        )
        for p in paragraphs
    ]
    body = "\n\n".join(wrapped) or "(No description in the spec.)"
    return textwrap.indent(body, indent).lstrip()


_TYPING = re.compile(r"\b(Any|Dict|List)\b")  # not the "List" of a model named ListOffers


def render_model(api_package: str, model: ModelDef, header: str) -> str:
    typing_names = {"Optional"} if any(not f.required for f in model.fields) else set()
    for type_expr in [f.type_expr for f in model.fields] + [model.root_type or ""]:
        typing_names.update(_TYPING.findall(type_expr))
    lines = [header, f'"""{_doc(model.description or model.name)}"""', ""]
    if model.postponed:
        # The model refers to itself or to models that refer back: names resolve on first use.
        lines += ["from __future__ import annotations", ""]
    if typing_names:
        lines.append(f"from typing import {', '.join(sorted(typing_names))}")
        lines.append("")
    lines.append(
        "from pydantic import RootModel" if model.root_type else "from pydantic import Field"
    )
    lines.append("")
    base = "SpApiRequestModel" if model.request_only else "SpApiModel"
    runtime_names = ([] if model.root_type else [base]) + (
        ["AwareDateTime"] if model.uses_datetime else []
    )
    imported = model.model_imports - model.deferred_imports - {model.name}
    modules = {f"{api_package}.models.{_module(dep)}": [dep] for dep in imported}
    if runtime_names:
        modules["py_sp_api.runtime.model"] = sorted(runtime_names)
    for module in sorted(modules):
        lines.extend(_import(module, modules[module]))
    declaration = f"RootModel[{model.root_type}]" if model.root_type else base
    lines += [
        "",
        "",
        f"class {model.name}({declaration}):",
        f'    """{_doc(model.description or model.name, "    ")}"""',
        "",
    ]
    for f in model.fields:
        lines.append(_render_field(f))
    if model.deferred_imports:
        lines += ["", "", "# Last: these models import this one too (the imports form a cycle)."]
        for dep in sorted(model.deferred_imports):
            lines.extend(_import(f"{api_package}.models.{_module(dep)}", [dep]))
        lines.append("")  # one blank line after a module's last imports, as isort has it
    else:
        lines += ["", ""]
    lines += [f'__all__ = ["{model.name}"]', ""]
    return "\n".join(lines)


def _module(model_name: str) -> str:
    return module_name(model_name)


def _render_field(f: FieldDef) -> str:
    args: List[str] = [] if f.required else ["default=None"]
    if f.name != f.wire_name:
        args.append(f'alias="{f.wire_name}"')
    for key in ("min_length", "max_length", "pattern"):
        if key in f.constraints:
            value = f.constraints[key]
            args.append(f"{key}={_q(value) if isinstance(value, str) else value}")
    if f.description:
        args.append(f"description={_q(f.description)}")
    annotation = f.type_expr if f.required else f"Optional[{f.type_expr}]"
    return f"    {f.name}: {annotation} = Field({', '.join(args)})"


def render_models_init(api_package: str, api: ApiDef, header: str) -> str:
    exports = {model.name: f"{api_package}.models.{model.module}" for model in api.models}
    return _lazy_init(
        header, "Every model of the API, one module each, loaded on first use.", exports
    )


def _lazy_init(header: str, doc: str, exports: Dict[str, str]) -> str:
    """A package ``__init__`` exporting ``exports`` (name -> module), each imported on first use."""
    names = sorted(exports)
    by_module: Dict[str, List[str]] = {}
    for name in names:
        by_module.setdefault(exports[name], []).append(name)
    lines = [
        header,
        f'"""{_doc(doc)}"""',
        "",
        "from typing import TYPE_CHECKING, Dict",
        "",
        "from py_sp_api.runtime.lazy import lazy_attributes",
        "",
        "if TYPE_CHECKING:",
    ]
    for module in sorted(by_module):
        lines.extend(_import(module, by_module[module], indent="    ", reexport=True))
    lines += [
        "",
        "_EXPORTS: Dict[str, str] = {",
        *[f'    "{name}": "{exports[name]}",' for name in names],
        "}",
        "",
        "__all__ = [",
        *[f'    "{name}",' for name in names],
        "]",
        "",
        "if not TYPE_CHECKING:",
        "    # Hidden from type checkers: they would accept any name as Any through it.",
        "    __getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)",
        "",
    ]
    return "\n".join(lines)


def render_operations(api_package: str, api: ApiDef, header: str) -> str:
    models = sorted({op.response_model for op in api.operations if op.response_model})
    api_name = api_package.rsplit(".", 1)[-1]
    headers = any(p.location == "header" for op in api.operations for p in op.params)
    # Operation[Optional[X]] for an answer that has a body only sometimes (a 200 or a 204).
    optional = any(op.response_model and op.bodiless_statuses for op in api.operations)
    operation_names = _operation_imports(api)
    lines = [
        header,
        '"""The operations of the API: paths, parameters, models and usage plans.',
        "",
        "Models are named, not imported: each is loaded when its operation is first used.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from types import MappingProxyType",
        f"from typing import TYPE_CHECKING, Any, Mapping{', Optional' if optional else ''}",
        "",
        *(["from py_sp_api.runtime.header_params import HeaderParam"] if headers else []),
        *_import("py_sp_api.runtime.operation", operation_names),
        "",
        "if TYPE_CHECKING:",
        *(_import(f"{api_package}.models", models, indent="    ") or ["    pass"]),
        "",
        f'_MODELS = "{api_package}.models"',
        "",
    ]
    modules = {m.name: m.module for m in api.models}
    for i, op in enumerate(api.operations):
        lines += ([] if i == 0 else [""]) + _render_operation(op, modules, api_name) + [""]
    lines += [
        "OPERATIONS: Mapping[str, Operation[Any]] = MappingProxyType(",
        "    {",
        *[f"        {_q(op.python_name)}: {op.const_name}," for op in api.operations],
        "    }",
        ")",
        '"""Every operation, keyed by the method name on the API class."""',
        "",
        "RATE_LIMITS: Mapping[str, RateLimit] = MappingProxyType(",
        "    {name: operation.rate_limit for name, operation in OPERATIONS.items()}",
        ")",
        '"""Every operation\'s usage plan (rate in requests/second, burst), by method name."""',
        "",
    ]
    return "\n".join(lines)


def _operation_imports(api: ApiDef) -> List[str]:
    """The names operations.py takes from the runtime: only those its operations use."""
    locations = {p.location for op in api.operations for p in op.params}
    wanted = {
        "PathParam": "path" in locations,
        "QueryParam": "query" in locations,
        "RateLimit": True,
        "Removal": any(op.removed for op in api.operations),
    }
    return ["ModelRef", "Operation", *[name for name, used in wanted.items() if used]]


def _render_operation(op: OperationDef, modules: Dict[str, str], api_name: str) -> List[str]:
    """The ``Operation(...)`` constant that describes ``op`` to the runtime."""
    arguments = [
        f"name={_q(op.python_name)}",
        f"operation_id={_q(op.operation_id)}",
        f"method={_q(op.method)}",
        f"path={_q(op.path)}",
        *_parameter_arguments(op),
        *_message_arguments(op, modules),
        f"success_status={op.success_status}",
    ]
    if op.bodiless_statuses:
        arguments.append(f"bodiless_statuses={_tuple([str(s) for s in op.bodiless_statuses])}")
    arguments.append(
        f"rate_limit=RateLimit(rate={op.rate!r}, burst={op.burst}, documented={op.rate_documented})"
    )
    if op.removed:
        arguments.append(
            f"removed=Removal(removed_on={_q(op.removed.removed_on)}, "
            f"model_commit={_q(op.removed.model_commit)})"
        )
    arguments.append(f"api={_q(api_name)}")
    if not op.journaled:
        arguments.append("journaled=False")
    return [
        f"{op.const_name}: Operation[{_response_type(op)}] = Operation(",
        *[f"    {argument}," for argument in arguments],
        ")",
    ]


def _response_type(op: OperationDef) -> str:
    """What a call returns: the answer's model, Optional when some answers have no body."""
    if op.response_model is None:
        return "None"
    return f"Optional[{op.response_model}]" if op.bodiless_statuses else op.response_model


def _parameter_arguments(op: OperationDef) -> List[str]:
    path = [
        f"PathParam({_q(p.name)}, {_q(p.python_name)}{', greedy=True' if p.greedy else ''})"
        for p in op.params
        if p.location == "path"
    ]
    query = [_query_param(p) for p in op.params if p.location == "query"]
    header = [
        f"HeaderParam({_q(p.name)}, {_q(p.python_name)}, required={p.required})"
        for p in op.params
        if p.location == "header"
    ]
    arguments = [f"path_params={_tuple(path)}", f"query_params={_tuple(query)}"]
    return arguments + ([f"header_params={_tuple(header)}"] if header else [])


def _query_param(p: ParamDef) -> str:
    """``QueryParam(...)``, naming only what differs from its defaults."""
    extra = ""
    if p.is_array:
        extra += ", is_array=True"
    if p.min_items:
        extra += f", min_items={p.min_items}"
    if p.max_items is not None:
        extra += f", max_items={p.max_items}"
    if p.kind != "string":
        extra += f", kind={_q(p.kind)}"
    if p.collection != "csv":
        extra += f", collection={_q(p.collection)}"
    return f"QueryParam({_q(p.name)}, {_q(p.python_name)}, required={p.required}{extra})"


def _message_arguments(op: OperationDef, modules: Dict[str, str]) -> List[str]:
    """The models of the answer, the body and the errors, each named, not imported."""

    def ref(model: str) -> str:
        return f'ModelRef(f"{{_MODELS}}.{modules[model]}", "{model}")'

    arguments = [f"response={ref(op.response_model) if op.response_model else None}"]
    if op.body_model:
        arguments.append(f"body={ref(op.body_model)}")
        arguments.append(f"body_required={op.body is not None and op.body.required}")
    if op.error_model:
        arguments.append(f"error={ref(op.error_model)}")
    return arguments


def render_api(api_package: str, api: ApiDef, module_doc: str, header: str) -> str:
    models = sorted(
        {op.response_model for op in api.operations if op.response_model}
        | {op.body_model for op in api.operations if op.body_model}
    )
    kinds = {p.kind for op in api.operations for p in op.params}
    dates = [name for name, kind in (("date", "date"), ("datetime", "date-time")) if kind in kinds]
    typing_names = ["TYPE_CHECKING", "Any", "ClassVar", "Mapping", "Optional"]
    if any(p.is_array for op in api.operations for p in op.params):
        typing_names.append("Sequence")
    typing_names += ["Union"] if dates else []
    lines = [
        header,
        f'"""{_doc(module_doc)}"""',
        "",
        "from __future__ import annotations",
        "",
        f"from typing import {', '.join(typing_names)}",
        "",
        *_sorted_imports(
            {api_package: ["operations as _ops"], "py_sp_api.runtime.base_api": ["BaseApi"]}
        ),
        "",
        "if TYPE_CHECKING:",
        *([f"    from datetime import {', '.join(dates)}", ""] if dates else []),
        "    import urllib3",
        "",
        *_sorted_imports(
            {
                f"{api_package}.models": models,
                "py_sp_api.runtime.api_response": ["ApiResponse"],
                "py_sp_api.runtime.configuration": ["TimeoutValue"],
                "py_sp_api.runtime.operation": ["Operation"],
            },
            indent="    ",
        ),
        "",
        "",
        f"class {api.class_name}(BaseApi):",
        f'    """{_doc(api.title + ". One method per operation; each also has a *_with_http_info variant returning an ApiResponse and a *_without_preload_content variant returning the unread urllib3 response. Usage plans: ``rate_limit(method_name)``.", "    ")}"""',
        "",
        "    operations: ClassVar[Mapping[str, Operation[Any]]] = _ops.OPERATIONS",
    ]
    for op in api.operations:
        lines += _render_methods(op)
    lines += ["", "", f'__all__ = ["{api.class_name}"]', ""]
    return "\n".join(lines)


def _render_methods(op: OperationDef) -> List[str]:
    """The operation's three methods: the model, ``*_with_http_info``, ``*_without_preload_content``."""
    # Only a message can be journaled (GETs never are, nor --spec APIs' calls), so only a
    # journaled operation takes a send key.
    journaled = op.journaled and op.method not in ("GET", "HEAD")
    signature = _signature(op, journaled)
    call = _call_arguments(op, journaled)
    name = op.python_name
    response = _response_type(op)
    return [
        "",
        f"    def {name}(",
        *signature,
        f"    ) -> {response}:",
        *_docstring(op, journaled),
        "        return self.api_client.call(",
        *call,
        "        ).data",
        "",
        f"    def {name}_with_http_info(",
        *signature,
        f"    ) -> ApiResponse[{response}]:",
        f'        """Like :meth:`{name}`, also returning status, headers and raw body."""',
        "        return self.api_client.call(",
        *call,
        "        )",
        "",
        f"    def {name}_without_preload_content(",
        *signature,
        "    ) -> urllib3.BaseHTTPResponse:",
        f'        """Like :meth:`{name}`, returning the unread urllib3 response, any status."""',
        "        return self.api_client.call_raw(",
        *call,
        "        )",
    ]


def _signature(op: OperationDef, journaled: bool) -> List[str]:
    """The parameters, one a line: the required ones, then keywords only."""
    required = [f"        {p.python_name}: {p.type_expr}," for p in op.params if p.required]
    if op.body:
        required.append(f"        body: {op.body.type_expr},")
    # Optional parameters are keywords, so a new one in a later model breaks no call.
    optional = [
        f"        {p.python_name}: Optional[{p.type_expr}] = None,"
        for p in op.params
        if not p.required
    ]
    return [
        "        self,",
        *required,
        "        *,",
        *optional,
        "        _request_timeout: TimeoutValue = None,",
        "        _headers: Optional[Mapping[str, str]] = None,",
        *(["        _send_key: Optional[str] = None,"] if journaled else []),
    ]


def _call_arguments(op: OperationDef, journaled: bool) -> List[str]:
    """What a method passes to the client: the operation, its arguments, the call's options."""
    path_and_query = [p.python_name for p in op.params]
    return [
        f"            _ops.{op.const_name},",
        f"            ({', '.join(path_and_query)}{',' if len(path_and_query) == 1 else ''}),",
        f"            {'body' if op.body else 'None'},",
        "            timeout=_request_timeout,",
        "            headers=_headers,",
        *(["            send_key=_send_key,"] if journaled else []),
    ]


def _docstring(op: OperationDef, journaled: bool) -> List[str]:
    """The main method's docstring: what it does, its route, usage plan, arguments, errors."""
    rate = f"{op.rate:g} request(s)/second, burst {op.burst}"
    if not op.rate_documented:
        rate += " (not documented by Amazon for this operation; the API's default)"
    summary = op.description.split("**Usage Plan:**")[0].strip() or op.operation_id
    if op.removed:
        summary = f"{removal_note(op)} {summary}"
    arg_docs = [
        f"            {p.python_name}: {' '.join(p.description.split())}" for p in op.params
    ]
    if op.body:
        arg_docs.append(f"            body: {' '.join(op.body.description.split())}")
    return [
        f'        """{_doc(summary, "        ")}',
        "",
        f"        ``{op.method} {op.path}``",
        "",
        f"        Usage plan: {rate}.",
        "",
        "        Args:",
        *arg_docs,
        "",
        "        Raises:",
        "            ApiTypeError, ApiValueError: bad arguments; nothing was sent.",
        "            ApiException: a non-2xx answer (one subclass per status).",
        "            ApiConnectionError: no answer arrived (ApiTimeoutError for timeouts).",
        *(
            [
                "            DuplicateSendError: with a send journal configured, this message's",
                "                key was already sent, is being sent, or has an unknown outcome;",
                "                nothing was sent. ``_send_key`` names a deliberate repeat.",
            ]
            if journaled
            else []
        ),
        '        """',
    ]


def removal_note(op: OperationDef) -> str:
    """The sentence that marks a removed operation in docstrings and docs."""
    assert op.removed is not None
    return (
        f"Removed by Amazon: {op.operation_id} is not in Amazon's current model (removed "
        f"{op.removed.removed_on}, model commit {op.removed.model_commit}); calling it warns "
        "(DeprecationWarning) and Amazon may refuse it."
    )


def render_api_init(api_package: str, api: ApiDef, header: str) -> str:
    module = f"{api_package}.api.{_snake(api.class_name)}"
    return "\n".join(
        [
            header,
            '"""The API classes."""',
            "",
            f"from {module} import {api.class_name}",
            "",
            f'__all__ = ["{api.class_name}"]',
            "",
        ]
    )


def render_shim(module: str, header: str) -> str:
    names = _RUNTIME_SHIMS[module]
    lines = [
        header,
        f'"""Re-exports :mod:`py_sp_api.runtime.{module}` under the generated package."""',
        "",
    ]
    if module == "rest":
        lines.append("from py_sp_api.runtime.exceptions import ApiException")
        lines.append("from py_sp_api.runtime.rest import RESTClientObject, RESTResponse")
    else:
        lines += _import(f"py_sp_api.runtime.{module}", names)
    lines += ["", "__all__ = [", *[f'    "{n}",' for n in names], "]", ""]
    return "\n".join(lines)


def shim_modules() -> List[str]:
    return sorted(_RUNTIME_SHIMS)


def render_package_init(api_package: str, api: ApiDef, header: str) -> str:
    """The package root: the client, the runtime names and every model, each loaded lazily."""
    exports: Dict[str, str] = {
        "ApiClient": f"{api_package}.api_client",
        "ApiResponse": f"{api_package}.api_response",
        "Configuration": f"{api_package}.configuration",
        api.class_name: f"{api_package}.api.{_snake(api.class_name)}",
        "OPERATIONS": f"{api_package}.operations",
        "RATE_LIMITS": f"{api_package}.operations",
        "RateLimit": "py_sp_api.runtime.operation",
    }
    for name in _RUNTIME_SHIMS["exceptions"]:
        exports[name] = f"{api_package}.exceptions"
    for model in api.models:
        exports[model.name] = f"{api_package}.models.{model.module}"
    doc = (
        f"{api.title} ({api.version}), generated from Amazon's model. Every name below is "
        "importable from this package; modules load on first use."
    )
    return _lazy_init(header, doc, exports)


def _snake(name: str) -> str:
    return snake_case(name)
