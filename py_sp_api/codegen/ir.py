"""Reads a Swagger 2.0 document into the small intermediate form the renderers use."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from py_sp_api.runtime import exceptions as runtime_exceptions

# Names that would shadow pydantic's BaseModel API or read badly as attributes.
_RESERVED = set(keyword.kwlist) | {
    "self", "schema", "json", "dict", "copy", "validate", "construct", "fields",
    "model_config", "model_fields", "from_dict", "from_json", "to_dict", "to_json", "to_str",
}  # fmt: skip

# Amazon's usage-plan table; some models write its line ends escaped ("\\n"), and some add a
# first column naming each plan ("| Plan type |", then "|Default| 5 | 10 |").
_LINE_END = r"\s*(?:\n|\\n)"
_USAGE_PLAN = re.compile(
    r"\|(?:\s*Plan type\s*\|)?\s*Rate \(requests per second\)\s*\|\s*Burst\s*\|"
    + _LINE_END
    + r"\|(?:\s*-+\s*\|){2,3}"
    + _LINE_END
    + r"\|(?:\s*Default\s*\|)?\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|"
)


def snake_case(name: str) -> str:
    """``amazonOrderId`` -> ``amazon_order_id``; ``_links`` -> ``links``; ``CreateX`` -> ``create_x``."""
    name = name.lstrip("_")
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.replace("-", "_").lower()


def module_name(model_name: str) -> str:
    """A model's module: ``OrderItem`` -> ``order_item``; ``Return`` -> ``return_``."""
    name = snake_case(model_name)
    return f"{name}_" if keyword.iskeyword(name) else name


def pascal_case(name: str) -> str:
    name = name.lstrip("_")
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-\s]+", name) if part)


def python_field_name(wire_name: str) -> str:
    name = re.sub(r"\W+", "_", snake_case(wire_name)).strip("_") or "value"
    if name[0].isdigit():
        name = f"var_{name}"
    return f"var_{name}" if name in _RESERVED else name


# Names a generated model module imports, and the runtime names a generated package, its
# operations.py and its API module hold beside the models: a model called one of these gets a
# suffix, or ``package.ApiClient`` would be a model and the client could not be imported.
_IMPORTED_NAMES = {
    "Any", "Dict", "List", "Optional", "Union", "Field", "RootModel", "AwareDateTime",
    "SpApiModel", "SpApiRequestModel", "annotations",
    "ApiClient", "ApiResponse", "Configuration", "OPERATIONS", "RATE_LIMITS", "RateLimit",
    "RESTClientObject", "RESTResponse", "ModelRef", "Operation", "PathParam", "QueryParam",
    "HeaderParam", "Removal", "MappingProxyType", "TYPE_CHECKING", "Mapping", "Sequence",
    "ClassVar", "BaseApi", "TimeoutValue", *runtime_exceptions.__all__,
}  # fmt: skip

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def class_name(wanted: str) -> str:
    """A Python class name for a spec name: ``Foo.Bar`` -> ``FooBar``; ``List`` -> ``ListModel``."""
    name = wanted if wanted.isidentifier() else pascal_case(re.sub(r"\W+", "_", wanted))
    if not name or not name[0].isalpha():
        name = f"Model{name}"
    if name in _IMPORTED_NAMES or keyword.iskeyword(name):
        name += "Model"
    return name


@dataclass
class FieldDef:
    name: str
    wire_name: str
    type_expr: str
    doc_type: str
    doc_link: Optional[str]
    required: bool
    description: str
    constraints: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelDef:
    name: str
    module: str
    description: str
    fields: List[FieldDef]
    model_imports: Set[str] = field(default_factory=set)
    uses_datetime: bool = False
    uses_any: bool = False
    # Reachable only from request bodies: unknown fields are refused when it is built.
    request_only: bool = False
    # Set for a body or answer that is not an object (an array, a string): a RootModel of it.
    root_type: Optional[str] = None
    # Models that also import this one (directly or round a cycle): imported at the end of
    # the module, and the annotations are postponed, so either module may load first.
    deferred_imports: Set[str] = field(default_factory=set)
    postponed: bool = False


@dataclass
class ParamDef:
    name: str
    python_name: str
    location: str
    required: bool
    description: str
    type_expr: str
    doc_type: str
    is_array: bool = False
    min_items: int = 0
    max_items: Optional[int] = None
    # The value's (or each item's) type on the wire: string, integer, number, boolean,
    # date-time or date; and how an array travels: "csv" (a,b) or "multi" (x=a&x=b).
    kind: str = "string"
    collection: str = "csv"
    # A path parameter that is a path of its own (Uploads' {resource}): its "/" stay.
    greedy: bool = False


