"""Rules for the values bps puts on a command line or reads as config keys: one home for each.

`campaign validate` reports a broken rule at its line and column before a pull request merges;
`planning/render.py` asserts the same rules (a refusal there means validation missed something).
Each rule returns None when the value is fine, else what is wrong in plain words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# Keys a step's `bps:` escape hatch may not set: they say what runs and where it writes, and the
# ledger records them from the campaign, so an override would make the record lie.
RESERVED_STEP_KEYS = frozenset({"pipelineYaml", "project", "campaign", "operator", "payload",
                                "LSST_VERSION", "custom_lsst_setup"})

# Collection names and labels go unquoted into pipetask command lines and into dotted BPS keys.
_COLLECTION = re.compile(r"^[A-Za-z0-9_./+-]+$")  # '+': a developer stack's tag (w_2026_47+DM-48211)
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def is_relative(value: str) -> bool:
    """A path taken from the repository root: not a URI, not absolute, not starting with a $VARIABLE."""
    return not ("://" in value or value.startswith(("/", "$")))


def rooted(value: str, root: Path) -> str:
    """A path relative to the repository root made absolute (bps and the Butler run elsewhere);
    URIs, absolute paths and `$VARIABLE` paths are left as they are."""
    return str(Path(root) / value) if is_relative(value) else value


def query_problem(query: str) -> str | None:
    """A data query bps can pass to pipetask intact."""
    # bps builds `pipetask qgraph ... -d "{dataQuery}"` (pipetaskDataQuery in bps_defaults.yaml),
    # formats it with str.format-like placeholders, expands $VARS, then splits it with shlex.split:
    # a " or \ would end or change the quoted argument, {…} would be replaced by another config
    # value (or raise), and $NAME would become an environment variable's value.
    bad = sorted({ch for ch in query if ch in '"\\{}$'})
    if not bad:
        return None
    return (f"the data query contains {' '.join(bad)}; bps passes it to pipetask inside double quotes after "
            "substituting {placeholders} and $VARIABLES, so these characters would change or break it")


QUERY_FIX = "use single quotes for strings and no {, }, $ or backslash, e.g. instrument='HSC' AND visit > 100"


def path_problem(value: str) -> str | None:
    """A path or URI that bps puts unquoted on a command line; ${VAR} references are allowed."""
    rest = _ENV_REF.sub("", value)
    bad = sorted({ch for ch in rest if ch.isspace() or ch in "\"'\\{}$#`;&|<>"})
    if not bad and value:
        return None
    shown = " ".join(repr(ch) for ch in bad)
    return (f"{value!r} contains {shown or 'nothing'}; bps puts it unquoted on the pipetask command line")


PATH_FIX = "use a plain path or URI without spaces or shell characters (${VAR} references are fine)"


def collection_problem(value: str) -> str | None:
    if not _COLLECTION.match(value):
        return (f"{value!r} is not a collection name (letters, digits, '_', '.', '/', '+', '-'): "
                "bps passes it unquoted to pipetask")
    # A file datastore puts a RUN collection's files under <root>/<run>/: '..' or a leading '/' would
    # write outside the repository (and '//' or '.' segments name the same place twice).
    if value.startswith("/") or any(part in ("", ".", "..") for part in value.split("/")):
        return (f"{value!r} has an absolute start or a '..', '.' or empty part: the datastore writes a "
                "run's files under <repository>/<collection>/, so they would land outside it or collide")
    return None


def label_problem(label: str) -> str | None:
    """A pipeline task label or cluster name, used as a dotted BPS key (pipetask.<label>.…)."""
    if _LABEL.match(label):
        return None
    return f"{label!r} is not a plain identifier (a letter or '_', then letters, digits, '_' or '-')"


def key_problems(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) of every BPS key bps could not reach: it reads '.' as a section separator."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str) or not key or "." in key or any(ch.isspace() for ch in key):
                yield (*path, str(key)), (f"bps key {key!r} must be a non-empty name without '.' or spaces "
                                          "(BPS reads '.' as a section separator)")
            else:
                yield from key_problems(value, (*path, key))
    elif isinstance(data, (list, tuple)):
        for i, item in enumerate(data):
            yield from key_problems(item, (*path, i))


# bps keys whose values ctrl_bps puts into a command line that a shell runs: the command templates of
# lsst/ctrl_bps python/lsst/ctrl/bps/etc/bps_defaults.yaml (createQuantumGraph, runQuantumCommand,
# updateQuantumGraph, finalJob.command1, jobCommand) and the {placeholders} they hold; ctrl_bps_parsl runs
# them with subprocess.check_call(command, shell=True) (python/lsst/ctrl/bps/parsl/job.py), HTCondor and
# PanDA through a job script.
SHELL_KEYS = frozenset({
    "defaultPreCmdOpts", "qgraphPreCmdOpts", "initPreCmdOpts", "runPreCmdOpts", "updateQgraphPreCmdOpts",
    "finalPreCmdOpts", "bpsPreCommandOpts", "extraQgraphOptions", "extraInitOptions", "extraRunQuantumOptions",
    "extraUpdateQgraphOptions", "extraAggregateOptions", "updateOutputChain", "createQuantumGraph",
    "runQuantumCommand", "updateQuantumGraph", "command1", "jobCommand", "custom_lsst_setup", "setupLSSTEnv",
})
_SUBSTITUTION = re.compile(r"\$\(|`")
_SHELL_VARIABLE = re.compile(r"\$[{A-Za-z_]")


def shell_problems(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) of every bps value a shell would run something from: `$(…)` or backticks in any value
    (a value reaches a command line through any {placeholder}), and `${…}` or `$NAME` in a key that is a
    command line."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from shell_problems(value, (*path, str(key)))
    elif isinstance(data, (list, tuple)):
        for i, item in enumerate(data):
            yield from shell_problems(item, (*path, i))
    elif isinstance(data, str):
        key = next((p for p in reversed(path) if isinstance(p, str)), "")
        if _SUBSTITUTION.search(data):
            where = (f"{key} is part of the job's command line" if key in SHELL_KEYS else
                     f"{key} reaches the job's command line when a command key (extraRunQuantumOptions, "
                     "extraQgraphOptions, runQuantumCommand, …) names it as {" + key + "}")
            yield path, (f"bps value {data!r} holds a command substitution ($(…) or `…`): {where}, and the "
                         "shell running the job would run it")
        elif key in SHELL_KEYS and _SHELL_VARIABLE.search(data):
            yield path, (f"bps key {key} is part of the job's command line, and {data!r} holds ${{…}} or $NAME: the "
                         "shell of the job would expand it to whatever that variable holds there")


SHELL_FIX = ("write the option itself (e.g. extraRunQuantumOptions: '--no-versions'); "
             "a value that must be computed belongs in the site's own bps config")


def reserved_problem(key: str) -> str | None:
    if key not in RESERVED_STEP_KEYS:
        return None
    return f"bps key {key} is set from the campaign (pipeline, data query, collections, stack)"


RESERVED_FIX = "change the campaign's own fields (pipeline, butler, data_query, stack) instead"
