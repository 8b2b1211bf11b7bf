"""Before a launch the engine checks the campaign's stack against its site's listing (engine/stacks.py): a tag the
site lacks is refused before any intent is recorded — for the runs and for the set-up stage — a published one
launches, and a listing that cannot be read is said, not held against the launch. In-memory WMS; the listings
are read by the real adapter (adapters/stacks.py) from explicit tags or a real folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from campaignops.adapters.stacks import published
from campaignops.domain.errors import SubmitError
from campaignops.domain.stacks import StackSource
from fakes.engine_site import Site, make_site


def listed(site: Site, source: StackSource) -> Site:
    """The site with its profile listing its stacks at `source`, read by the real adapter."""
    profile = replace(site.campaign.profile, stacks=source)
    return replace(site, campaign=replace(site.campaign, profile=profile), stacks_at=published, said=[])


def test_apply_refuses_a_tag_the_site_lacks_before_any_intent_and_launches_a_published_one(tmp_path: Path) -> None:
    site = listed(make_site(tmp_path), StackSource(tags=("w_2026_45", "w_2026_46")))  # the campaign's: w_2026_47
    with pytest.raises(SubmitError, match=r"stack w_2026_47 is not published at local-parsl \(the profile's "
                                          r"stacks.tags\): it has w_2026_46, w_2026_45\. Nothing was submitted"):
        site.apply()
    assert site.ledger().runs == () and site.wms.submissions("step1/visit1") == 0
    with pytest.raises(SubmitError):
        site.status()  # the status job's cycle refuses the same way
    assert site.ledger().runs == ()
    site = listed(site, StackSource(tags=("w_2026_46", "w_2026_47")))
    site.apply()
    assert site.wms.submissions("step1/visit1") == 1 and site.wms.submissions("step1/visit2") == 1


def test_an_unreadable_listing_is_said_and_the_runs_launch(tmp_path: Path) -> None:
    site = listed(make_site(tmp_path), StackSource(listing=str(tmp_path / "cvmfs" / "lsst_distrib")))
    site.apply()
    assert site.wms.submissions("step1/visit1") == 1
    assert site.said is not None
    assert any("warning: could not check that stack w_2026_47 is published at local-parsl" in s for s in site.said)


def test_the_set_up_stage_is_refused_before_it_is_recorded(tmp_path: Path) -> None:
    listing = tmp_path / "lsst_distrib"
    (listing / "w_2026_46").mkdir(parents=True)
    butler = {"repo": str(tmp_path / "repos" / "{campaign}"), "inputs": ["in"], "output": "out/{campaign}",
              "setup": {"commands": ["mkdir -p {repo}"]}}
    site = listed(make_site(tmp_path, campaign_extra={"butler": butler}), StackSource(listing=str(listing)))
    with pytest.raises(SubmitError, match="it has w_2026_46"):
        site.status()
    assert site.ledger().setup is None and not (tmp_path / "repos").exists()
