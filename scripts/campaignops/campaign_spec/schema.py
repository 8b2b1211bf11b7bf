"""The JSON schemas (package data) and their errors in plain words, at the key or item they are about."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from ..domain.actions import RunAction
from ..domain.problems import JsonPath, Problem, did_you_mean
from ..domain.wms import WmsKind
from .source import Document

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema `name` (campaign, profile, ledger) as shipped inside the package."""
    text = resources.files(__package__).joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    _fill_vocabularies(data)
    return data


# The vocabularies of the domain, kept in one place each: a schema names one with `x-vocabulary` (a keyword
# other JSON Schema tools ignore) and gets its words as the enum, so a new WMS kind or rule action is added
# in domain/ alone.
VOCABULARIES: dict[str, list[str]] = {"WmsKind": [k.value for k in WmsKind], "RunAction": [a.value for a in RunAction]}


def _fill_vocabularies(node: Any) -> None:
    if isinstance(node, dict):
        if "x-vocabulary" in node:
            node["enum"] = VOCABULARIES[node["x-vocabulary"]]
        for value in node.values():
            _fill_vocabularies(value)
    elif isinstance(node, list):
        for value in node:
            _fill_vocabularies(value)


@cache
def validator(name: str, definition: str | None = None) -> Draft202012Validator:
    """The validator of schema `name`, or of its `$defs/<definition>` (a document described there)."""
    # Compiled once per process: building a validator costs more than checking a file.
    from jsonschema import Draft202012Validator  # ~60 ms to import: only when something is to be explained

    loaded = schema(name)
    defs = loaded.get("$defs", {})
    return Draft202012Validator(_inline_refs(defs[definition] if definition else loaded, defs, 0))


