"""A transfer service in memory for the engine tests: answers `start` and `poll` from a script of outcomes, and
can crash inside `start` (after the intent is recorded) the way a killed job would."""

from __future__ import annotations

from dataclasses import dataclass, field

from campaignops.domain.states import TransferState
from campaignops.ports import TransferProgress, TransferRequest


class Crash(Exception):
    """The job was killed inside the transfer service's call."""


@dataclass
class MemoryTransfer:
    outcomes: list[TransferProgress] = field(default_factory=list)  # next answers of start (then poll)
    polls: list[TransferProgress] = field(default_factory=list)
    started: list[TransferRequest] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    crash_in_start: bool = False

    def start(self, request: TransferRequest) -> TransferProgress:
        self.started.append(request)
        if self.crash_in_start:
            self.crash_in_start = False
            raise Crash("killed inside start")
        if self.outcomes:
            return self.outcomes.pop(0)
        return TransferProgress(TransferState.DONE, datasets=4, arrived=4, bytes=4000, message="copied and verified")

    def poll(self, request: TransferRequest, handle: str) -> TransferProgress:
        self.polled.append(handle)
        if self.polls:
            return self.polls.pop(0)
        return TransferProgress(TransferState.RUNNING, datasets=4, message="rule REPLICATING", handle=handle)
