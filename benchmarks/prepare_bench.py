"""Benchmark: `bps prepare` of one demo run through the real plugin of each production profile, offline.

The demo's step1 (one visit group, 8 quanta) is rendered for usdf-panda, frdf-panda, ukdf-panda and
htcondor against a fresh demo Butler and prepared with ctrl_bps's prepare_driver (quantum graph,
clustering, the plugin's workflow: PanDA/iDDS tasks or the HTCondor DAG and submit files). The PanDA
site files are ctrl_bps_panda's (tests/fixtures/ctrl_bps_panda). Most of the time is `pipetask qgraph`.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

from campaignops.campaign_spec.parse import campaign_from_dict

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("usdf-panda", "frdf-panda", "ukdf-panda", "htcondor")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (pipetask qgraph): a figure load does not inflate."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    from campaignops.adapters.bps.prepare import prepare
    from campaignops.campaign_spec import load as spec
    from campaignops.demo.repo import build
    from campaignops.planning.plan import make_plan
    from campaignops.planning.render import render_run

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    os.environ["CTRL_BPS_PANDA_DIR"] = str(ROOT / "tests" / "fixtures" / "ctrl_bps_panda")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        build(tmp / "repo")
        path = ROOT / "campaigns" / "demo" / "campaign.yaml"
        for profile in PROFILES:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            data |= {"profile": profile, "stack": {"tag": "w_2026_47"}, "steps": data["steps"][:1]}
            data["butler"] |= {"repo": str(tmp / "repo"), "output": f"bench/{profile}"}
            campaign = campaign_from_dict(data, spec.load_profile(profile, ROOT), path=path)
            config = tmp / f"{profile}.yaml"
            config.write_text(render_run(campaign, make_plan(campaign).runs[0], 1, root=ROOT), encoding="utf-8")
            start, cpu = time.monotonic(), _cpu()
            run = prepare(config, tmp / profile)
            wall, cpu = time.monotonic() - start, _cpu() - cpu
            jobs = sum(t.jobs for t in run.tasks)
            print(f"{profile}: prepare {wall:.1f} s wall, {cpu:.1f} s CPU with pipetask qgraph "
                  f"({len(run.tasks)} tasks, {jobs} jobs)", flush=True)


if __name__ == "__main__":
    main()
