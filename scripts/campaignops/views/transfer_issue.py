"""The failure issue of a transfer stage that gave up: what was moved, from where to where, what arrived, and
what to do (pure)."""

from __future__ import annotations

from ..domain.markers import attempt_marker, run_key, run_marker
from ..domain.model import Campaign
from ..ledger.records import TransferRecord

TRANSFER_STEP = "transfer"  # the issue key's step: campaign/transfer/<slug>


def issue_key(campaign: Campaign, record: TransferRecord) -> str:
    """campaign/transfer/<step>.<destination>.from.<required step>.<source>: one issue per transfer."""
    step, _, rest = record.key.partition("@")
    destination, _, source_part = rest.partition("<")
    required, _, source = source_part.partition("@")
    return run_key(campaign.name, TRANSFER_STEP, f"{step}.{destination}.from.{required}.{source}")


def title(campaign: Campaign, record: TransferRecord) -> str:
    return (f"[{campaign.name}] transfer {record.source} → {record.destination} {record.state.value} "
            f"({record.arrived}/{record.datasets} datasets)")


def body(campaign: Campaign, record: TransferRecord) -> str:
    """Source, destination, dataset types and counts, and the commands that settle it."""
    step = record.key.partition("@")[0]
    lines = [run_marker(issue_key(campaign, record)), attempt_marker(record.attempt),
             f"The transfer stage `{record.key}` of campaign `{campaign.name}` **{record.state.value}** after "
             f"{record.attempt} attempt(s); step `{step}` at `{record.destination}` waits for it.", "",
             "| | |", "|---|---|",
             f"| from | `{record.source}` (Butler `{campaign.repo_at(record.source)}`) |",
             f"| to | `{record.destination}` (Butler `{campaign.repo_at(record.destination)}`) |",
             f"| dataset types | {', '.join(f'`{t}`' for t in record.dataset_types)} |",
             f"| datasets arrived / sent | {record.arrived} / {record.datasets} |",
             f"| bytes sent | {record.bytes} |",
             f"| last start | {record.started_at} |"]
    if record.handle:
        lines.append(f"| transfer id | `{record.handle}` |")
    lines += ["", "What the transfer service or the verification said:", "", "```text", record.message, "```", "",
              "What to do: look at the destination Butler and the transfer service (a Rucio rule: `rucio "
              "rule-info <id>`; a stuck rule may need `rucio-judge-repairer`), fix the cause, then start it again: "
              f"`campaign reconcile {campaign.name}` retries it once you raise nothing else; or remove the "
              f"transfer's record with a commit only if you moved the datasets by hand and verified the counts.", ""]
    return "\n".join(lines)
