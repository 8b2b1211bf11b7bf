"""The README `campaign init` writes into a new control repository: what is in it, and the set-up checklist
(domain/checklist.py) numbered as `campaign doctor --setup` numbers it, with this repository's own values."""

from __future__ import annotations

from ..campaign_spec.starter import WORKFLOWS, StarterChoice, runner_requirement
from ..domain.checklist import CHECKLIST


def render(choice: StarterChoice, campaign: str, profiles: list[str]) -> str:
    facilities = ", ".join(choice.facilities)
    label = choice.facilities[0] if choice.facilities[0] != "local" else "usdf"
    lines = [
        "# Campaign control repository",
        "",
        f"Made by `campaign init` for {facilities} with {choice.wms} (profiles {', '.join(profiles)}). A campaign is "
        "`campaigns/<name>/campaign.yaml`; a pull request shows its plan, merging submits it on the facility's "
        "self-hosted runner, and the status job records every run in `campaigns/<name>/ledger/` and `STATUS.md`.",
        "",
        "| what | where |",
        "|---|---|",
        f"| the first campaign (weekly ci_hsc, stack {choice.stack}) | `campaigns/{campaign}/campaign.yaml` |",
        "| the weekly template (`campaign new --from ci-hsc-weekly`) | `campaigns/templates/ci-hsc-weekly.yaml` |",
        "| the facilities: site, WMS, stack set-up, queues | " + ", ".join(f"`campaigns/profiles/{p}.yaml`"
                                                                      for p in profiles) + " |",
        "| the failure rules shared by every campaign | `campaigns/rules.yaml` |",
        "| the workflows | " + ", ".join(f"`.github/workflows/{w}`" for w in WORKFLOWS) + " |",
        "| the campaignops version the jobs install | `requirements.txt` |",
        "",
        "Check it here at any time: `campaign validate` (every file), `campaign plan "
        f"{campaign}` (every run it would submit). Nothing here submits anything from a laptop.",
        "",
        "## Set-up, step by step",
        "",
        "Do these in order; on the runner, `campaign doctor --setup` checks each one and says which is next.",
        "",
    ]
    specifics = {
        "repository": "This folder is already a git repository with its first commit on `main`.",
        "runner": ("Label this facility's runner `usdf`, the workflows' default: every self-hosted job runs on "
                   "`[self-hosted, usdf]` unless the repository variable CAMPAIGNOPS_RUNNER_LABEL names another."
                   if label == "usdf" else
                   f"Label this facility's runner `{label}` and set the repository variable "
                   f"CAMPAIGNOPS_RUNNER_LABEL={label}: the workflows' default label is `usdf`, and a job whose "
                   "label no runner has waits and is cancelled after 24 h."),
        "venv": "On the runner, as the runner's user:\n\n"
                "   ```bash\n"
                "   python3.12 -m venv /path/to/campaignops-venv\n"
                f"   /path/to/campaignops-venv/bin/pip install '{runner_requirement(choice.package)}'\n"
                "   echo CAMPAIGNOPS_VENV=/path/to/campaignops-venv >> /path/to/actions-runner/.env  # then restart the runner\n"
                "   ```\n\n"
                "   The lsst extra pins the LSST middleware to the weekly campaignops was tested with; "
                "the site stack (`stack_setup` of the profile) is set up by the jobs themselves.",
        "workdir": "e.g. `/sdf/data/rubin/shared/campaignops/work` at USDF: launch directories, bps logs and the "
                   "per-campaign locks live there, and the next status job must find them.",
        "first-campaign": f"`campaigns/{campaign}/campaign.yaml` is ready to be edited (its Butler repository path "
                          "and the set-up commands are USDF's: change them for another facility).",
    }
    for number, item in enumerate(CHECKLIST, start=1):
        lines.append(f"{number}. **{item.title}** — {item.where}.")
        if item.key in specifics:
            lines.append(f"   {specifics[item.key]}")
    lines += [
        "",
        "The full guide, with the act recipe that runs these workflows on your own machine, is campaignops' "
        "`docs/setup.md` (\"Your organisation, step by step\").",
        "",
    ]
    return "\n".join(lines)


__all__ = ["render"]
