"""A located problem in a spec file (file, line, column, JSON path, message, fix) and its output forms."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

JsonPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def path_text(path: Iterable[str | int]) -> str:
    """`('steps', 2, 'split', 'ranges', 0, 'max')` -> `steps[2].split.ranges[0].max`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            # Keys with dots or spaces would make the path ambiguous: quote them like JSON.
            out += f"[{json.dumps(part)}]"
    return out


def did_you_mean(word: object, options: Iterable[object]) -> str:
    """`; did you mean 'x'?` when `word` is close to one of `options`, else ''."""
    if not isinstance(word, str):
        return ""
    match = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a spec, where it is, and what to do about it."""

    file: str
    line: int
    column: int
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        what = f"{self.path}: {self.message}" if self.path else self.message
        return where + what + (f" (fix: {self.fix})" if self.fix else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(problems: Sequence[Problem], files_checked: int, warnings: Sequence[Problem] = ()) -> str:
    """'OK: 12 files checked' or '3 files checked, 2 problems in 1 file' (', 1 warning' when there are)."""
    noted = f", {_plural(len(warnings), 'warning')}" if warnings else ""
    if not problems:
        return f"OK: {_plural(files_checked, 'file')} checked{noted}"
    bad_files = len({p.file for p in problems})
    return (f"{_plural(files_checked, 'file')} checked, "
            f"{_plural(len(problems), 'problem')} in {_plural(bad_files, 'file')}{noted}")


def format_text(problems: Sequence[Problem], files_checked: int, warnings: Sequence[Problem] = ()) -> str:
    """Problems, then warnings (what is wrong on this machine only: they do not fail the check)."""
    lines = [str(p) for p in problems]
    lines += [f"warning: {w}" for w in warnings]
    lines.append(summary(problems, files_checked, warnings))
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    # GitHub workflow-command escaping: a raw newline or % would end or corrupt the annotation.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(problems: Sequence[Problem], files_checked: int, warnings: Sequence[Problem] = ()) -> str:
    """GitHub Actions annotations (`::error file=…,line=…,col=…::msg`, `::warning …`), then the summary line."""
    lines = []
    for level, found in (("error", problems), ("warning", warnings)):
        for p in found:
            text = f"{p.path}: {p.message}" if p.path else p.message
            if p.fix:
                text += f" (fix: {p.fix})"
            lines.append(f"::{level} file={_escape_property(p.file)},line={p.line},col={p.column},"
                         f"title=campaign validate::{_escape_data(text)}")
    lines.append(summary(problems, files_checked, warnings))
    return "\n".join(lines) + "\n"


def format_json(problems: Sequence[Problem], files_checked: int, warnings: Sequence[Problem] = ()) -> str:
    doc = {
        "files_checked": files_checked,
        "ok": not problems,
        "problems": [asdict(p) for p in problems],
        "warnings": [asdict(w) for w in warnings],
    }
    return json.dumps(doc, indent=2) + "\n"


FORMATTERS = {"text": format_text, "github": format_github, "json": format_json}
