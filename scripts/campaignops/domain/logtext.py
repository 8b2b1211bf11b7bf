"""Finding the lines of a job or bps log that say what went wrong (the real cause, not the noise).

Every kind of failure leaves its own tell-tale line, ranked here from most to least telling:

* a stack set-up that failed before bps started (`bash: line 1: …/loadLSST.bash: No such file or
  directory`, `setup: command not found`): nothing else is logged;
* a job killed by a signal (`bash: line 1: 4242 Killed …`, the kernel's OOM killer) or out of memory
  (`MemoryError`), and HTCondor hold reasons (`Job has gone over memory limit …`, ctrl_bps_htcondor's
  `Job raised a signal 9. Handling job as if it has gone over memory limit.`);
* a payload quantum's failure as pipetask logs it (`Execution of task 'calibrate' on quantum {…}
  failed. Exception RuntimeError: …`): task, data ID and exception in one line;
* exception lines, root cause first, with the module path cut off (`lsst.daf.butler._exceptions.
  MissingCollectionError: …` → `MissingCollectionError: …`): quantum-graph generation and submit-time
  failures end this way; wrappers that only say "something failed" come last;
* ERROR log lines, their timestamp and logger cut off.
"""

from __future__ import annotations

import re

_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Failure|Exit|Interrupt))(?::\s*(?P<msg>.*)|\s*)$")
# The long-log prefix pipetask writes: LEVEL time logger (label:{data id})(file.py:line) - message
_LONG_LOG = re.compile(r"^(?:[\w.]+ (?:INFO|WARNING): )?(?P<level>[A-Z]+) \S+ [\w.]+ \(.*?\)\([\w.]+:\d+\) - (?P<msg>.*)$")
# The short format bps and the Butler CLI log with: logger LEVEL: message
_SHORT_LOG = re.compile(r"^[\w.]+ (?P<level>ERROR|CRITICAL|FATAL): (?P<msg>.*)$")
_QUANTUM_FAILED = re.compile(r"Execution of task '[^']+' on quantum .* failed\. Exception ")
_SHELL = r"^(?:/bin/|/usr/bin/)?(?:ba)?sh: (?:line \d+: )?"
_SETUP = re.compile(_SHELL + r"(?P<what>.+): (?P<why>No such file or directory|command not found|Permission denied)$")
_SIGNAL = re.compile(_SHELL + r"(?:\d+ )?(?P<signal>Killed|Segmentation fault|Aborted|Terminated|Bus error)"
                     r"(?: \(core dumped\))?\s+(?P<command>.*)$")
_MEMORY = re.compile(r"(?i)(out of memory|oom-kill|gone over (?:cgroup )?memory limit|memory limit exceeded)")
# HTCondor hold reasons: "Error from slot1@host: …" (the startd) or "HoldReason = …" (condor_q, bps report).
# ctrl_bps_htcondor's report says "(Job was held for the following reason: <HoldReason>)".
_HOLD = re.compile(r"^\(?(?:HoldReason\s*[:=]\s*\"?|Hold reason:\s*|Job was held for the following reason:\s*)"
                   r"(?P<reason>.+?)\)?$|^(?P<startd>Error from \S+: .*|Job raised a signal .*)$")
# Exceptions that only say that something else failed: shown after the real cause, if room is left.
WRAPPER_RANK = 5
_WRAPPERS = ("MPGraphExecutorError", "BpsSubprocessError", "BashExitFailure", "CalledProcessError")
_WRAPPER_TEXTS = ("A BpsConfig could not be loaded", "Caught an exception, details are in traceback")


# The last line of a traceback names the exception, whatever its name (lsst.pipe.base.NoWorkFound…).
_TRACEBACK_END = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s*(?P<msg>.*)|\s*)$")


def _short_exception(line: str, after_frame: bool) -> str | None:
    found = _EXCEPTION.match(line) or (_TRACEBACK_END.match(line) if after_frame else None)
    if not found:
        return None
    name = found.group("type").rsplit(".", 1)[-1]
    message = found.group("msg")
    return f"{name}: {message}" if message else name


def _kind(line: str, after_frame: bool = False) -> tuple[int, str] | None:
    """(rank, the line as shown) when `line` tells what went wrong; lower ranks come first."""
    if found := _SETUP.match(line):
        return 0, f"stack set-up failed: {found.group('what')}: {found.group('why')}"
    if found := _SIGNAL.match(line):
        hint = " (SIGKILL: usually out of memory)" if found.group("signal") == "Killed" else ""
        return 1, f"job killed: {found.group('signal')}{hint}: {found.group('command').strip()}"
    if line == "MemoryError" or line.startswith("MemoryError:"):
        return 1, f"out of memory: {line}"
    quiet = line.startswith(("INFO", "DEBUG", "VERBOSE", "TRACE"))
    if found := _HOLD.match(line):
        reason = (found.group("reason") or found.group("startd")).strip().rstrip('"')
        return 1, (f"out of memory (held): {reason}" if _MEMORY.search(reason) else f"held: {reason}")
    if _MEMORY.search(line) and not quiet:
        return 1, f"out of memory: {line}"
    if found := _LONG_LOG.match(line):
        message = found.group("msg").strip()
        if _QUANTUM_FAILED.search(message):
            return 2, message
        if found.group("level") in ("ERROR", "FATAL", "CRITICAL"):
            return (WRAPPER_RANK if message.startswith(_WRAPPER_TEXTS) else 4), message
        return None
    if found := _SHORT_LOG.match(line):
        message = found.group("msg").strip()
        return (WRAPPER_RANK if message.startswith(_WRAPPER_TEXTS) else 4), message
    if short := _short_exception(line, after_frame):
        wrapper = short.startswith(_WRAPPERS) or any(text in short for text in _WRAPPER_TEXTS)
        return (WRAPPER_RANK if wrapper else 3), short
    if " ERROR" in line or line.startswith(("ERROR", "Error")):
        wrapper = any(text in line for text in _WRAPPER_TEXTS)
        return (WRAPPER_RANK if wrapper else 4), line
    return None


def first_error_lines(text: str, limit: int = 3) -> list[str]:
    """The lines that say what went wrong, most telling kind first, in log order within a kind; each once."""
    found: list[tuple[int, int, str]] = []
    after_frame = False  # the line before was indented: a traceback's frame
    for n, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not line:
            continue
        kind = _kind(line, after_frame and not raw[:1].isspace())
        after_frame = raw[:1].isspace()
        if kind is not None:
            found.append((kind[0], n, kind[1][:500]))
    if any(rank < WRAPPER_RANK for rank, _, _ in found):  # "something failed" adds nothing to the cause
        found = [f for f in found if f[0] < WRAPPER_RANK]
    out: list[str] = []
    for _, _, line in sorted(found):
        if line not in out:
            out.append(line)
        if len(out) >= limit:
            break
    return out


_LOG_REF = re.compile(r" \(log: (\S+)\)$")


def with_log(line: str, log: str) -> str:
    """An error line naming the log file (or URL) it comes from."""
    return f"{line} (log: {log})"


def logs_named(lines: list[str] | tuple[str, ...]) -> list[str]:
    """The log files (or URLs) error lines name, in order, each once."""
    found = [m.group(1) for m in map(_LOG_REF.search, lines) if m]
    return list(dict.fromkeys(found))
