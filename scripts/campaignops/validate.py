"""Check campaign, template and profile specs (schema, then meaning) and report located problems."""

from __future__ import annotations

import difflib
import itertools
import json
import os
import re
import string
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from . import dataquery, source
from .problems import FORMATTERS, JsonPath, Problem
from .source import Document
from .spec import CAMPAIGN_FILE, SCHEMA_DIR

MAX_SOURCE_BYTES = 64 << 20  # an ID list for a whole data release is a few MB

_GROUP_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")  # grouping.py puts values into group and collection names
_INTEGER = re.compile(r"^-?[0-9]+$")

OUTPUT_PLACEHOLDERS = ("campaign", "stack", "ticket", "operator")
NAME_PLACEHOLDERS = ("stack", "date")

__all__ = ["FORMATTERS", "Problem", "check_cron", "check_file", "check_paths", "default_paths", "expand"]


# --- which file is which -----------------------------------------------------------------------

def kind_of(file: str) -> str:
    """'profile', 'template' or 'campaign', from where the file (relative to the root) sits."""
    parts = Path(file).parts
    if len(parts) == 3 and parts[0] == "campaigns" and parts[1] in ("profiles", "templates"):
        return "profile" if parts[1] == "profiles" else "template"
    return "campaign"


def default_paths(root: Path) -> list[Path]:
    """Every spec of the repository: campaigns/*/campaign.yaml, profiles and templates."""
    campaigns = root / "campaigns"
    return (sorted(campaigns.glob(f"*/{CAMPAIGN_FILE}"))
            + sorted(campaigns.glob("profiles/*.yaml"))
            + sorted(campaigns.glob("templates/*.yaml")))


def expand(paths: Sequence[Path], root: Path) -> tuple[list[Path], list[Problem]]:
    """Files to check: directories are searched for campaign.yaml (and profiles/templates below them)."""
    files: list[Path] = []
    problems: list[Problem] = []
    defaults = default_paths(root)
    for p in paths:
        if p.is_dir():
            here = p.resolve()
            found = sorted({*(d for d in defaults if d.resolve().is_relative_to(here)),
                            *(c for c in p.rglob(CAMPAIGN_FILE) if not _skipped(c.relative_to(p)))})
            if not found:
                problems.append(Problem(source.display_name(p, root), 1, 1, "",
                                        f"no {CAMPAIGN_FILE} (nor profile or template) in this directory",
                                        "pass a campaign folder such as campaigns/<name>, or a .yaml file"))
            files.extend(found)
        else:
            files.append(p)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.absolute()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def _skipped(relative: Path) -> bool:
    # `campaign validate .` must not wander into virtualenvs, node_modules or .git.
    return any(part.startswith(".") or part == "node_modules" for part in relative.parts[:-1])


def check_paths(paths: list[Path], root: Path) -> list[Problem]:
    """Problems of every file in `paths` (directories searched), in file order."""
    files, problems = expand(paths, root)
    for f in files:
        problems.extend(check_file(f, root)[0])
    return problems


def check_file(path: Path, root: Path) -> tuple[list[Problem], dict[str, Any] | None]:
    """Problems of one spec file and its plain data (None when it did not parse to a mapping)."""
    doc, problems = source.read(path, root)
    if doc is None:
        return problems, None
    if problems:  # keys that are not text, custom tags: the data is not what the author meant
        return sorted(problems), doc.data
    kind = kind_of(doc.file)
    schema_problems = check_schema(doc, "profile" if kind == "profile" else "campaign")
    if schema_problems:
        # The meaning checks assume the shapes the schema promises; fix the shape first.
        return schema_problems, doc.data
    if kind == "profile":
        found = _profile_semantics(doc, path)
    else:
        found = list(_campaign_semantics(doc, path, root, template=kind == "template"))
    return sorted(set(found)), doc.data


# --- schema ------------------------------------------------------------------------------------

@cache
def _validator(name: str) -> Draft202012Validator:
    # Compiled once per process: building a validator costs more than checking a file.
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {}), 0))


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


def _guess(word: Any, options: Sequence[Any]) -> str:
    if not isinstance(word, str):
        return ""
    match = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _field(path: JsonPath) -> str:
    names = [p for p in path if isinstance(p, str)]
    return names[-1] if names else "value"


def _about(schema: Any) -> str:
    return str(schema.get("description", "")) if isinstance(schema, dict) else ""


