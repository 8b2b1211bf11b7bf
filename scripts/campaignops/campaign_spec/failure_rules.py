"""Failure rules: campaigns/rules.yaml (shared) and campaigns/<name>/rules.yaml (a campaign's own, tried
first; a rule of the same name replaces the shared one), checked against rules.schema.json and for
meaning: a regex that compiles, names that are unique, and no automatic action without a bound (a rule
set that would retry forever is refused)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.actions import LAUNCHING, RunAction
from ..domain.errors import SpecError
from ..domain.problems import Problem
from . import source
from .schema import check_schema

RULES_FILE = "rules.yaml"
AUTOMATIC = LAUNCHING  # actions that submit again: each needs max_attempts
DEFAULT_FACTOR = 2.0


@dataclass(frozen=True)
class Rule:
    name: str
    flavor: str
    action: str
    source: str  # the file it came from (shared or the campaign's own)
    description: str = ""
    tasks: tuple[str, ...] = ()
    exit_codes: tuple[int, ...] = ()
    wms_codes: tuple[str, ...] = ()
    error: str = ""
    max_attempts: int | None = None
    backoff_minutes: float = 0.0
    factor: float = DEFAULT_FACTOR
    cap_mb: int | None = None
    max_failed_fraction: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], file: str) -> Rule:
        match, action = d["match"], d["action"]
        return cls(d["name"], d["flavor"], action["do"], file, d.get("description", ""),
                   tuple(match.get("tasks") or ()), tuple(match.get("exit_codes") or ()),
                   tuple(match.get("wms_codes") or ()), match.get("error", ""), action.get("max_attempts"),
                   float(action.get("backoff_minutes", 0.0)), float(action.get("factor", DEFAULT_FACTOR)),
                   action.get("cap_mb"), action.get("max_failed_fraction"))


def _meaning(doc: source.Document) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, rule in enumerate(doc.data["rules"]):
        at = ("rules", i)
        name = rule["name"]
        if name in seen:
            yield doc.problem(at + ("name",), f"rule name '{name}' is used twice (also rules[{seen[name]}])",
                              "give each rule its own name: issues and the ledger name the rule that decided")
        seen.setdefault(name, i)
        if "error" in rule["match"]:
            try:
                re.compile(rule["match"]["error"])
            except re.error as exc:
                yield doc.problem(at + ("match", "error"), f"not a regular expression: {exc}",
                                  "escape special characters with a backslash (e.g. '\\(' for a parenthesis)")
        action = rule["action"]
        do = action["do"]
        if do in AUTOMATIC and "max_attempts" not in action:
            yield doc.problem(at + ("action",), f"action {do} without max_attempts would retry forever",
                              "add max_attempts: N (2-10): after N attempts of the run the failure goes to review")
        if do == "more-memory" and "cap_mb" not in action:
            yield doc.problem(at + ("action",), "action more-memory without cap_mb would grow memory without end",
                              "add cap_mb: the largest request to make, e.g. the site's biggest memory queue")
        if do == "accept" and "max_failed_fraction" not in action:
            yield doc.problem(at + ("action",), "action accept needs max_failed_fraction (the share tolerated)",
                              "add max_failed_fraction: e.g. 0.01 for one failed quantum in a hundred")
        unused = sorted({"max_attempts", "backoff_minutes", "factor", "cap_mb", "max_failed_fraction"} & set(action)
                        - _USED[do])
        if unused:
            yield doc.problem(at + ("action", unused[0]), f"{', '.join(unused)} has no effect on action {do}",
                              "remove it, or choose the action it belongs to")


_USED: dict[RunAction, set[str]] = {
    RunAction.RETRY: {"max_attempts", "backoff_minutes"},
    RunAction.MORE_MEMORY: {"max_attempts", "factor", "cap_mb"},
    RunAction.RESCUE: {"max_attempts", "backoff_minutes"},
    RunAction.ACCEPT: {"max_failed_fraction"},
    RunAction.REVIEW: set(),
    RunAction.HOLD: set(),
}


def check_rules_file(path: Path, root: Path) -> tuple[list[Problem], tuple[Rule, ...]]:
    """Located problems of one rules file, and its rules when there are none."""
    doc, problems = source.read(path, root)
    return _checked(doc, problems)


def check_rules_text(text: str, file: str) -> tuple[list[Problem], tuple[Rule, ...]]:
    """The same checks on the text of a rules file that is not on disk (e.g. as a git revision holds it)."""
    doc, problems = source.parse(text, file)
    return _checked(doc, problems)


def _checked(doc: source.Document | None, problems: list[Problem]) -> tuple[list[Problem], tuple[Rule, ...]]:
    if doc is None or problems:
        return problems, ()
    problems = check_schema(doc, "rules")
    if problems:
        return problems, ()
    problems = sorted(set(_meaning(doc)))
    if problems:
        return problems, ()
    return [], tuple(Rule.from_dict(r, doc.file) for r in doc.data["rules"])


def load_rules(root: Path, campaign_dir: Path | None = None) -> tuple[Rule, ...]:
    """The rules a campaign uses, in the order they are tried: its own, then the shared ones it does not
    replace. SpecError with every located problem when a file is invalid; () when neither file exists."""
    files = [p for p in ((campaign_dir / RULES_FILE) if campaign_dir else None, root / "campaigns" / RULES_FILE)
             if p is not None and p.exists()]
    checked = [check_rules_file(path, root) for path in files]
    return combined([p for bad, _ in checked for p in bad], [rules for _, rules in checked])


def combined(problems: list[Problem], files: list[tuple[Rule, ...]]) -> tuple[Rule, ...]:
    """The rules of `files` (the campaign's own first, then the shared), a later rule of a name already seen
    left out; SpecError with every located problem when any file had one."""
    if problems:
        raise SpecError(f"{len(problems)} problem(s) in the failure rules; fix them (`campaign validate` "
                        "checks rules files too)", problems)
    found: list[Rule] = []
    for rules in files:
        names = {r.name for r in found}
        found += [r for r in rules if r.name not in names]
    return tuple(found)


__all__ = ["AUTOMATIC", "RULES_FILE", "Rule", "check_rules_file", "check_rules_text", "combined", "load_rules"]
