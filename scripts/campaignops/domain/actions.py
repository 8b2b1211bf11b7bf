"""What a failure rule (or an operator through `campaign control`) may decide for a failed run."""

from __future__ import annotations

from enum import StrEnum


class RunAction(StrEnum):
    RETRY = "retry"  # `bps restart`: re-runs only what failed, in place
    MORE_MEMORY = "more-memory"  # a new attempt with the matched tasks' memory raised
    RESCUE = "rescue"  # a new attempt running only the quanta whose outputs are missing
    ACCEPT = "accept"  # the failures are tolerated: the run counts as done
    HOLD = "hold"  # the campaign is held until someone resumes it
    REVIEW = "review"  # nothing automatic: an issue for a person

    @property
    def launches(self) -> bool:
        """Whether the action submits again (so a rule choosing it must bound its attempts)."""
        return self in (RunAction.RETRY, RunAction.MORE_MEMORY, RunAction.RESCUE)


LAUNCHING: tuple[str, ...] = tuple(a.value for a in RunAction if a.launches)

__all__ = ["LAUNCHING", "RunAction"]