def check_schema(doc: Document, name: str) -> list[Problem]:
    found: list[Problem] = []
    for error in _validator(name).iter_errors(doc.data):
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
                yield doc.problem(path + (key,), f"unknown key '{key}'{_guess(key, allowed)}",
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
        yield doc.problem(path, f"{_short(value)} is not one of: {options}{_guess(value, rule)}",
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
                          f"{_guess(value['by'], kinds)}", f"use one of: {options}")
    else:
        chosen = kinds.index(value["by"])
        for sub in error.context or ():
            if sub.relative_schema_path and sub.relative_schema_path[0] == chosen:
                yield from _explain(sub, doc)


# --- meaning -------------------------------------------------------------------------------------

def _profile_semantics(doc: Document, path: Path) -> list[Problem]:
    name = doc.data["name"]
    if name != path.stem:
        return [doc.problem(("name",), f"profile name '{name}' differs from its file name '{path.stem}.yaml'",
                            f"set name: {path.stem}, or rename the file to {name}.yaml")]
    return []


def _campaign_semantics(doc: Document, path: Path, root: Path, template: bool) -> Iterator[Problem]:
    data = doc.data
    name = data["name"]
    if template:
        if name != path.stem:
            yield doc.problem(("name",),
                              f"template name '{name}' differs from its file name '{path.stem}.yaml'",
                              f"set name: {path.stem}, or rename the file to campaigns/templates/{name}.yaml")
        if "schedule" not in data:
            yield doc.problem((), "a template needs a schedule (when to make an instance, and its name)",
                              "add schedule: {cron: '0 6 * * 1', name_pattern: '" + name + "-{stack}'}")
    elif path.name == CAMPAIGN_FILE and name != path.parent.name:
        folder = path.parent.name
        yield doc.problem(("name",), f"campaign name '{name}' differs from its folder name '{folder}'",
                          f"set name: {folder}, or move the file to campaigns/{name}/{CAMPAIGN_FILE}")

    yield from _check_profile_ref(doc, root)
    yield from _check_patterns(doc)
    if "schedule" in data:
        error = check_cron(data["schedule"]["cron"])
        if error:
            yield doc.problem(("schedule", "cron"), f"bad cron {data['schedule']['cron']!r}: {error}",
                              "five fields in UTC: minute hour day-of-month month day-of-week, "
                              "e.g. '0 6 * * 1' (Mondays at 06:00)")
    yield from _check_query(doc, ("data_query",))
    labels, pipeline_problem = pipeline_labels(data["pipeline"], root)
    if pipeline_problem:
        yield doc.problem(("pipeline",), pipeline_problem[0], pipeline_problem[1])
    yield from _check_steps(doc, path, root, labels, data["pipeline"])


def _check_profile_ref(doc: Document, root: Path) -> Iterator[Problem]:
    profile = doc.data["profile"]
    folder = root / "campaigns" / "profiles"
    if (folder / f"{profile}.yaml").is_file():
        return
    known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
    yield doc.problem(("profile",), f"unknown profile '{profile}'{_guess(profile, known)}",
                      f"known profiles (campaigns/profiles/): {', '.join(known)}" if known
                      else "add campaigns/profiles/<name>.yaml first; there is no profile yet")


def _placeholders(pattern: str) -> tuple[list[str], str | None]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None], None
    except ValueError as exc:
        return [], str(exc)


def _check_patterns(doc: Document) -> Iterator[Problem]:
    checks: list[tuple[JsonPath, str, tuple[str, ...]]] = [
        (("butler", "output"), doc.data["butler"]["output"], OUTPUT_PLACEHOLDERS)]
    if "schedule" in doc.data:
        checks.append((("schedule", "name_pattern"), doc.data["schedule"]["name_pattern"], NAME_PLACEHOLDERS))
    for where, pattern, allowed in checks:
        fields, error = _placeholders(pattern)
        allowed_text = ", ".join("{" + a + "}" for a in allowed)
        if error:
            yield doc.problem(where, f"broken placeholder in {pattern!r}: {error}",
                              f"write placeholders as {allowed_text}, with matching braces")
        for f in fields:
            if f not in allowed:
                yield doc.problem(where, f"unknown placeholder {{{f}}} in {pattern!r}{_guess(f, allowed)}",
                                  f"placeholders here: {allowed_text}")


def _check_query(doc: Document, where: JsonPath) -> Iterator[Problem]:
    node: Any = doc.data
    for part in where:
        node = node.get(part) if isinstance(node, dict) else node[part]
    if isinstance(node, str):
        error = dataquery.check(node)
        if error:
            yield doc.problem(where, f"malformed data query: {error}",
                              "balance quotes and parentheses and put a condition on both sides of "
                              "AND/OR, e.g. instrument='HSC' AND tract IN (9615, 9697)")


