"""One facility's runner doing one status job, as status.yml runs it with `--site`: the checkout reset to the
remote's main (actions/checkout), one reconcile cycle of the campaign scoped to its site, `campaign publish`.

Run as a process of its own by tests/demo/test_three_site_runners.py, inside a mount namespace in which the
other sites' Butler directories are empty; in-process here (rather than `campaign reconcile --site`) only so
that its WMS can be the file-backed fake and its clock the test's. Prints what it saw as one JSON line.

    python site_runner.py CHECKOUT WORKDIR SITE NOW SITES_ROOT
"""

from __future__ import annotations

import importlib.abc
import json
import sys
from pathlib import Path


class NoPipeBase(importlib.abc.MetaPathFinder):
    """lsst.pipe.base unimportable: the plan reads the committed pipeline-graph cache (as a runner whose checkout
    cannot read the pipeline does), which saves each job the middleware's pipeline import (~2 s of CPU)."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "lsst.pipe" or name.startswith("lsst.pipe."):
            raise ImportError(f"{name} is blocked in this runner (tests/fakes/site_runner.py)")
        return None


sys.meta_path.insert(0, NoPipeBase())

from campaignops.adapters.git.publish import publish  # noqa: E402  (after the blocker)
from campaignops.adapters.git.repo import Git  # noqa: E402
from campaignops.domain.scope import Scope  # noqa: E402
from campaignops.workspace import open_campaign  # noqa: E402
from fakes.file_wms import FileWms  # noqa: E402

CAMPAIGN = "demo-3x3"


def main(checkout: Path, workdir: Path, site: str, now: str, sites_root: Path) -> None:
    git = Git(checkout)
    git.run("fetch", "-q", "origin", "main")
    git.run("reset", "-q", "--hard", "FETCH_HEAD")
    ws = open_campaign(checkout, CAMPAIGN, workdir=workdir, wms=FileWms(), scope=Scope(site), strict_groups=False,
                       say=lambda _: None)
    ws.ctx.now = lambda: now
    done = ws.cycle(act=True)
    published = publish(git, message=f"status job at {site}", backoff=0.1, max_tries=8)
    visible = sorted(p.parent.name for p in sites_root.glob("*/repo") if (p / "butler.yaml").exists())
    print(json.dumps({"site": site, "visible": visible, "submitted": done.submitted, "moved": list(done.moved),
                      "merged": list(published.merged)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5]))
