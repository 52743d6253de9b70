"""Reads a Swagger 2.0 document into the small intermediate form the renderers use."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

# Names that would shadow pydantic's BaseModel API or read badly as attributes.
_RESERVED = set(keyword.kwlist) | {
    "self", "schema", "json", "dict", "copy", "validate", "construct", "fields",
    "model_config", "model_fields", "from_dict", "from_json", "to_dict", "to_json", "to_str",
}  # fmt: skip

_USAGE_PLAN = re.compile(
    r"\|\s*Rate \(requests per second\)\s*\|\s*Burst\s*\|\s*\n"
    r"\|\s*-+\s*\|\s*-+\s*\|\s*\n"
    r"\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|"
)


def snake_case(name: str) -> str:
    """``amazonOrderId`` -> ``amazon_order_id``; ``_links`` -> ``links``; ``CreateX`` -> ``create_x``."""
    name = name.lstrip("_")
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.replace("-", "_").lower()


def pascal_case(name: str) -> str:
    name = name.lstrip("_")
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-\s]+", name) if part)


def python_field_name(wire_name: str) -> str:
    name = snake_case(wire_name)
    return f"var_{name}" if name in _RESERVED else name


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
    response_model: str
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

    def read(self) -> ApiDef:
        for name, schema in self.definitions.items():
            if self._is_model(schema):
                self._read_model(name, schema)
        operations = [
            self._read_operation(path, method, op)
            for path, item in self.spec["paths"].items()
            for method, op in item.items()
            if method in ("get", "put", "post", "delete", "patch")
        ]
        operations.sort(key=lambda op: op.python_name)
        sent = self._reachable(op.body_model for op in operations if op.body_model)
        received = self._reachable(
            [op.response_model for op in operations]
            + [op.error_model for op in operations if op.error_model]
        )
        for name in sent - received:
            self.models[name].request_only = True
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

    @staticmethod
    def _is_model(schema: Dict[str, Any]) -> bool:
        # Arrays (ErrorList) become List[...] and free-form objects (Schema) become
        # Dict[str, Any]; only objects with declared properties get a class.
        return schema.get("type", "object") == "object" and bool(schema.get("properties"))

    def _resolve(self, ref: str) -> Tuple[str, Dict[str, Any]]:
        name = ref.rsplit("/", 1)[1]
        return name, self.definitions[name]

    def _read_model(self, name: str, schema: Dict[str, Any]) -> ModelDef:
        if name in self.models:
            return self.models[name]
        model = ModelDef(
            name=name,
            module=snake_case(name),
            description=schema.get("description", "").strip(),
            fields=[],
        )
        self.models[name] = model
        required = set(schema.get("required", []))
        for wire_name, prop in schema.get("properties", {}).items():
            type_expr, doc_type, link = self._type_of(prop, model, owner=name, prop_name=wire_name)
            model.fields.append(
                FieldDef(
                    name=python_field_name(wire_name),
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
        self, prop: Dict[str, Any], model: ModelDef, owner: str, prop_name: str
    ) -> Tuple[str, str, Optional[str]]:
        """(Python annotation, type shown in docs, model the docs link to)."""
        if "$ref" in prop:
            ref_name, target = self._resolve(prop["$ref"])
            if self._is_model(target):
                self._read_model(ref_name, target)
                model.model_imports.add(ref_name)
                return ref_name, ref_name, ref_name
            return self._type_of(target, model, owner, prop_name)
        kind = prop.get("type", "object")
        if kind == "array":
            inner, inner_doc, link = self._type_of(prop.get("items", {}), model, owner, prop_name)
            return f"List[{inner}]", f"List[{inner_doc}]", link
        if kind == "object":
            if prop.get("properties"):
                inline_name = owner + pascal_case(prop_name)
                self._read_model(inline_name, prop)
                model.model_imports.add(inline_name)
                return inline_name, inline_name, inline_name
            model.uses_any = True
            return "Dict[str, Any]", "Dict[str, object]", None
        if kind == "string" and prop.get("format") == "date-time":
            model.uses_datetime = True
            return "AwareDateTime", "datetime", None
        scalar = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
        return scalar[kind], scalar[kind], None

    def _read_operation(self, path: str, method: str, op: Dict[str, Any]) -> OperationDef:
        operation_id = op["operationId"]
        python_name = snake_case(operation_id)
        params: List[ParamDef] = []
        body: Optional[ParamDef] = None
        body_model: Optional[str] = None
        for raw in op.get("parameters", []):
            if raw["in"] not in ("path", "query", "body"):
                # The runtime sends path, query and body parameters only: fail loudly rather
                # than generate a method whose arguments would not reach the wire.
                raise NotImplementedError(f"{operation_id}: {raw['in']} parameters")
            if raw["in"] == "body":
                body_model, _ = self._resolve(raw["schema"]["$ref"])
                body = ParamDef(
                    name=raw["name"],
                    python_name=raw["name"],
                    location="body",
                    required=bool(raw.get("required")),
                    description=raw.get("description", ""),
                    type_expr=body_model,
                    doc_type=body_model,
                )
                continue
            is_array = raw.get("type") == "array"
            item_type = raw.get("items", {}).get("type", "string") if is_array else raw["type"]
            scalar = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
            # Sequence: a tuple of marketplace ids is as good as a list.
            type_expr = f"Sequence[{scalar[item_type]}]" if is_array else scalar[item_type]
            params.append(
                ParamDef(
                    name=raw["name"],
                    python_name=python_field_name(raw["name"]),
                    location=raw["in"],
                    required=bool(raw.get("required")),
                    description=raw.get("description", ""),
                    type_expr=type_expr,
                    doc_type=type_expr,
                    is_array=is_array,
                    min_items=int(raw.get("minItems", 0)),
                    max_items=raw.get("maxItems"),
                )
            )
        # Path parameters first, then query, as the generated methods take them.
        params.sort(key=lambda p: 0 if p.location == "path" else 1)
        success = next(code for code in sorted(op["responses"]) if code.startswith("2"))
        response_model, _ = self._resolve(op["responses"][success]["schema"]["$ref"])
        match = _USAGE_PLAN.search(op.get("description", ""))
        if match:
            rate, burst, documented = float(match.group(1)), int(match.group(2)), True
        else:
            rate, burst, documented = self.default_rate[0], self.default_rate[1], False
        responses = [
            ResponseDef(
                status=code,
                description=" ".join(resp.get("description", "").split()),
                headers=[
                    (h, " ".join(d.get("description", "").split()))
                    for h, d in resp.get("headers", {}).items()
                ],
            )
            for code, resp in sorted(op["responses"].items())
        ]
        return OperationDef(
            operation_id=operation_id,
            python_name=python_name,
            const_name=python_name.upper(),
            method=method.upper(),
            path=path,
            description=op.get("description", "").strip(),
            params=params,
            body=body,
            body_model=body_model,
            response_model=response_model,
            success_status=int(success),
            responses=responses,
            rate=rate,
            burst=burst,
            rate_documented=documented,
            error_model=self._error_model(op),
            example_body=_sandbox_body(op["responses"][success]),
            consumes=(op.get("consumes") or self.spec.get("consumes") or ["application/json"])[0],
            produces=(op.get("produces") or self.spec.get("produces") or ["application/json"])[0],
        )

    def _error_model(self, op: Dict[str, Any]) -> Optional[str]:
        """The model of the items of ``errors`` in the operation's error responses."""
        for code, resp in sorted(op["responses"].items()):
            if code.startswith("2") or "schema" not in resp:
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