def _check_steps(doc: Document, path: Path, root: Path, labels: set[str] | None,
                 pipeline: str) -> Iterator[Problem]:
    steps: list[dict[str, Any]] = doc.data["steps"]
    first: dict[str, int] = {}
    for i, step in enumerate(steps):
        name = step["name"]
        if name in first:
            yield doc.problem(("steps", i, "name"),
                              f"step name '{name}' is already used by steps[{first[name]}]",
                              "give every step its own name")
        else:
            first[name] = i
    names = list(first)
    for i, step in enumerate(steps):
        for j, req in enumerate(step.get("requires", ())):
            if req not in first:
                yield doc.problem(("steps", i, "requires", j),
                                  f"requires unknown step '{req}'{_guess(req, names)}",
                                  f"steps in this campaign: {', '.join(names)}")
        if step.get("gate", "auto") == "auto" and "approved_by" in step:
            yield doc.problem(("steps", i, "approved_by"),
                              "approved_by only means something with gate: manual",
                              "remove approved_by, or set gate: manual")
        yield from _check_query(doc, ("steps", i, "data_query"))
        if labels is not None:
            for j, subset in enumerate(step["subsets"]):
                if subset not in labels:
                    known = sorted(labels)
                    shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                    yield doc.problem(("steps", i, "subsets", j),
                                      f"subset '{subset}' is not in the pipeline {pipeline}"
                                      f"{_guess(subset, known)}",
                                      f"subsets and task labels it defines: {shown}")
        split = step.get("split")
        if split and split["by"] == "values":
            yield from _check_values_split(doc, ("steps", i, "split"), split)
        elif split and split["by"] == "count":
            yield from _check_count_source(doc, ("steps", i, "split"), split, path, root)
    yield from _check_cycles(doc, steps, first)


Edge = tuple[str, JsonPath | None]  # (required step, where the requirement is written; None: by default)


def _check_cycles(doc: Document, steps: list[dict[str, Any]], first: dict[str, int]) -> Iterator[Problem]:
    # A step without `requires` depends on the one before it (model.Campaign.from_dict does the same).
    edges: dict[str, list[Edge]] = {n: [] for n in first}
    for i, step in enumerate(steps):
        if first[step["name"]] != i:
            continue  # a duplicate name is reported already
        if "requires" in step:
            edges[step["name"]] = [(r, ("steps", i, "requires", j))
                                   for j, r in enumerate(step["requires"]) if r in first]
        elif i > 0:
            edges[step["name"]] = [(steps[i - 1]["name"], None)]
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    reported: set[frozenset[str]] = set()
    for start in first:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        trail: list[str] = [start]
        state[start] = 1
        while stack:
            node, k = stack[-1]
            if k < len(edges[node]):
                stack[-1] = (node, k + 1)
                nxt = edges[node][k][0]
                if state.get(nxt) == 1:
                    cycle = trail[trail.index(nxt):] + [nxt]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        yield _cycle_problem(doc, cycle, edges)
                elif not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    trail.append(nxt)
            else:
                state[node] = 2
                stack.pop()
                trail.pop()


def _cycle_problem(doc: Document, cycle: list[str], edges: dict[str, list[Edge]]) -> Problem:
    where: JsonPath = ("steps",)
    implicit = []
    for a, b in itertools.pairwise(cycle):
        for target, at in edges[a]:
            if target == b:
                if at is None:
                    implicit.append(f"{a} requires {b} because it follows it and has no requires:")
                elif where == ("steps",):
                    where = at
    message = "steps require each other in a cycle: " + " → ".join(cycle)
    if implicit:
        message += " (" + "; ".join(implicit) + ")"
    return doc.problem(where, message, "remove one requirement of the cycle; a step may require a later "
                                       "step only if that one does not depend back on it")