@dataclass
class ResponseDef:
    status: str
    description: str
    headers: List[Tuple[str, str]]


@dataclass
class OperationDef:
    operation_id: str
    python_name: str
    const_name: str
    method: str
    path: str
    description: str
    params: List[ParamDef]
    body: Optional[ParamDef]
    body_model: Optional[str]
    response_model: Optional[str]  # None: the spec declares no body for the success answer
    success_status: int
    responses: List[ResponseDef]
    rate: float
    burst: int
    rate_documented: bool
    error_model: Optional[str]
    consumes: str
    produces: str
    example_body: Optional[Dict[str, Any]] = None
    removed: Optional[RemovalDef] = None
    journaled: bool = True  # see Operation.journaled
    # Success statuses answered without a body (a 204, or a 2xx the spec gives no schema).
    bodiless_statuses: Tuple[int, ...] = ()


@dataclass(frozen=True)
class RemovalDef:
    """Amazon removed the operation from its current model (from removed_operations.json)."""

    removed_on: str
    model_commit: str


@dataclass
class ApiDef:
    title: str
    version: str
    class_name: str
    host: str
    models: List[ModelDef]
    operations: List[OperationDef]


class SpecReader:
    """Turns the spec's definitions (and the objects declared inline in them) into models."""

    def __init__(
        self, spec: Dict[str, Any], class_name: str, default_rate: Tuple[float, int]
    ) -> None:
        self.spec = spec
        self.class_name = class_name
        self.default_rate = default_rate
        self.definitions: Dict[str, Any] = spec.get("definitions", {})
        self.models: Dict[str, ModelDef] = {}
        self.class_of: Dict[str, str] = {}  # definition name -> class name
        # Class names and module names in use; the API class shares the package's namespace.
        self._taken: Set[str] = {class_name}
        self._roots: Dict[str, str] = {}  # non-object definition -> its RootModel class

    def read(self) -> ApiDef:
        # Definitions name their classes first, so an inline object never takes such a name.
        for name, schema in self.definitions.items():
            if self._is_model(schema):
                self.class_of[name] = self._new_name(name)
        for name, schema in self.definitions.items():
            if self._is_model(schema):
                self._read_definition(name)
        operations = [
            self._read_operation(path, method, op, item.get("parameters", []))
            for path, item in self.spec["paths"].items()
            for method, op in item.items()
            if method in ("get", "put", "post", "delete", "patch")
        ]
        operations.sort(key=lambda op: op.python_name)
        _unique_method_names(operations)
        sent = self._reachable(op.body_model for op in operations if op.body_model)
        received = self._reachable(
            [op.response_model for op in operations if op.response_model]
            + [op.error_model for op in operations if op.error_model]
        )
        for name in sent - received:
            self.models[name].request_only = True
        _mark_cycles(self.models)
        info = self.spec["info"]
        scheme = (self.spec.get("schemes") or ["https"])[0]
        return ApiDef(
            title=info["title"],
            version=info["version"],
            class_name=self.class_name,
            host=f"{scheme}://{self.spec['host']}",
            models=sorted(self.models.values(), key=lambda m: m.name),
            operations=operations,
        )

    def _reachable(self, roots: Iterable[str]) -> Set[str]:
        """The models ``roots`` name, and every model their fields name, transitively."""
        seen: Set[str] = set()
        todo = [name for name in roots if name in self.models]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.models[name].model_imports - seen)
        return seen

    def _is_model(self, schema: Dict[str, Any]) -> bool:
        # Arrays (ErrorList) become List[...] and free-form objects (Schema) become
        # Dict[str, Any]; only objects with declared properties (allOf merged) get a class.
        flat = self._flat(schema)
        return flat.get("type", "object") == "object" and bool(flat.get("properties"))

    def _flat(self, schema: Dict[str, Any], depth: int = 0) -> Dict[str, Any]:
        """``schema`` with its ``allOf`` parts merged into one object schema."""
        parts = schema.get("allOf")
        if not parts or depth > 20:
            return schema
        own = {key: value for key, value in schema.items() if key != "allOf"}
        if len(parts) == 1 and not own.get("properties"):
            # allOf: [$ref] only attaches a description to a reference.
            return {**parts[0], **{k: v for k, v in own.items() if k == "description"}}
        merged: Dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in [*parts, own]:
            if "$ref" in part:
                part = self._resolve(part["$ref"])[1]
            part = self._flat(part, depth + 1)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += [
                r for r in part.get("required", []) if r not in merged["required"]
            ]
        merged["description"] = own.get("description") or next(
            (p.get("description") for p in parts if isinstance(p.get("description"), str)), ""
        )
        return merged

    def _resolve(self, ref: str) -> Tuple[str, Dict[str, Any]]:
        name = ref.rsplit("/", 1)[1]
        return name, self.definitions[name]

    def _new_name(self, wanted: str) -> str:
        """A class name based on ``wanted``, unique as a class and as a module in this API."""
        base = class_name(wanted)
        name, number = base, 2
        while name in self._taken or module_name(name) in self._taken:
            name, number = f"{base}{number}", number + 1
        self._taken.update({name, module_name(name)})
        return name

    def _read_definition(self, name: str) -> ModelDef:
        cls = self.class_of[name]
        return self.models.get(cls) or self._read_model(cls, self.definitions[name])

    def _read_model(self, name: str, schema: Dict[str, Any]) -> ModelDef:
        if name in self.models:
            return self.models[name]
        schema = self._flat(schema)
        model = ModelDef(
            name=name,
            module=module_name(name),
            description=str(schema.get("description", "")).strip(),
            fields=[],
        )
        self.models[name] = model
        required = set(schema.get("required", []))
        used: Set[str] = set()
        for wire_name, prop in schema.get("properties", {}).items():
            type_expr, doc_type, link = self._type_of(prop, model, owner=name, prop_name=wire_name)
            field_name = python_field_name(wire_name)
            while field_name in used:
                field_name += "_"
            used.add(field_name)
            model.fields.append(
                FieldDef(
                    name=field_name,
                    wire_name=wire_name,
                    type_expr=type_expr,
                    doc_type=doc_type,
                    doc_link=link,
                    required=wire_name in required,
                    description=_description(prop, self.definitions),
                    constraints=_constraints(prop),
                )
            )
        return model

    def _type_of(
        self, prop: Dict[str, Any], model: ModelDef, owner: str, prop_name: str, depth: int = 0
    ) -> Tuple[str, str, Optional[str]]:
        """(Python annotation, type shown in docs, model the docs link to)."""
        if depth > 20:  # a non-object definition that contains itself
            model.uses_any = True
            return "Any", "object", None
        if "$ref" in prop:
            ref_name, target = self._resolve(prop["$ref"])
            if self._is_model(target):
                cls = self._read_definition(ref_name).name
                model.model_imports.add(cls)
                return cls, cls, cls
            return self._type_of(target, model, owner, prop_name, depth + 1)
        if "allOf" in prop:
            flat = self._flat(prop)
            if flat is not prop:
                return self._type_of(flat, model, owner, prop_name, depth + 1)
        kind = prop.get("type")
        if kind is None:
            has_object_keys = "properties" in prop or "additionalProperties" in prop
            kind = "object" if has_object_keys else ("array" if "items" in prop else None)
        if kind == "array":
            items = prop.get("items", {})
            inner, inner_doc, link = self._type_of(items, model, owner, prop_name, depth + 1)
            return f"List[{inner}]", f"List[{inner_doc}]", link
        if kind == "object":
            if prop.get("properties"):
                inline_name = self._new_name(owner + pascal_case(prop_name))
                self._read_model(inline_name, prop)
                model.model_imports.add(inline_name)
                return inline_name, inline_name, inline_name
            values = prop.get("additionalProperties")
            if isinstance(values, dict) and values:
                inner, inner_doc, link = self._type_of(
                    values, model, owner, prop_name + "Value", depth + 1
                )
                return f"Dict[str, {inner}]", f"Dict[str, {inner_doc}]", link
            model.uses_any = True
            return "Dict[str, Any]", "Dict[str, object]", None
        if kind == "string" and prop.get("format") == "date-time":
            model.uses_datetime = True
            return "AwareDateTime", "datetime", None
        if kind not in _SCALARS:  # no type at all, or "file": any JSON value
            model.uses_any = True
            return "Any", "object", None
        return _SCALARS[kind], _SCALARS[kind], None

    def _message_model(self, schema: Dict[str, Any], fallback: str) -> str:
        """The class a request body or an answer parses into, made a RootModel if need be."""
        name, described = fallback, schema
        if "$ref" in schema:
            name, described = self._resolve(schema["$ref"])
            if self._is_model(described):
                return self._read_definition(name).name
            if name in self._roots:  # another operation sends or answers the same definition
                return self._roots[name]
        elif self._is_model(schema):
            return self._read_model(self._new_name(fallback), schema).name
        root = ModelDef(
            name=self._new_name(name),
            module="",
            description=str(described.get("description", "")).strip(),
            fields=[],
        )
        root.module = module_name(root.name)
        self.models[root.name] = root
        if "$ref" in schema:
            self._roots[name] = root.name
        root.root_type = self._type_of(schema, root, owner=root.name, prop_name="Item")[0]
        return root.name

    def _parameters(
        self, shared: List[Dict[str, Any]], own: List[Dict[str, Any]]
    ) -> List[Dict[str, Any]]:
        """The path item's parameters, overridden by the operation's (by name and place)."""
        merged: Dict[Tuple[str, str], Dict[str, Any]] = {}
        for raw in [*shared, *own]:
            if "$ref" in raw:
                raw = self.spec["parameters"][raw["$ref"].rsplit("/", 1)[1]]
            merged[(raw["in"], raw["name"])] = raw
        return list(merged.values())

    def _read_operation(
        self, path: str, method: str, op: Dict[str, Any], shared: List[Dict[str, Any]]
    ) -> OperationDef:
        operation_id = op["operationId"]
        python_name = python_field_name(operation_id)
        # The body's model is named before the answer's, so the two never swap names.
        params, body = self._read_parameters(operation_id, shared, op.get("parameters", []))
        success, response_model, bodiless = self._success_answer(operation_id, op["responses"])
        rate, burst, documented = self._usage_plan(op.get("description", ""))
        return OperationDef(
            operation_id=operation_id,
            python_name=python_name,
            const_name=python_name.upper(),
            method=method.upper(),
            path=path,
            description=op.get("description", "").strip(),
            params=params,
            body=body,
            body_model=body.type_expr if body is not None else None,
            response_model=response_model,
            success_status=int(success),
            responses=_responses(op["responses"]),
            rate=rate,
            burst=burst,
            rate_documented=documented,
            error_model=self._error_model(op),
            example_body=_sandbox_body(op["responses"][success]),
            bodiless_statuses=bodiless,
            consumes=(op.get("consumes") or self.spec.get("consumes") or ["application/json"])[0],
            produces=(op.get("produces") or self.spec.get("produces") or ["application/json"])[0],
        )

    def _read_parameters(
        self, operation_id: str, shared: List[Dict[str, Any]], own: List[Dict[str, Any]]
    ) -> Tuple[List[ParamDef], Optional[ParamDef]]:
        """The path, query and header parameters (in that order), and the body if any."""
        params: List[ParamDef] = []
        body: Optional[ParamDef] = None
        used_names = {"body", "self"}
        for raw in self._parameters(shared, own):
            if raw["in"] not in ("path", "query", "header", "body"):
                # The runtime sends path, query, header and body parameters only: fail loudly
                # rather than generate a method whose arguments would not reach the wire.
                raise NotImplementedError(f"{operation_id}: {raw['in']} parameters")
            if raw["in"] == "body":
                body = self._body_parameter(operation_id, raw)
            else:
                params.append(_parameter(raw, used_names))
        # Path parameters first, then query, then headers, as Operation takes them.
        params.sort(key=lambda p: _PARAM_ORDER[p.location])
        return params, body

    def _body_parameter(self, operation_id: str, raw: Dict[str, Any]) -> ParamDef:
        model = self._message_model(raw["schema"], pascal_case(operation_id) + "Request")
        return ParamDef(
            name=raw["name"],
            python_name=raw["name"],
            location="body",
            required=bool(raw.get("required")),
            description=raw.get("description", ""),
            type_expr=model,
            doc_type=model,
        )

    def _success_answer(
        self, operation_id: str, responses: Dict[str, Any]
    ) -> Tuple[str, Optional[str], Tuple[int, ...]]:
        """(the success status, its model or None, the 2xx statuses answered without a body).

        The success status is the first 2xx with a body, else the first 2xx. Statuses without
        a body matter only when another has one (the call then returns Optional[model]).
        """
        codes = sorted(code for code in responses if code.startswith("2"))
        with_body = [code for code in codes if "schema" in responses[code]]
        success = (with_body or codes)[0]
        schema = responses[success].get("schema")
        if schema is None:
            return success, None, ()
        bodiless = tuple(
            int(code) for code in codes if code == "204" or "schema" not in responses[code]
        )
        model = self._message_model(schema, pascal_case(operation_id) + "Response")
        return success, model, bodiless

    def _usage_plan(self, description: str) -> Tuple[float, int, bool]:
        """(rate, burst, documented) from the description's table, else the API's default."""
        match = _USAGE_PLAN.search(description)
        if match:
            return float(match.group(1)), int(match.group(2)), True
        return self.default_rate[0], self.default_rate[1], False

    def _error_model(self, op: Dict[str, Any]) -> Optional[str]:
        """The model of the items of ``errors`` in the operation's error responses."""
        for code, resp in sorted(op["responses"].items()):
            if code.startswith("2") or "$ref" not in resp.get("schema", {}):
                continue
            _, schema = self._resolve(resp["schema"]["$ref"])
            errors = schema.get("properties", {}).get("errors")
            if errors is None:
                continue
            if "$ref" in errors:
                _, errors = self._resolve(errors["$ref"])
            items = errors.get("items", {})
            if "$ref" in items:
                return self._resolve(items["$ref"])[0]
        return None


