"""Check a five-field cron line the way GitHub Actions schedules read it (UTC)."""

from __future__ import annotations

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
