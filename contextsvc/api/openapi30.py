"""OpenAPI 3.0 for Salesforce External Services, from the 3.1 document Litestar generates.

External Services imports OpenAPI 2.0 and 3.0 only, and a subset of 3.0 at that
(Salesforce's External Service registration docs: no 3.1, no `not`, JSON media
types, no body on a GET, descriptions cut at 1,333 characters, no nested anonymous arrays).
Two pure steps over plain dicts:

- `downgrade`: 3.1 -> 3.0.3. Type arrays and `{"type": "null"}` alternatives become
  `nullable`, `const` becomes a one-value `enum`, schema `examples` become `example`,
  numeric `exclusiveMinimum/Maximum` become the 3.0 boolean form, 3.1-only keywords go.
- `for_external_services`: JSON media types only, no request body on a GET, no `not`,
  an operationId on every operation, descriptions within 1,333 characters, no anonymous
  array nested in an array (hoisted to a named component).

The `openapi-downgrade` package was evaluated and not used: it downloads the 3.0 JSON
Schema from GitHub on every conversion (this service runs offline) and writes a
warnings.txt into the working directory.
"""

from __future__ import annotations

import copy
from typing import Any

DESCRIPTION_LIMIT = 1333
_JSON_MEDIA_TYPES = ("application/json",)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Schema keywords JSON Schema 2020-12 has and OpenAPI 3.0's schema object does not.
_DROPPED_KEYWORDS = (
    "$schema",
    "$id",
    "$anchor",
    "$defs",
    "$comment",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "if",
    "then",
    "else",
    "$dynamicRef",
    "$dynamicAnchor",
    "minContains",
    "maxContains",
    "contains",
    "patternProperties",
)
# Query parameters that only switch a response to a non-JSON media type: External Services
# could not parse that answer, so the 3.0 document leaves them out (the JSON carries the
# same text in its `prompt` field).
NON_JSON_SWITCHES = {("/v1/context/{lookup}", "get"): {"format"}}


def downgrade(document: dict) -> dict:
    """A 3.0.3 document equivalent to the given 3.1 one."""
    doc = copy.deepcopy(document)
    doc["openapi"] = "3.0.3"
    for key in ("jsonSchemaDialect", "webhooks"):
        doc.pop(key, None)
    info = doc.get("info", {})
    info.pop("summary", None)
    info.get("license", {}).pop("identifier", None)
    doc.setdefault("paths", {})
    components = doc.get("components", {})
    components.pop("pathItems", None)
    for name, schema in components.get("schemas", {}).items():
        components["schemas"][name] = _schema(schema)
    for _, operation in _operations(doc):
        for parameter in operation.get("parameters", []):
            if "schema" in parameter:
                parameter["schema"] = _schema(parameter["schema"])
        for media in _media(operation):
            if "schema" in media:
                media["schema"] = _schema(media["schema"])
    return doc


