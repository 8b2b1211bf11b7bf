"""Check campaign, template and profile specs (schema, then meaning) and report located problems."""

from __future__ import annotations

import itertools
import os
import re
import string
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..domain import dataquery
from ..domain.checks import CAMPAIGN_SCOPE, EVERY_OUTPUT
from ..domain.model import DEVELOPER_SEPARATOR, REPO_PLACEHOLDERS, repo_for
from ..domain.problems import FORMATTERS, JsonPath, Problem, did_you_mean
from . import rules, source
from .cron import check_cron
from .failure_rules import RULES_FILE, check_rules_file
from .parse import queues_from_dict
from .pipeline import pipeline_labels, pipeline_outputs
from .schema import check_schema
from .source import Document

CAMPAIGN_FILE = "campaign.yaml"

MAX_SOURCE_BYTES = 64 << 20  # an ID list for a whole data release is a few MB

_GROUP_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")  # grouping.py puts values into group and collection names
_INTEGER = re.compile(r"^-?[0-9]+$")

OUTPUT_PLACEHOLDERS = ("campaign", "stack", "ticket", "operator")
NAME_PLACEHOLDERS = ("stack", "date")

__all__ = ["CAMPAIGN_FILE", "FORMATTERS", "Problem", "check_cron", "check_document", "check_file", "check_paths", "default_paths",
           "expand", "local_path_warnings", "pipeline_labels", "profile_data"]


# --- which file is which -----------------------------------------------------------------------

def kind_of(file: str) -> str:
    """'profile', 'template', 'rules' or 'campaign', from where the file (relative to the root) sits."""
    parts = Path(file).parts
    if parts and parts[0] == "campaigns" and parts[-1] == RULES_FILE and len(parts) in (2, 3):
        return "rules"
    if len(parts) == 3 and parts[0] == "campaigns" and parts[1] in ("profiles", "templates"):
        return "profile" if parts[1] == "profiles" else "template"
    return "campaign"


def default_paths(root: Path) -> list[Path]:
    """Every spec of the repository: campaigns/*/campaign.yaml, profiles and templates."""
    campaigns = root / "campaigns"
    return (sorted(campaigns.glob(f"*/{CAMPAIGN_FILE}"))
            + sorted(campaigns.glob("profiles/*.yaml"))
            + sorted(campaigns.glob("templates/*.yaml"))
            + sorted(p for p in (campaigns / RULES_FILE, *campaigns.glob(f"*/{RULES_FILE}")) if p.exists()))


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
    problems, doc = check_document(path, root)
    return problems, doc.data if doc is not None else None