def _inline_refs(node: Any, defs: dict[str, Any], depth: int) -> Any:
    """The schema with local `#/$defs/x` references replaced by their target.

    Resolving a $ref is a third of jsonschema's time on a campaign; our schemas are not recursive.
    A description next to the $ref wins over the definition's, as it says more about the property.
    """
    if depth > 50:
        raise ValueError("schema $refs nest too deeply (a recursive definition?)")
    if isinstance(node, list):
        return [_inline_refs(n, defs, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        target = _inline_refs(defs[ref[8:]], defs, depth + 1)
        return {**target, **{k: _inline_refs(v, defs, depth + 1) for k, v in node.items() if k != "$ref"}}
    return {k: (v if k == "$defs" else _inline_refs(v, defs, depth + 1)) for k, v in node.items()}


_TYPE_WORDS = {
    "string": "text", "integer": "a whole number", "number": "a number", "array": "a list",
    "object": "a mapping (key: value)", "boolean": "true or false", "null": "empty",
}


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(path: JsonPath) -> str:
    names = [p for p in path if isinstance(p, str)]
    return names[-1] if names else "value"


def _about(schema: Any) -> str:
    return str(schema.get("description", "")) if isinstance(schema, dict) else ""


@cache
def _fast(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(schema(name))


def is_valid(data: Any, name: str) -> bool:
    """Whether `data` passes schema `name`, decided by jsonschema-rs (~40× faster than jsonschema on a
    campaign). Its answer only skips work: a document it refuses is explained by jsonschema, and a value
    it cannot take (not JSON data) counts as refused, so the explanation decides."""
    try:
        return bool(_fast(name).is_valid(data))
    except (ValueError, TypeError, OverflowError):
        return False


def check_schema(doc: Document, name: str) -> list[Problem]:
    """Every schema error of `doc` in plain words (none when jsonschema-rs finds the document valid)."""
    if is_valid(doc.data, name):
        return []
    found: list[Problem] = []
    for error in validator(name).iter_errors(doc.data):
        found.extend(_explain(error, doc))
    return sorted(set(found))


def _explain(error: ValidationError, doc: Document) -> Iterator[Problem]:
    """One JSON-Schema error in plain words, at the key or item it is about."""
    path: JsonPath = tuple(error.absolute_path)
    kind = error.validator
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    rule: Any = error.validator_value
    about = _about(schema)

    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(schema.get("properties", {}))
        for key in value:
            if key not in allowed:
                yield doc.problem(path + (key,), f"unknown key '{key}'{did_you_mean(key, allowed)}",
                                  f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it")
    elif kind == "required" and isinstance(value, dict):
        for key in rule:
            if key not in value:
                what = _about(schema.get("properties", {}).get(key))
                yield doc.problem(path, f"missing required key '{key}'",
                                  f"add `{key}:`" + (f" ({what})" if what else ""))
    elif kind == "oneOf" and _is_split(rule):
        yield from _explain_split(error, doc, path, value, rule)
    elif kind == "type":
        wanted = [rule] if isinstance(rule, str) else list(rule)
        expected = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        if wanted == ["array"] and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            fix = f"write it as a list: [{value}]"
        else:
            fix = about or f"write {expected}"
        yield doc.problem(path, f"must be {expected}, not {_describe(value)}", fix)
    elif kind == "enum":
        options = ", ".join(str(o) for o in rule)
        yield doc.problem(path, f"{_short(value)} is not one of: {options}{did_you_mean(value, rule)}",
                          f"use one of: {options}")
    elif kind == "const":
        yield doc.problem(path, f"must be {rule!r}, not {_short(value)}", about)
    elif kind == "pattern":
        yield doc.problem(path, f"{_short(value)} is not a valid {_field(path)}",
                          about or f"it must match the regular expression {rule}")
    elif kind in ("minLength", "minItems"):
        what = "text" if kind == "minLength" else "list"
        message = "must not be empty" if rule == 1 else f"is too short (at least {rule} needed)"
        yield doc.problem(path, message, about or f"write a non-empty {what}")
    elif kind in ("maxLength", "maxItems"):
        yield doc.problem(path, f"is too long (at most {rule})", about)
    elif kind in ("minimum", "exclusiveMinimum"):
        yield doc.problem(path, f"{value} is below the minimum {rule}", about)
    elif kind in ("maximum", "exclusiveMaximum"):
        yield doc.problem(path, f"{value} is above the maximum {rule}", about)
    elif kind == "anyOf" and isinstance(rule, list):
        branch_types = [b.get("type") for b in rule if isinstance(b, dict)]
        words = [_TYPE_WORDS.get(t, str(t)) for t in branch_types if isinstance(t, str)]
        yield doc.problem(path, f"must be {', '.join(words[:-1])} or {words[-1]}, not {_describe(value)}"
                          if len(words) > 1 else error.message, about)
    else:
        yield doc.problem(path, error.message, about)


def _is_split(branches: Any) -> bool:
    return isinstance(branches, list) and all(
        isinstance(b, dict) and "const" in b.get("properties", {}).get("by", {}) for b in branches)


def _explain_split(error: ValidationError, doc: Document, path: JsonPath, value: Any,
                   branches: list[dict[str, Any]]) -> Iterator[Problem]:
    """Report the error of the branch the author chose with `by:`, not a wall of oneOf text."""
    kinds = [b["properties"]["by"]["const"] for b in branches]
    options = ", ".join(kinds)
    if not isinstance(value, dict):
        yield doc.problem(path, f"must be a mapping, not {_describe(value)}",
                          "write split: {by: values, dimension: tract, values: [9615, 9697]} "
                          f"(by: one of {options})")
    elif "by" not in value:
        yield doc.problem(path, "missing required key 'by'", f"add `by:` with one of: {options}")
    elif value["by"] not in kinds:
        yield doc.problem(path + ("by",), f"{_short(value['by'])} is not one of: {options}"
                          f"{did_you_mean(value['by'], kinds)}", f"use one of: {options}")
    else:
        chosen = kinds.index(value["by"])
        for sub in error.context or ():
            if sub.relative_schema_path and sub.relative_schema_path[0] == chosen:
                yield from _explain(sub, doc)