def _schema(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    s = {k: v for k, v in schema.items() if k not in _DROPPED_KEYWORDS}
    if isinstance(s.get("properties"), dict):
        s["properties"] = {name: _schema(sub) for name, sub in s["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(s.get(key), dict):
            s[key] = _schema(s[key])
    if "prefixItems" in s:  # tuples: 3.0 can only say "each item is one of these"
        prefix = [_schema(sub) for sub in s.pop("prefixItems")]
        s["items"] = prefix[0] if len(prefix) == 1 else {"anyOf": prefix}
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(key), list):
            s[key] = [_schema(sub) for sub in s[key]]
    if "const" in s:
        s["enum"] = [s.pop("const")]
    if "examples" in s:
        examples = s.pop("examples")
        if isinstance(examples, list) and examples:
            s["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(bound), (int, float)) and not isinstance(s.get(bound), bool):
            s[plain] = s.pop(bound)
            s[bound] = True
    if s.get("required") == []:
        del s["required"]  # 3.0 wants at least one name in a `required` list
    _type_arrays(s)
    _null_alternatives(s)
    if s.get("type") == "array" and "items" not in s:
        s["items"] = {}  # 3.0 requires items; 3.1's default is "anything"
    return s


def _type_arrays(s: dict) -> None:
    types = s.get("type")
    if not isinstance(types, list):
        if types == "null":
            del s["type"]
            s["nullable"] = True
        return
    concrete = [t for t in types if t != "null"]
    if len(concrete) < len(types):
        s["nullable"] = True
    if len(concrete) == 1:
        s["type"] = concrete[0]
    else:
        del s["type"]
        alternatives = [{"type": t, **({"items": {}} if t == "array" else {})} for t in concrete]
        if alternatives:
            s["anyOf"] = alternatives


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema == {"nullable": True})


def _null_alternatives(s: dict) -> None:
    """oneOf/anyOf [X, null] -> X with nullable: true (an allOf wrapper for a $ref, whose
    siblings 3.0 ignores)."""
    for key in ("oneOf", "anyOf"):
        alternatives = s.get(key)
        if not isinstance(alternatives, list) or not any(_is_null(a) for a in alternatives):
            continue
        rest = [a for a in alternatives if not _is_null(a)]
        del s[key]
        s["nullable"] = True
        if len(rest) == 1:
            only = rest[0]
            if "$ref" in only:
                s["allOf"] = [only]
            else:
                for k, v in only.items():
                    s.setdefault(k, v)
        elif rest:
            s[key] = rest


def _operations(doc: dict):
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            if isinstance(item.get(method), dict):
                yield (path, method), item[method]


def _media(operation: dict):
    body = operation.get("requestBody")
    if isinstance(body, dict):
        yield from body.get("content", {}).values()
    for response in operation.get("responses", {}).values():
        if isinstance(response, dict):
            yield from response.get("content", {}).values()


def for_external_services(document: dict) -> dict:
    """Apply the External Services subset to a 3.0 document."""
    doc = copy.deepcopy(document)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    seen_ids: set[str] = set()
    for (path, method), operation in _operations(doc):
        if method == "get":
            operation.pop("requestBody", None)
        dropped = NON_JSON_SWITCHES.get((path, method), set())
        if "parameters" in operation:
            operation["parameters"] = [p for p in operation["parameters"] if p.get("name") not in dropped]
        for holder in (operation.get("requestBody"), *operation.get("responses", {}).values()):
            if isinstance(holder, dict) and "content" in holder:
                holder["content"] = {m: v for m, v in holder["content"].items() if m in _JSON_MEDIA_TYPES}
                if not holder["content"]:
                    del holder["content"]
        if not operation.get("operationId"):
            operation["operationId"] = _operation_id(method, path)
        base, n = operation["operationId"], 2
        while operation["operationId"] in seen_ids:
            operation["operationId"], n = f"{base}{n}", n + 1
        seen_ids.add(operation["operationId"])
    _walk_schemas(doc, schemas)
    _trim_descriptions(doc)
    return doc


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.split("/") if w]
    return method + "".join(w[:1].upper() + w[1:] for w in words)


def _walk_schemas(doc: dict, schemas: dict) -> None:
    """Drop `not` and hoist arrays nested directly in arrays, everywhere in the document."""
    counter = [0]

    def visit(node: Any, name_hint: str) -> None:
        if isinstance(node, dict):
            node.pop("not", None)
            if node.get("type") == "array" and isinstance(node.get("items"), dict):
                inner = node["items"]
                if inner.get("type") == "array" and "$ref" not in inner:
                    counter[0] += 1
                    name = f"{name_hint}Items{counter[0]}"
                    schemas[name] = inner
                    node["items"] = {"$ref": f"#/components/schemas/{name}"}
                    visit(inner, name)
            for value in list(node.values()):
                visit(value, name_hint)
        elif isinstance(node, list):
            for value in node:
                visit(value, name_hint)

    for name in list(schemas):
        visit(schemas[name], name)
    for path_item in doc.get("paths", {}).values():
        visit(path_item, "Inline")


def _trim_descriptions(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str) and len(value) > DESCRIPTION_LIMIT:
                node[key] = value[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
            else:
                _trim_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            _trim_descriptions(value)


def external_services_document(document_31: dict) -> dict:
    return for_external_services(downgrade(document_31))