def check_document(path: Path, root: Path) -> tuple[list[Problem], Document | None]:
    """Problems of one spec file and its parsed document: one read, one parse, one schema check.

    A profile is checked once per process (and again only when its file changes): 500 campaigns
    naming it share the result.
    """
    try:
        stat = path.stat()
        key: tuple[str, str, int, int] | None = (str(path), str(root), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and key in _PROFILES:
        found, doc = _PROFILES[key]
        return list(found), doc
    result = _check_document(path, root)
    if key is not None and result[1] is not None and kind_of(result[1].file) == "profile":
        _PROFILES[key] = result
    return list(result[0]), result[1]


_PROFILES: dict[tuple[str, str, int, int], tuple[list[Problem], Document | None]] = {}


def _check_document(path: Path, root: Path) -> tuple[list[Problem], Document | None]:
    doc, problems = source.read(path, root)
    if doc is None:
        return problems, None
    if problems:  # keys that are not text, custom tags: the data is not what the author meant
        return sorted(problems), doc
    kind = kind_of(doc.file)
    if kind == "rules":
        return check_rules_file(path, root)[0], doc
    schema_problems = check_schema(doc, "profile" if kind == "profile" else "campaign")
    if schema_problems:
        # The meaning checks assume the shapes the schema promises; the reference checks whose part of the
        # file has the right shape still run, so one round shows every mistake (issue 22).
        if kind in ("campaign", "template"):
            schema_problems = sorted({*schema_problems, *_references(doc, root, schema_problems)})
        return schema_problems, doc
    if kind == "profile":
        found = _profile_semantics(doc, path)
    else:
        found = list(_campaign_semantics(doc, path, root, template=kind == "template"))
    return sorted(set(found)), doc


# --- this machine ------------------------------------------------------------------------------

def local_path_warnings(doc: Document, path: Path) -> list[Problem]:
    """What is wrong on this machine only, so a warning and not an error: a profile's Butler path relative to
    the profile (a local path, beside the control repository) that does not exist here. A profile copied from
    another repository keeps pointing into this one; the demo's site Butlers exist only once the demo built
    them. An absolute path or URL is the site's, checked where the site's runner opens it."""
    if kind_of(doc.file) != "profile" or not isinstance(doc.data, dict):
        return []
    butler = doc.data.get("butler")
    repo = butler.get("repo") if isinstance(butler, dict) else None
    if not isinstance(repo, str) or not rules.is_relative(repo) or "{" in repo:
        return []
    target = Path(os.path.normpath(path.parent.absolute() / repo))
    if target.exists():
        return []
    return [doc.problem(("butler", "repo"), f"Butler repository {repo!r} does not exist here (looked for {target}): "
                        "a relative path is read from this profile's folder, so a profile copied from another "
                        "repository points into this one",
                        "give the absolute path (or URL) of the site's Butler; a relative path only for a Butler "
                        "kept beside this repository, such as the demo's (`campaign demo run --multisite` builds "
                        "them)")]


# --- meaning -------------------------------------------------------------------------------------

def _references(doc: Document, root: Path, schema_problems: list[Problem]) -> Iterator[Problem]:
    """The checks of what a campaign names elsewhere (its profile, sites, the pipeline's labels, its steps)
    on a file with schema errors: each runs only when the part it reads has the shape it needs and no
    schema error of its own."""
    data = doc.data
    broken = {p.path for p in schema_problems}

    def sound(*parts: str) -> bool:
        return not any(b == part or b.startswith((part + ".", part + "[")) for b in broken for part in parts)

    def texts(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    if isinstance(data.get("profile"), str) and sound("profile"):
        yield from _check_profile_ref(doc, root)
    steps = data.get("steps")
    if not (isinstance(steps, list) and all(isinstance(s, dict) for s in steps)):
        return
    if isinstance(data.get("profile"), str) and texts(data.get("sites", [])) and sound("sites", "profile"):
        yield from _check_sites(doc, root)
    pipeline = data.get("pipeline")
    labels = pipeline_labels(pipeline, root)[0] if isinstance(pipeline, str) and sound("pipeline") else None
    names = [s["name"] for s in steps if isinstance(s.get("name"), str)]
    for i, step in enumerate(steps):
        if labels is not None and texts(step.get("subsets")) and sound(f"steps[{i}].subsets"):
            yield from _unknown_subsets(doc, i, step, labels, str(pipeline))
        if texts(step.get("requires")) and sound(f"steps[{i}].requires"):
            yield from _unknown_requires(doc, i, step, names)


def _unknown_subsets(doc: Document, i: int, step: dict[str, Any], labels: set[str],
                     pipeline: str) -> Iterator[Problem]:
    for j, subset in enumerate(step["subsets"]):
        if subset not in labels:
            known = sorted(labels)
            shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
            yield doc.problem(("steps", i, "subsets", j),
                              f"subset '{subset}' is not in the pipeline {pipeline}{did_you_mean(subset, known)}",
                              f"subsets and task labels it defines: {shown}")


def _unknown_requires(doc: Document, i: int, step: dict[str, Any], names: list[str]) -> Iterator[Problem]:
    for j, req in enumerate(step.get("requires", ())):
        if req not in names:
            yield doc.problem(("steps", i, "requires", j), f"requires unknown step '{req}'{did_you_mean(req, names)}",
                              f"steps in this campaign: {', '.join(names)}")


def _profile_semantics(doc: Document, path: Path) -> list[Problem]:
    name = doc.data["name"]
    found = [doc.problem(at, message, "rename the key; nest sections as mappings instead of dotted names")
             for at, message in rules.key_problems(doc.data["bps"], ("bps",))]
    found += [doc.problem(at, message, rules.SHELL_FIX) for at, message in rules.shell_problems(doc.data["bps"],
                                                                                               ("bps",))]
    if name != path.stem:
        found.append(doc.problem(("name",), f"profile name '{name}' differs from its file name "
                                 f"'{path.stem}.yaml'", f"set name: {path.stem}, or rename the file to {name}.yaml"))
    queues = (doc.data.get("queues") or {}).get("by_memory") or []
    names: dict[str, int] = {}
    limits: dict[int, int] = {}
    for i, row in enumerate(queues):
        if row["queue"] in names:
            found.append(doc.problem(("queues", "by_memory", i, "queue"), f"queue {row['queue']} is already "
                                     f"listed in by_memory[{names[row['queue']]}]", "list every queue once"))
        if row["max_memory"] in limits:
            found.append(doc.problem(("queues", "by_memory", i, "max_memory"),
                                     f"max_memory {row['max_memory']} is also by_memory[{limits[row['max_memory']]}]'s:"
                                     " render could not tell which queue a job goes to",
                                     "give every queue its own memory limit"))
        names.setdefault(row["queue"], i)
        limits.setdefault(row["max_memory"], i)
    stacks = doc.data.get("stacks") or {}
    if "listing" in stacks and "tags" in stacks:
        found.append(doc.problem(("stacks", "tags"), "stacks names both a listing and tags: which one the site has "
                                 "would be ambiguous", "keep `listing:` (the directory the stack is set up from) "
                                 "or `tags:`, not both"))
    return found


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
    yield from _check_sites(doc, root)
    profile = _profile_data(doc, root)
    yield from _check_stack(doc, profile)
    yield from _check_memory(doc, profile)
    yield from _check_patterns(doc)
    if "schedule" in data:
        error = check_cron(data["schedule"]["cron"])
        if error:
            yield doc.problem(("schedule", "cron"), f"bad cron {data['schedule']['cron']!r}: {error}",
                              "five fields in UTC: minute hour day-of-month month day-of-week, "
                              "e.g. '0 6 * * 1' (Mondays at 06:00)")
    yield from _check_query(doc, ("data_query",))
    yield from _check_command_line(doc, root)
    labels, pipeline_problem = pipeline_labels(data["pipeline"], root)
    if pipeline_problem:
        yield doc.problem(("pipeline",), pipeline_problem[0], pipeline_problem[1])
    yield from _check_task_labels(doc, ("resources",), labels)
    yield from _check_steps(doc, path, root, labels, data["pipeline"])
    yield from _check_checks(doc, root)


def _check_profile_ref(doc: Document, root: Path) -> Iterator[Problem]:
    profile = doc.data["profile"]
    known = known_profiles(root)
    if profile in known:
        return
    yield doc.problem(("profile",), f"unknown profile '{profile}'{did_you_mean(profile, known)}",
                      f"known profiles (campaigns/profiles/): {', '.join(known)}" if known
                      else "add campaigns/profiles/<name>.yaml first; there is no profile yet")


def _check_sites(doc: Document, root: Path) -> Iterator[Problem]:
    """Multi-site: every listed site is a profile; a step's site is one of them; residency needs sites."""
    data = doc.data
    known = known_profiles(root)
    listed = list(data.get("sites") or ())
    for i, site in enumerate(listed):
        if site not in known:
            yield doc.problem(("sites", i), f"unknown site profile '{site}'{did_you_mean(site, known)}",
                              f"known profiles (campaigns/profiles/): {', '.join(known)}")
    sites = [data["profile"], *[s for s in listed if s != data["profile"]]]
    for i, step in enumerate(data.get("steps") or ()):
        if not isinstance(step, dict):
            continue
        site = step.get("site")
        by = (step.get("split") or {}).get("by") if isinstance(step.get("split"), dict) else None
        if site is not None and site not in sites:
            yield doc.problem(("steps", i, "site"),
                              f"step {step.get('name')} runs at '{site}', which is not a site of this campaign"
                              f"{did_you_mean(site, sites)}",
                              f"add '{site}' to the campaign's 'sites' (now: {', '.join(sites)})"
                              if site in known else f"sites of this campaign: {', '.join(sites)}")
        if by == "residency":
            if len(sites) < 2:
                yield doc.problem(("steps", i, "split", "by"),
                                  "split by residency places one group at each site, but the campaign lists "
                                  "no other site", "add sites: [<central profile>, <other site profiles>…] "
                                  "at the top of the campaign, each profile with its butler.repo")
            if site is not None:
                yield doc.problem(("steps", i, "site"),
                                  "a step split by residency runs each group at its own site; 'site' cannot "
                                  "also place it", "remove 'site' (or split the step another way)")


def known_profiles(root: Path) -> list[str]:
    """The profile names of the repository (campaigns/profiles/*.yaml), listed once per process while the
    folder does not change."""
    folder = root / "campaigns" / "profiles"
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return []
    if key not in _KNOWN_PROFILES:
        _KNOWN_PROFILES[key] = sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())
    return _KNOWN_PROFILES[key]


_KNOWN_PROFILES: dict[tuple[str, int], list[str]] = {}


def _profile_data(doc: Document, root: Path) -> dict[str, Any] | None:
    """The campaign's profile as plain data, when it exists and passes its own checks (else reported there)."""
    return profile_data(doc.data["profile"], root)


def profile_data(name: str, root: Path) -> dict[str, Any] | None:
    """Profile `name` as plain data, when it exists and passes its own checks (else reported there)."""
    if name not in known_profiles(root):
        return None
    path = root / "campaigns" / "profiles" / f"{name}.yaml"
    problems, profile = check_document(path, root)
    return profile.data if not problems and profile is not None and isinstance(profile.data, dict) else None


def _check_stack(doc: Document, profile: dict[str, Any] | None) -> Iterator[Problem]:
    """A developer stack names its tickets in the tag and lists their packages, and has EUPS to set them up."""
    stack = doc.data["stack"]
    tag, packages = stack["tag"], stack.get("packages") or []
    tickets = tag.split(DEVELOPER_SEPARATOR)[1:]
    if tickets and not packages:
        yield doc.problem(("stack", "tag"), f"stack {tag} names tickets ({', '.join(tickets)}) but no packages "
                          "are set up on top of the base", "list the ticket branches' directories on the shared "
                          "file system under stack.packages, or drop the +TICKET part of the tag")
    if packages and not tickets:
        yield doc.problem(("stack", "packages"), f"packages are set up on top of stack {tag}, but the tag does "
                          "not say so: the ledger, plan and issues would name a released stack that did not run",
                          f"name the tickets in the tag, e.g. tag: {tag}+DM-12345")
    no_setup = profile is not None and not (profile.get("stack_setup") or "").strip()
    if packages and not stack.get("setup") and no_setup:
        yield doc.problem(("stack", "packages"), f"profile {doc.data['profile']} sets no stack up "
                          "(stack_setup is empty), so there is no EUPS to set the packages up with",
                          "use a profile with a stack_setup (e.g. usdf-panda), or give stack.setup")


def _memory_requests(data: dict[str, Any]) -> Iterator[tuple[JsonPath, int]]:
    """(where, MB) of every memory request of the campaign: campaign, steps, their tasks."""
    places: list[tuple[JsonPath, Any]] = [(("resources",), data.get("resources"))]
    places += [(("steps", i, "resources"), step.get("resources")) for i, step in enumerate(data["steps"])]
    for at, resources in places:
        if not isinstance(resources, dict):
            continue
        blocks = [(at, resources)]
        blocks += [((*at, "tasks", label), spec) for label, spec in (resources.get("tasks") or {}).items()
                   if isinstance(spec, dict)]
        for where, block in blocks:
            for key in ("requestMemory", "requestMemoryMax"):
                if isinstance(block.get(key), (int, float)):
                    yield (*where, key), block[key]


def _check_memory(doc: Document, profile: dict[str, Any] | None) -> Iterator[Problem]:
    """Every memory request fits a queue of the profile (when the profile maps memory to queues)."""
    queues = queues_from_dict((profile or {}).get("queues"))
    if queues is None:
        return
    largest, limit = queues.largest
    for where, memory in _memory_requests(doc.data):
        if queues.queue_for(memory) is None:
            yield doc.problem(where, f"{where[-1]} {memory:g} MB is more than any queue of profile "
                              f"{doc.data['profile']} holds (the largest, {largest}, takes up to {limit} MB)",
                              f"request at most {limit} MB, or split the work so each job needs less")


def _placeholders(pattern: str) -> tuple[list[str], str | None]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None], None
    except ValueError as exc:
        return [], str(exc)


