"""The ledger's records: each run (step x group) and its attempts, immutable, newest attempt last."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from ..domain.actions import LAUNCHING
from ..domain.states import HANGING, FailedJob, RunState, TaskCounts, TransferState, Transition
from ..domain.usage import JobUsage


@dataclass(frozen=True)
class RuleDecision:
    """What the failure rules decided for a failed attempt (`engine/autopilot.py` records and applies it).

    Recorded before the engine acts, so a job killed in between acts once on the next cycle: a restart,
    more memory or a rescue is done once a later attempt exists; accept, hold and review when `acted_at`
    is set (in the same save as their effect)."""

    at: str  # when it was decided
    action: str  # retry | more-memory | rescue | accept | review | hold
    text: str  # what the failure issue and STATUS.md say
    rule: str = ""  # "" when no rule matched
    flavor: str = "unknown"
    due_at: str = ""  # retry, more-memory, rescue: not before this time (backoff after the failure)
    acted_at: str = ""  # "" while the action waits (for its time, or for a hold to be lifted)
    note: str = ""  # why it did not act (yet), or why it could not
    memory: tuple[tuple[str, int], ...] = ()  # more-memory: task label -> the new requestMemory (MB)

    @property
    def done(self) -> bool:
        return bool(self.acted_at)

    @property
    def awaits_confirmation(self) -> bool:
        """Decided by a rule this campaign never used, under `autopilot: confirm-new-rules`: waits for a person."""
        return not self.done and self.note.startswith(AWAITS_CONFIRMATION)


AWAITS_CONFIRMATION = "waits for confirmation"


@dataclass(frozen=True)
class Attempt:
    """One submission of a run: its own output RUN collection and submit directory."""

    number: int
    kind: str  # submit | restart | retry-memory | rescue
    output_run: str
    config_hash: str
    config_path: str
    launch_dir: str
    submit_dir: str = ""
    wms_id: str = ""
    submitted_at: str = ""
    state: RunState = RunState.SUBMITTING
    last_checked: str = ""
    tasks: tuple[TaskCounts, ...] = ()
    exit_codes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    errors: tuple[str, ...] = ()
    message: str = ""
    memory_multiplier: float = 1.0
    transitions: tuple[Transition, ...] = ()
    spec_hash: str = ""  # fingerprint of what the spec said of the run when this attempt was made
    links: tuple[tuple[str, str], ...] = ()  # (what, URL) in the WMS's monitor: workflow, tasks, failed jobs
    failed_jobs: tuple[FailedJob, ...] = ()  # failed WMS jobs as the monitor describes them
    memory: tuple[tuple[str, int], ...] = ()  # task label -> requestMemory (MB) this attempt was rendered with
    decision: RuleDecision | None = None  # what the failure rules decided when this attempt failed
    job_usage: tuple[JobUsage, ...] = ()  # its finished batch jobs as the scheduler accounted them (Slurm)

    def failed_tasks(self) -> tuple[tuple[str, int], ...]:
        """(label, failed quanta) of every task with failures, in label order."""
        return tuple((t.label, t.get("FAILED")) for t in self.tasks if t.get("FAILED"))

    @property
    def hanging(self) -> bool:
        """`bps submit` has run past its limit without a run id: someone should look (it stays PENDING)."""
        return self.state == RunState.PENDING and self.message.startswith(HANGING)

    @property
    def reached_wms(self) -> bool:
        """bps created the run (a submit directory): `bps restart` can work on it."""
        return bool(self.submit_dir)

    @property
    def wrote_outputs(self) -> bool:
        """Some quantum succeeded, so the attempt's output run exists and holds outputs to skip."""
        return any(t.label != "pipetaskInit" and t.get("SUCCEEDED") > 0 for t in self.tasks)

    def failed_quanta(self) -> int:
        return sum(t.get("FAILED") for t in self.tasks)

    def total_quanta(self) -> int:
        return sum(t.total for t in self.tasks)