def _check_values_split(doc: Document, at: JsonPath, split: dict[str, Any]) -> Iterator[Problem]:
    dim = split["dimension"]
    if "values" in split and "ranges" in split:
        yield doc.problem(at + ("ranges",), "give either values or ranges, not both",
                          "keep one of them: each makes its own groups")
    elif "values" not in split and "ranges" not in split:
        yield doc.problem(at, "by: values needs values: [...] or ranges: [{min: .., max: ..}]",
                          f"list the {dim}s, e.g. values: [9615, 9697], or give ranges")
    seen: dict[str, int] = {}
    group_names: dict[str, int] = {}
    for j, entry in enumerate(split.get("values", ())):
        members = entry if isinstance(entry, list) else [entry]
        repeated = False
        for member in members:
            if isinstance(member, str) and not _GROUP_VALUE.match(member):
                yield doc.problem(at + ("values", j), f"value {member!r} cannot go into a group name or a "
                                  "data query", "use letters, digits, '_', '.' and '-' only")
            key = str(member)  # 9615 and '9615' name the same data ID and the same group
            if key in seen:
                where = "the same entry" if seen[key] == j else f"values[{seen[key]}]"
                yield doc.problem(at + ("values", j), f"{dim} {member} is already in {where}: it would be "
                                  "processed twice", "list every value once")
                repeated = True
            else:
                seen[key] = j
        # grouping.py names a group <dimension><v1>-<v2>-...: different lists can collide.
        group = dim + "-".join(str(m) for m in members)
        if group in group_names and not repeated:
            yield doc.problem(at + ("values", j), f"this entry makes the group name '{group}', like "
                              f"values[{group_names[group]}]", "group names must be unique in a step: "
                              "merge or reorder the entries")
        group_names.setdefault(group, j)
    ranges = split.get("ranges", ())
    names: dict[str, int] = {}
    for j, r in enumerate(ranges):
        if r["min"] > r["max"]:
            yield doc.problem(at + ("ranges", j, "min"), f"min {r['min']} is greater than max {r['max']}: "
                              "the range is empty", "swap min and max (both are inclusive)")
        name = r.get("name") or f"{dim}{r['min']}-{r['max']}"
        if name in names and (ranges[names[name]]["min"], ranges[names[name]]["max"]) != (r["min"], r["max"]):
            yield doc.problem(at + ("ranges", j),
                              f"group name '{name}' is already used by ranges[{names[name]}]",
                              "give every range its own name")
        names.setdefault(name, j)
    order = sorted((r["min"], r["max"], j) for j, r in enumerate(ranges) if r["min"] <= r["max"])
    furthest: tuple[int, int, int] | None = None
    for lo, hi, j in order:
        if furthest is not None and lo <= furthest[1]:
            earlier, later = sorted((furthest[2], j))
            span = f"{ranges[later]['min']}-{ranges[later]['max']}"
            other = f"{ranges[earlier]['min']}-{ranges[earlier]['max']}"
            yield doc.problem(at + ("ranges", later), f"range {span} overlaps ranges[{earlier}] ({other}): "
                              f"those {dim}s would be processed twice",
                              "make the ranges disjoint (min and max are inclusive)")
        if furthest is None or hi > furthest[1]:
            furthest = (lo, hi, j)