_PARAM_ORDER = {"path": 0, "query": 1, "header": 2}
_PARAM_TYPES = {
    "string": "str", "integer": "int", "number": "float", "boolean": "bool",
    "date-time": "Union[datetime, str]", "date": "Union[date, str]",
}  # fmt: skip


def _parameter(raw: Dict[str, Any], used_names: Set[str]) -> ParamDef:
    """A path, query or header parameter, its Python name unique among ``used_names``."""
    is_array = raw.get("type") == "array"
    kind = _param_kind(raw.get("items", {}) if is_array else raw)
    # Sequence: a tuple of marketplace ids is as good as a list.
    type_expr = f"Sequence[{_PARAM_TYPES[kind]}]" if is_array else _PARAM_TYPES[kind]
    param_name = python_field_name(raw["name"])
    while param_name in used_names:
        param_name += "_"
    used_names.add(param_name)
    return ParamDef(
        name=raw["name"],
        python_name=param_name,
        location=raw["in"],
        required=bool(raw.get("required")) or raw["in"] == "path",
        description=raw.get("description", ""),
        type_expr=type_expr,
        doc_type=type_expr,
        is_array=is_array,
        min_items=int(raw.get("minItems", 0)),
        max_items=raw.get("maxItems"),
        kind=kind,
        collection=raw.get("collectionFormat", "csv") if is_array else "csv",
        greedy=bool(raw.get("x-amazon-spds-greedy-path-parameter")),
    )