@dataclass(frozen=True)
class RunRecord:
    """One run (step x group) and all its attempts, newest last."""

    step: str
    group: str
    data_query: str
    attempts: tuple[Attempt, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.step}/{self.group}"

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def state(self) -> RunState | None:
        return self.current.state if self.current else None

    def with_attempt(self, attempt: Attempt) -> RunRecord:
        """This record with `attempt` replacing the one of the same number, or appended."""
        kept = [a for a in self.attempts if a.number != attempt.number]
        return RunRecord(self.step, self.group, self.data_query,
                         tuple(sorted([*kept, attempt], key=lambda a: a.number)))


# What operators do by hand, recorded with who and why. A control's target is "campaign", a step name or
# a run key (STEP/GROUP). Holds and dispositions are read back from this log: the last word counts.
# A retry, more-memory or rescue asked by a person (`campaign retry`, the retry workflow) is logged too; the
# failure rules' own ones are recorded as their decision on the attempt. A confirm lets a rule's first decision in
# a campaign with `autopilot: confirm-new-rules` act. `own` / `takeover`: which runner launches; `repair` /
# `migrate`: `campaign ledger` commands on the record itself; `accept-check`: a failed check of the output taken
# as it is. A runner per facility owns its site (target `site:<profile>`) and says it is alive with `seen` (target
# `site:<facility>`, only the latest kept).
CONTROL_ACTIONS = ("cancel", "hold", "resume", "skip", "accept", "reopen", "resubmit", "supersede", *LAUNCHING, "confirm",
                   "own", "takeover", "repair", "migrate", "accept-check", "seen")
SEEN = "seen"
OWNERSHIP = ("own", "takeover")  # which runner/work directory launches the campaign's runs: the last of these
DISPOSITIONS = ("skip", "accept")  # a run an operator has settled: it no longer blocks its step


@dataclass(frozen=True)
class Control:
    """One operator action: `campaign hold|resume|cancel|skip|accept|resubmit|retry`, or its spec edit."""

    at: str
    by: str  # the commit author of a spec edit, or `--by` / $GITHUB_ACTOR / git user of a command
    action: str  # one of CONTROL_ACTIONS
    target: str  # "campaign", a step name, or a run key STEP/GROUP
    reason: str
    source: str = "command"  # command | spec (an edit of campaign.yaml, undone by removing it)
    runner: str = ""  # own / takeover: the runner that launches from now on, `host:workdir`

    def describe(self) -> str:
        return f"{self.action} by {self.by} at {self.at}: {self.reason}"


@dataclass(frozen=True)
class SetupRecord:
    """The set-up stage that built the campaign's fresh Butler repository (butler.setup)."""

    state: RunState  # RUNNING while the commands run, then SUCCEEDED or FAILED
    repo: str
    started_at: str
    ended_at: str = ""
    log: str = ""
    message: str = ""
    errors: tuple[str, ...] = ()
    attempt: int = 1


@dataclass(frozen=True)
class TransferRecord:
    """One transfer stage of a multi-site campaign: what moved from which site's Butler to which, and how it went."""

    key: str  # "<step>@<destination><<required step>@<source>", e.g. "step2c@local-usdf<step2@local-frdf"
    source: str  # site (profile name)
    destination: str
    dataset_types: tuple[str, ...]
    state: TransferState
    attempt: int = 1
    started_at: str = ""
    ended_at: str = ""
    handle: str = ""  # the adapter's id (a Rucio rule)
    datasets: int = 0  # sent
    arrived: int = 0  # found in the destination Butler
    bytes: int = 0
    message: str = ""
    next_try_at: str = ""  # a failed transfer is started again from this time (backoff)


