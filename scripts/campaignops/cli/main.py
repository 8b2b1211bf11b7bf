"""The `campaign` command: parses arguments, hands each subcommand to its module in commands/, and is the
one place where errors become messages (exit 1, no traceback unless --debug)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from ..domain.errors import CampaignError

# name -> (module under campaignops.commands, one-line help). Each module has
# `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check campaign specs: schema and semantics, errors with file:line:column"),
    "plan": ("plan", "list every run (step x group) a campaign implies, with queries, gates and resources"),
    "render": ("render", "write one BPS submit YAML per run into a directory"),
    "apply": ("apply", "submit every run whose prerequisites are met and that the ledger does not hold"),
    "status": ("status", "look: refresh run states from the WMS and record them; starts nothing"),
    "reconcile": ("reconcile", "the runner's status job: refresh, relaunch, apply the failure rules, advance steps"),
    "retry": ("retry", "restart a failed run (bps restart) or resubmit it with more memory"),
    "rescue": ("rescue", "re-run only what failed of a run, into a new output run"),
    "resubmit": ("operate", "a fresh attempt of an ended run (new output run, config from today's spec)"),
    "cancel": ("operate", "stop a run, a step or the whole campaign through the WMS (recorded with who and why)"),
    "hold": ("operate", "put a campaign on hold: nothing new is submitted, runs are still followed"),
    "resume": ("operate", "end a hold made by `campaign hold`"),
    "skip": ("operate", "settle a run without running it (again): it no longer blocks its step"),
    "accept": ("operate", "take an ended run as it is (e.g. known bad data): later steps may proceed"),
    "reopen": ("operate", "undo a skip or accept"),
    "accept-check": ("operate", "accept a failed check of the output (value, bound and who are recorded)"),
    "control": ("control", "any of retry / more-memory / rescue / resubmit / cancel / skip / accept / reopen / "
                           "hold / resume as one command (the retry workflow's form)"),
    "setup": ("setup", "run the set-up stage that builds a campaign's fresh Butler repository (butler.setup)"),
    "notify": ("notify", "open / update / close one failure issue per failing run (GitHub or a folder)"),
    "pr-comment": ("pr_comment", "post or update the sticky plan comment on a pull request"),
    "publish": ("publish", "commit ledgers and status pages and push (main or a record branch), retrying on a race"),
    "doctor": ("doctor", "check the runner: a public repo's runner group, the PanDA token (one issue ahead of "
                         "expiry), PANDA_URL, monitor; says what to fix"),
    "ledger": ("ledger", "repair|migrate|takeover: what looks never do to the record, shown as a diff first, "
                         "recorded with who and why"),
    "history": ("history", "a campaign's timeline, read back from the ledger's git history"),
    "changed": ("changed", "campaigns whose files changed between two commits"),
    "record-guard": ("record_guard", "fail when a pull request not by the bot changes the bot's record (ledgers, pages)"),
    "new": ("new", "make a campaign from a template (e.g. this week's ci_hsc)"),
    "explain": ("explain", "which failure rule matches a failed run and why, and what it would decide"),
    "replay-rules": ("replay_rules", "a failure rules change replayed on every recorded failure: what the old and "
                                     "new rules decide, per rule and per run"),
    "errors": ("errors", "failures grouped by error code, task and site across attempts, with the rule that acted"),
    "profile": ("profile", "per task: peak memory, CPU and wall time per quantum; suggest right-sized memory"),
    "retention": ("retention", "plan or apply the retention policies: remove expired RUN collections"),
    "init": ("init", "make a control repository ready to push: workflows, rules, facility profiles, a first "
                     "campaign, a README with the set-up checklist"),
    "demo": ("demo", "the embedded default: demo Butler repository and demo campaign end to end"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. Only the command named in `argv` imports its module (all of them when `argv`
    is None): importing every command costs ~0.4 s, more than `campaign validate` of 500 files does."""
    chosen = _command_in(argv) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="campaign",
        description="Campaigns as code for Rubin data processing: a campaign is a YAML file under "
        "campaigns/<name>/campaign.yaml; this command validates, plans, renders and submits it "
        "with bps, tracks its runs in campaigns/<name>/ledger/ and reports failures.",
        epilog="Run `campaign COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--root", default=None,
                        help="repository root holding campaigns/ (default: found from the current directory)")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the Python traceback too (or set CAMPAIGNOPS_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if argv is not None and name != chosen:
            continue
        mod = importlib.import_module(f"campaignops.cli.commands.{module}")
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command word of `argv` (after the global options), None when there is none."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--root":
            skip = True  # its value may look like a command name
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    debug = bool(args.debug or os.environ.get("CAMPAIGNOPS_DEBUG"))
    try:
        return int(args._module.run(args) or 0)
    except CampaignError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `campaign status --tasks | head`: the reader left; say nothing more and do not complain at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, the traceback on request
        if debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (this is a bug in campaign; run again with "
              "--debug for the traceback and report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
