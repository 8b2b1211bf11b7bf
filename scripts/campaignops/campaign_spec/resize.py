"""Write suggested per-task memory requests into a campaign.yaml as a reviewable change: each step's
`resources.tasks.<label>.requestMemory`, with comments, order and quoting kept (ruamel round trip)."""

from __future__ import annotations

import io
from typing import Any

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from ..domain.errors import SpecError
from .schema import schema


def with_task_memory(text: str, memory: dict[str, dict[str, int]]) -> str:
    """`text` with steps[name].resources.tasks[label].requestMemory set for each step -> label -> MB."""
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    data: Any = y.load(text)
    steps = {s.get("name"): s for s in (data.get("steps") or []) if isinstance(s, CommentedMap)} \
        if isinstance(data, CommentedMap) else {}
    missing = sorted(set(memory) - set(steps))
    if missing:
        raise SpecError(f"no step {', '.join(missing)} in the campaign: the profile was taken from runs of steps "
                        "since removed or renamed; run `campaign profile` again")
    for step_name, labels in memory.items():
        step = steps[step_name]
        resources = step.setdefault("resources", CommentedMap())
        tasks = resources.setdefault("tasks", CommentedMap())
        for label, mb in sorted(labels.items()):
            tasks.setdefault(label, CommentedMap())["requestMemory"] = int(mb)
    buf = io.StringIO()
    y.dump(data, buf)
    out = buf.getvalue()
    errors = sorted(Draft202012Validator(schema("campaign")).iter_errors(YAML(typ="safe").load(out)), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
        raise SpecError(f"the resized campaign would not be valid: {where}: {errors[0].message}")
    return out


__all__ = ["with_task_memory"]