def _responses(responses: Dict[str, Any]) -> List[ResponseDef]:
    """Every answer the spec declares, by status, with its headers (for the docs)."""
    return [
        ResponseDef(
            status=code,
            description=" ".join(resp.get("description", "").split()),
            headers=[
                (h, " ".join(d.get("description", "").split()))
                for h, d in resp.get("headers", {}).items()
            ],
        )
        for code, resp in sorted(responses.items())
    ]


def _param_kind(schema: Dict[str, Any]) -> str:
    kind = schema.get("type", "string")
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return str(schema["format"])
    return kind if kind in _SCALARS else "string"


def _unique_method_names(operations: List[OperationDef]) -> None:
    seen: Set[str] = set()
    for op in operations:
        while op.python_name in seen:
            op.python_name += "_"
        seen.add(op.python_name)
        op.const_name = op.python_name.upper()


def _mark_cycles(models: Dict[str, ModelDef]) -> None:
    """Find the models that import each other (Tarjan's components) and mark how to load them."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long chain of models cannot exhaust the recursion limit.
        work = [(start, iter(sorted(models[start].model_imports)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            name, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(models[child].model_imports))))
                elif child in on_stack:
                    low[name] = min(low[name], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
            if low[name] == index[name]:
                component: Set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == name:
                        break
                components.append(component)

    for name in sorted(models):
        if name not in index:
            visit(name)
    for component in components:
        for name in component:
            model = models[name]
            model.deferred_imports = (model.model_imports & component) - {name}
            model.postponed = bool(model.deferred_imports) or name in model.model_imports


def _sandbox_body(response: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The request body of the first static sandbox case, a realistic example."""
    for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
        body = case.get("request", {}).get("parameters", {}).get("body", {}).get("value")
        if isinstance(body, dict):
            return body
    return None


def _description(prop: Dict[str, Any], definitions: Dict[str, Any]) -> str:
    text = prop.get("description")
    if text is None and "$ref" in prop:
        text = definitions[prop["$ref"].rsplit("/", 1)[1]].get("description")
    return " ".join((text or "").split())


def _constraints(prop: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if prop.get("type") == "array":
        # Amazon's spec writes minLength/maxLength on some arrays where it means items.
        low = prop.get("minItems", prop.get("minLength"))
        high = prop.get("maxItems", prop.get("maxLength"))
    else:
        low, high = prop.get("minLength"), prop.get("maxLength")
        if "pattern" in prop:
            out["pattern"] = prop["pattern"]
    if low is not None:
        out["min_length"] = int(low)
    if high is not None:
        out["max_length"] = int(high)
    return out
