"""One error root for everything `campaign` refuses; a subclass per layer, caught once by the CLI.

A `CampaignError` message is written for the person at the terminal: what is wrong and what to do.
The CLI prints it (and its located problems) and exits 1; `--debug` shows the traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .problems import Problem


class CampaignError(Exception):
    """Something `campaign` cannot do; the message says why and what to do about it."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems: list[Problem] = list(problems)


class SpecError(CampaignError):
    """A campaign, profile or template that cannot be used; `problems` says where (file:line:column)."""


class PlanError(CampaignError):
    """The runs of a campaign cannot be worked out (a split that cannot be made, an unknown run)."""


class ButlerQueryError(PlanError):
    """The Butler could not be opened or queried; the message names the repository and the query."""


class RenderError(PlanError):
    """A submit config that must not be written. Validation refuses these first: seeing one is a bug."""


class LedgerError(CampaignError):
    """A ledger file that cannot be read or trusted; the message says how to restore it."""


class SubmitError(CampaignError):
    """A submission, retry or rescue that cannot be done as asked."""


class WmsError(CampaignError):
    """The workload manager refused or failed an action."""


class WmsUnreachable(WmsError):
    """The WMS (or its monitor) could not be asked: the run's state is UNKNOWN, never FAILED."""


class ServiceError(CampaignError):
    """A remote service (GitHub; later the PanDA monitor, Rucio) failed a request for good."""


class GitError(CampaignError):
    """A git command failed; the message holds its arguments and output."""


class PublishError(CampaignError):
    """The record could not be committed or pushed."""


class DemoError(CampaignError):
    """The embedded demo could not be built or run."""


__all__ = [
    "ButlerQueryError",
    "CampaignError",
    "DemoError",
    "GitError",
    "LedgerError",
    "PlanError",
    "PublishError",
    "RenderError",
    "ServiceError",
    "SpecError",
    "SubmitError",
    "WmsError",
    "WmsUnreachable",
]
