"""The failure rules a campaign used at a git revision (`git show REV:path`), for the replay of a rules change."""

from __future__ import annotations

from ...campaign_spec.failure_rules import RULES_FILE, Rule, check_rules_text, combined
from ...domain.errors import SpecError
from ...domain.problems import Problem
from .repo import Git


def _text_at(git: Git, rev: str, path: str) -> str | None:
    proc = git.run("show", f"{rev}:{path}", check=False)
    if proc.returncode == 0:
        return proc.stdout
    if "does not exist" in proc.stderr or "exists on disk, but not in" in proc.stderr:
        return None
    git.run("rev-parse", "--verify", f"{rev}^{{commit}}")  # an unknown revision: GitCommandFailed says so
    return None


def rules_at(git: Git, rev: str, campaign: str) -> tuple[Rule, ...]:
    """The rules campaign `campaign` used at `rev`: its own rules file then the shared one, as `load_rules`
    reads them from a checkout. SpecError with the located problems when a file did not validate then."""
    problems: list[Problem] = []
    files: list[tuple[Rule, ...]] = []
    for path in (f"campaigns/{campaign}/{RULES_FILE}", f"campaigns/{RULES_FILE}"):
        text = _text_at(git, rev, path)
        if text is None:
            continue
        bad, rules = check_rules_text(text, f"{rev[:12]}:{path}")
        problems += bad
        files.append(rules)
    try:
        return combined(problems, files)
    except SpecError as exc:
        raise SpecError(f"the rules at {rev[:12]} do not validate: {exc}", exc.problems) from None


def is_rules_file(path: str) -> bool:
    """campaigns/rules.yaml or a campaign's own campaigns/<name>/rules.yaml."""
    parts = path.split("/")
    return parts[0] == "campaigns" and parts[-1] == RULES_FILE and len(parts) in (2, 3)


__all__ = ["is_rules_file", "rules_at"]