@dataclass(frozen=True)
class CheckRecord:
    """The last evaluation of one check of the output (domain/checks.py): the value read, what it was held to,
    the previous instance's value, the verdict. `basis` names the output runs it read, so a check is evaluated
    again only when they change (a rescue, a resubmit), never twice for the same output."""

    ref: str  # SCOPE/NAME: step4/tract-flux, campaign/mean-flux
    kind: str  # count | completeness | metric
    at: str
    verdict: str  # pass | fail | unknown (the value could not be read: evaluated again next cycle)
    basis: str
    value: float | None = None
    expected: float | None = None  # completeness: the datasets the quanta were to write
    bounds: str = ""  # the bounds in words when it was evaluated
    previous: float | None = None  # regression: the value the previous instance of the template recorded
    previous_campaign: str = ""
    why: str = ""  # what failed, or why no value could be read
    tagged: str = ""  # preflight: the TAGGED collection the complete inputs were frozen in
    excluded: tuple[str, ...] = ()  # preflight with `missing: exclude`: the data IDs left out (`at`: when)


@dataclass(frozen=True)
class Removal:
    """A RUN collection `campaign retention apply` removed from the Butler: when, why, how many datasets."""

    run: str
    at: str
    reason: str
    datasets: int = 0


@dataclass(frozen=True)
class Ledger:
    """Every run of a campaign. Runs of one step stay together, in the order they were first recorded
    (the ledger files are one per step and part of a step, so a run never moves between files)."""

    campaign: str
    runs: tuple[RunRecord, ...] = ()
    frozen_groups: tuple[tuple[str, tuple[tuple[str, str, int], ...]], ...] = ()  # step -> (name, query, size)
    controls: tuple[Control, ...] = ()  # every operator action, oldest first (append-only)
    setup: SetupRecord | None = None  # the fresh-repository stage, for campaigns with butler.setup

    @property
    def hold(self) -> Control | None:
        """The hold in force on the campaign (nothing new is submitted), if any."""
        last = next((c for c in reversed(self.controls) if c.target == "campaign"
                     and c.action in ("hold", "resume")), None)
        return last if last is not None and last.action == "hold" else None

    def disposition(self, key: str) -> Control | None:
        """The skip or accept in force on run `key`: reopen, resubmit or supersede clear it."""
        last = next((c for c in reversed(self.controls) if c.target == key
                     and c.action in (*DISPOSITIONS, "reopen", "resubmit", "supersede")), None)
        return last if last is not None and last.action in DISPOSITIONS else None

    @property
    def owner(self) -> Control | None:
        """The record of which runner/work directory launches this campaign's runs (`own` by the first
        launching job, `takeover` by an operator); None before any job launched."""
        return self.owner_of("campaign")

    def owner_of(self, target: str) -> Control | None:
        """Who launches the runs of `target`: `campaign` (every site), or one site of it (`site:<profile>`)."""
        return next((c for c in reversed(self.controls) if c.action in OWNERSHIP and c.target == target), None)

    def site_owners(self) -> dict[str, Control]:
        """Each site's owner (`site:<profile>` -> its last own/takeover): the runners per facility."""
        owners: dict[str, Control] = {}
        for c in self.controls:
            if c.action in OWNERSHIP and c.target.startswith("site:"):
                owners[c.target] = c
        return owners

    def last_seen(self, facility: str) -> Control | None:
        """The last `seen` of the runner of `facility`: when it last followed its runs."""
        return next((c for c in reversed(self.controls) if c.action == SEEN and c.target == f"site:{facility}"), None)

    def with_control(self, control: Control) -> Ledger:
        if control.action not in CONTROL_ACTIONS:
            raise ValueError(f"unknown control {control.action!r}")
        if control.action == SEEN:  # a heartbeat: only the latest of each runner is kept
            kept = tuple(c for c in self.controls if not (c.action == SEEN and c.target == control.target))
            return replace(self, controls=(*kept, control))
        return replace(self, controls=(*self.controls, control))

    @cached_property
    def _positions(self) -> dict[str, int]:
        # A data-release campaign has 10,000 runs: finding one must not walk them all.
        positions: dict[str, int] = {}
        for i, r in enumerate(self.runs):
            positions.setdefault(r.key, i)  # the first, should a hand-made ledger hold a key twice
        return positions
    removed: tuple[Removal, ...] = ()  # RUN collections removed by retention, oldest first
    transfers: tuple[TransferRecord, ...] = ()  # multi-site transfer stages, in the order first started
    checks: tuple[CheckRecord, ...] = ()  # the last evaluation of each check of the output, in spec order

    def check(self, ref: str) -> CheckRecord | None:
        return next((c for c in self.checks if c.ref == ref), None)

    def with_check(self, record: CheckRecord) -> Ledger:
        """This ledger with `record` in place of the evaluation of the same check, or added at the end."""
        kept = [record if c.ref == record.ref else c for c in self.checks]
        if not any(c.ref == record.ref for c in self.checks):
            kept.append(record)
        return replace(self, checks=tuple(kept))

    @property
    def excluded_inputs(self) -> dict[str, tuple[str, ...]]:
        """Preflight check ref -> the data IDs it excluded (`missing: exclude`), for the plan's data queries."""
        return {c.ref: c.excluded for c in self.checks if c.kind == "inputs" and c.excluded}

    def check_accepted(self, ref: str) -> Control | None:
        """The `campaign accept-check` in force on check `ref`: one made after its latest evaluation."""
        record = self.check(ref)
        last = next((c for c in reversed(self.controls) if c.target == f"check:{ref}"
                     and c.action == "accept-check"), None)
        return last if last is not None and record is not None and last.at >= record.at else None

    def transfer(self, key: str) -> TransferRecord | None:
        return next((t for t in self.transfers if t.key == key), None)

    def with_transfer(self, record: TransferRecord) -> Ledger:
        """This ledger with `record` in place of the transfer of the same key, or added at the end."""
        kept = [record if t.key == record.key else t for t in self.transfers]
        if not any(t.key == record.key for t in self.transfers):
            kept.append(record)
        return replace(self, transfers=tuple(kept))

    def with_removals(self, removals: tuple[Removal, ...]) -> Ledger:
        """This ledger with `removals` recorded (a run removed twice keeps its first record)."""
        kept = {r.run: r for r in self.removed}
        for r in removals:
            kept.setdefault(r.run, r)
        return replace(self, removed=tuple(kept.values()))

    def run(self, key: str) -> RunRecord | None:
        i = self._positions.get(key)
        return None if i is None else self.runs[i]

    def with_run(self, record: RunRecord) -> Ledger:
        """This ledger with `record` in place of the run of the same key (kept where it stands, so
        ledger diffs stay small), or added after the last run of its step (at the end for a new step)."""
        runs = list(self.runs)
        i = self._positions.get(record.key)
        if i is not None:
            runs[i] = record
            updated = replace(self, runs=tuple(runs))
            updated.__dict__["_positions"] = self._positions  # same keys at the same places
            return updated
        at = next((j + 1 for j in range(len(runs) - 1, -1, -1) if runs[j].step == record.step), len(runs))
        runs.insert(at, record)
        return replace(self, runs=tuple(runs))

    def groups_of(self, step: str) -> tuple[tuple[str, str, int], ...] | None:
        for name, groups in self.frozen_groups:
            if name == step:
                return groups
        return None

    def with_frozen_groups(self, step: str, groups: tuple[tuple[str, str, int], ...]) -> Ledger:
        kept = [(n, g) for n, g in self.frozen_groups if n != step]
        return replace(self, frozen_groups=tuple(sorted([*kept, (step, groups)])))


def with_state(attempt: Attempt, state: RunState, at: str, note: str = "", **changes: Any) -> Attempt:
    """The attempt moved to `state`, with a transition recorded only when the state changes."""
    transitions = attempt.transitions
    if state != attempt.state or not transitions:
        transitions = (*transitions, Transition(at, state, note))
    return replace(attempt, state=state, transitions=transitions, **changes)


__all__ = ["AWAITS_CONFIRMATION", "CONTROL_ACTIONS", "DISPOSITIONS", "OWNERSHIP", "SEEN",
           "Attempt", "CheckRecord", "Control", "Ledger",
           "Removal", "RuleDecision", "RunRecord", "SetupRecord", "TransferRecord", "with_state"]