def _check_count_source(doc: Document, at: JsonPath, split: dict[str, Any], path: Path,
                        root: Path) -> Iterator[Problem]:
    name = split["source"]
    where = at + ("source",)
    target = path.parent / name
    shown = source.display_name(target, root)
    try:
        inside = target.resolve().is_relative_to(root.resolve())
        exists = target.is_file()
    except (OSError, RuntimeError):
        inside, exists = True, False
    if not inside:
        yield doc.problem(where, f"split source '{name}' is outside the repository",
                          "keep ID lists in the repository so every plan can be reproduced from git")
        return
    if not exists:
        yield doc.problem(where, f"split source '{name}' not found (looked for {shown})",
                          f"create it with one {split['dimension']} ID per line, or fix the path "
                          "(it is relative to the campaign file)")
        return
    try:
        with target.open("rb") as stream:
            text = stream.read(MAX_SOURCE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield doc.problem(where, f"split source '{name}' cannot be read: {exc}", "save it as UTF-8 text")
        return
    seen: dict[int, int] = {}
    repeats: list[tuple[int, int, int]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        token = line.split("#", 1)[0].strip()
        if not token:
            continue
        if not _INTEGER.match(token):
            # Every splittable dimension (visit, exposure, tract, detector, patch) has integer IDs.
            yield doc.problem(where, f"split source '{name}' line {lineno}: {token!r} is not an integer "
                              f"{split['dimension']} ID",
                              "write one integer ID per line ('#' starts a comment)")
            return
        ident = int(token)
        if ident in seen:
            repeats.append((ident, seen[ident], lineno))
        else:
            seen[ident] = lineno
    if not seen:
        yield doc.problem(where, f"split source '{name}' holds no IDs",
                          f"write one {split['dimension']} ID per line ('#' starts a comment)")
    elif repeats:
        ident, a, b = repeats[0]
        more = f" (and {len(repeats) - 1} more repeated)" if len(repeats) > 1 else ""
        yield doc.problem(where, f"split source '{name}' lists {ident} twice (lines {a} and {b}){more}",
                          "list every ID once: a repeated ID would be processed twice")


# --- the pipeline file -----------------------------------------------------------------------------

_PIPELINES: dict[tuple[str, int, int], tuple[set[str] | None, tuple[str, str] | None]] = {}


def _pipeline_file(location: str, root: Path) -> Path | None:
    expanded = os.path.expandvars(location.removeprefix("file://"))
    if "$" in expanded or "://" in expanded:
        return None  # an unset variable or a remote URI: cannot be checked here
    p = Path(expanded)
    return p if p.is_absolute() else root / p


def pipeline_labels(location: str, root: Path) -> tuple[set[str] | None, tuple[str, str] | None]:
    """Subset and task labels of the pipeline at `location`, None when it cannot be reached here.

    The second item is a (message, fix) when the pipeline is there but unusable.
    """
    if "#" in location:
        return None, ("the pipeline must not name subsets after '#'",
                      "drop the '#...' part and list the subsets in each step's subsets:")
    return _labels(location, root, 0)


def _labels(location: str, root: Path, depth: int) -> tuple[set[str] | None, tuple[str, str] | None]:
    path = _pipeline_file(location, root)
    if path is None or depth > 10:
        return None, None
    try:
        stat = path.stat()
    except OSError:
        return None, None  # not on this machine (e.g. not set up here): the site will tell
    if not path.is_file():  # a directory or a device (/dev/zero would never end)
        return None, (f"the pipeline {location} is not a file", "point pipeline: at a pipeline YAML file")
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _PIPELINES:
        return _PIPELINES[key]
    result: tuple[set[str] | None, tuple[str, str] | None]
    try:
        if stat.st_size > source.MAX_BYTES * 8:
            raise ValueError("the file is too large to be a pipeline")
        data = yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(data, dict):
            raise ValueError("its top level is not a mapping")  # not TypeError: reported like a YAML error
        labels = {str(k) for part in ("tasks", "subsets") if isinstance(data.get(part), dict)
                  for k in data[part]}
        result = (labels, None)
        for entry in data.get("imports") or ():
            where = entry.get("location") if isinstance(entry, dict) else entry
            inner, _ = _labels(str(where), root, depth + 1) if where else (None, None)
            if inner is None:
                result = (None, None)  # an import we cannot follow may define any label
                break
            labels |= inner
    except (OSError, ValueError, yaml.YAMLError, AttributeError, TypeError, RecursionError) as exc:
        result = (None, (f"the pipeline file {location} cannot be read: {exc}",
                         "fix the pipeline file or point pipeline: at the right one"))
    _PIPELINES[key] = result
    return result


# --- cron ----------------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day-of-week", 0, 7, _DAYS),
)


class _CronError(Exception):
    pass


def check_cron(expression: str) -> str | None:
    """None when `expression` is a valid five-field cron line, else which field is wrong and why."""
    fields = expression.split()
    if expression.strip().startswith("@"):
        return "macros such as @daily are not supported by GitHub Actions schedules; write five fields"
    if len(fields) != 5:
        return f"it has {len(fields)} field{'s' if len(fields) != 1 else ''}; cron needs 5 " \
               "(minute hour day-of-month month day-of-week)"
    for text, (name, lo, hi, names) in zip(fields, _CRON_FIELDS, strict=True):
        try:
            _cron_field(text, lo, hi, names)
        except _CronError as exc:
            return f"{name} field {text!r}: {exc}"
    return None


def _cron_field(text: str, lo: int, hi: int, names: dict[str, int]) -> None:
    for part in text.split(","):
        if not part:
            raise _CronError("a list has an empty entry")
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            raise _CronError(f"the step '/{step}' must be a whole number of at least 1")
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        a = _cron_value(first, lo, hi, names)
        if dash:
            b = _cron_value(last, lo, hi, names)
            if a > b:
                raise _CronError(f"the range {base} runs backwards")


def _cron_value(token: str, lo: int, hi: int, names: dict[str, int]) -> int:
    if token.isdigit():
        value = int(token)
        if not lo <= value <= hi:
            raise _CronError(f"{value} is outside {lo}-{hi}")
        return value
    if token.lower() in names:
        return names[token.lower()]
    if not token:
        raise _CronError("a range is missing a number")
    spelled = f" or a name ({', '.join(names)})" if names else ""
    raise _CronError(f"'{token}' is not a number{spelled}")