def _check_patterns(doc: Document) -> Iterator[Problem]:
    checks: list[tuple[JsonPath, str, tuple[str, ...]]] = [
        (("butler", "output"), doc.data["butler"]["output"], OUTPUT_PLACEHOLDERS),
        (("butler", "repo"), doc.data["butler"]["repo"], REPO_PLACEHOLDERS)]
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
                yield doc.problem(where, f"unknown placeholder {{{f}}} in {pattern!r}{did_you_mean(f, allowed)}",
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
        bad = rules.query_problem(node)
        if bad:
            yield doc.problem(where, bad, rules.QUERY_FIX)


def _check_command_line(doc: Document, root: Path) -> Iterator[Problem]:
    """What bps puts unquoted on the pipetask command line: the same rules render asserts."""
    data = doc.data
    repo = repo_for(data["butler"]["repo"], data["name"], data["stack"]["tag"])
    for where, value in ((("pipeline",), data["pipeline"]), (("butler", "repo"), repo)):
        if "#" in value and where == ("pipeline",):
            continue  # reported with the pipeline's labels
        bad = rules.path_problem(value)
        if bad is None and rules.is_relative(value) and rules.path_problem(str(root)) is not None:
            bad = (f"it is relative to the repository root, and the root {str(root)!r} has spaces or shell "
                   "characters: bps would put the joined path unquoted on the pipetask command line")
        if bad:
            yield doc.problem(where, bad, rules.PATH_FIX)
    fields, error = _placeholders(data["butler"]["output"])
    if not error and all(f in OUTPUT_PLACEHOLDERS for f in fields):
        output = data["butler"]["output"].format_map({
            "campaign": data["name"], "stack": data["stack"]["tag"], "ticket": data.get("ticket") or "none",
            "operator": data["operator"]})
        bad = rules.collection_problem(output)
        if bad:
            yield doc.problem(("butler", "output"), f"the output collection {bad}",
                              "use letters, digits, '_', '.', '/' and '-' around the placeholders")


def _check_task_labels(doc: Document, at: JsonPath, labels: set[str] | None) -> Iterator[Problem]:
    """Each label of `resources.tasks` is an identifier and, when the pipeline can be read here, one of its
    task labels (a misspelt label would silently set nothing)."""
    node: Any = doc.data
    for part in at:  # a step's resources sit in the steps list: index it (a .get on it found nothing)
        if isinstance(node, dict):
            node = node.get(part)
        else:
            node = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
    tasks = node.get("tasks") if isinstance(node, dict) else None
    for label in tasks or {}:
        bad = rules.label_problem(label)
        if bad:
            yield doc.problem((*at, "tasks", label), f"task label {bad}",
                              "use the label of the task in the pipeline (pipetask.<label>.requestMemory)")
        elif labels is not None and label not in labels:
            known = sorted(labels)
            shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
            yield doc.problem((*at, "tasks", label), f"task label '{label}' is not in the pipeline "
                              f"{doc.data['pipeline']}{did_you_mean(label, known)}: its resources would "
                              "apply to nothing", f"labels the pipeline defines: {shown}")


def _check_step_bps(doc: Document, i: int, step: dict[str, Any]) -> Iterator[Problem]:
    for name in step.get("clustering") or {}:
        bad = rules.label_problem(name)
        if bad:
            yield doc.problem(("steps", i, "clustering", name), f"cluster name {bad}",
                              "name clusters like task labels, e.g. visitCluster")
    bps = step.get("bps") or {}
    for at, message in rules.key_problems(bps, ("steps", i, "bps")):
        yield doc.problem(at, message, "nest sections as mappings instead of dotted names")
    for at, message in rules.shell_problems(bps, ("steps", i, "bps")):
        yield doc.problem(at, message, rules.SHELL_FIX)
    for key in bps:
        bad = rules.reserved_problem(key)
        if bad:
            yield doc.problem(("steps", i, "bps", key), bad, rules.RESERVED_FIX)


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
        yield from _unknown_requires(doc, i, step, names)
        if step.get("gate", "auto") == "auto" and "approved_by" in step:
            yield doc.problem(("steps", i, "approved_by"),
                              "approved_by only means something with gate: manual",
                              "remove approved_by, or set gate: manual")
        yield from _check_query(doc, ("steps", i, "data_query"))
        yield from _check_task_labels(doc, ("steps", i, "resources"), labels)
        yield from _check_step_bps(doc, i, step)
        if labels is not None:
            yield from _unknown_subsets(doc, i, step, labels, pipeline)
        split = step.get("split")
        if split and split["by"] == "values":
            yield from _check_values_split(doc, ("steps", i, "split"), split)
        elif split and split["by"] == "count":
            yield from _check_count_source(doc, ("steps", i, "split"), split, path, root)
    yield from _check_cycles(doc, steps, first)


def _check_checks(doc: Document, root: Path) -> Iterator[Problem]:
    """`checks:` of the steps and the campaign: names unique where written, bounds that can both hold, and
    (when the pipeline can be read here) dataset types the pipeline writes."""
    data = doc.data
    places: list[tuple[JsonPath, list[dict[str, Any]]]] = [
        (("steps", i, "checks"), step.get("checks") or []) for i, step in enumerate(data["steps"])]
    places.append((("checks",), data.get("checks") or []))
    if not any(checks for _, checks in places):
        return
    if any(step["name"] == CAMPAIGN_SCOPE and step.get("checks") for step in data["steps"]):
        i = next(i for i, step in enumerate(data["steps"]) if step["name"] == CAMPAIGN_SCOPE)
        yield doc.problem(("steps", i, "name"), f"a step named '{CAMPAIGN_SCOPE}' cannot have checks: "
                          f"'{CAMPAIGN_SCOPE}/NAME' names the campaign's own checks", "rename the step")
    outputs = pipeline_outputs(data["pipeline"], root)
    for at, checks in places:
        seen: dict[str, int] = {}
        for j, check in enumerate(checks):
            name = check["name"]
            if name in seen:
                yield doc.problem((*at, j, "name"), f"check name '{name}' is already used by {at[-1]}[{seen[name]}]",
                                  "give every check of a step (or of the campaign) its own name")
            seen.setdefault(name, j)
            low, high = check.get("min"), check.get("max")
            if low is not None and high is not None and low > high:
                yield doc.problem((*at, j, "max"), f"bounds that cannot both hold: min {low} > max {high}",
                                  "swap them, or drop one")
            if check.get("completeness") is not None and high is not None and high < 1:
                yield doc.problem((*at, j, "max"), f"a completeness is produced/expected: max {high} < 1 fails "
                                  "a complete step", "drop max (completeness is at most 1), or use min")
            where, dataset = ((*at, j, "metric", "dataset"), check["metric"]["dataset"]) if "metric" in check else \
                next(((*at, j, k), check[k]) for k in ("count", "completeness") if k in check)
            if outputs is not None and dataset not in outputs and not ("completeness" in check
                                                                     and dataset == EVERY_OUTPUT):
                known = sorted(outputs)
                yield doc.problem(where, f"dataset type '{dataset}' is not written by the pipeline "
                                  f"{data['pipeline']}{did_you_mean(dataset, known)}",
                                  f"dataset types it writes: {', '.join(known[:12])}{' …' if len(known) > 12 else ''}")


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


