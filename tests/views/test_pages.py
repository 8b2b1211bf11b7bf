"""The pages as data: one read model from what the caller holds, rendered to {path: text} without touching disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaignops.adapters import pages as page_files
from campaignops.domain.model import Campaign
from campaignops.domain.states import RunState
from campaignops.ledger import store
from campaignops.views import pages
from fakes.engine_site import Site, make_site

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    made = make_site(tmp_path / "repo")
    assert made.campaign.path is not None
    made.campaign.path.write_text("name: camp\n")  # found by the scan of campaigns/*/campaign.yaml
    return made


def test_the_model_renders_every_page_from_what_the_cycle_holds_without_reading_a_file(site: Site,
                                                                                        tmp_path: Path) -> None:
    site.apply()
    site.wms.finish("step1/visit1", RunState.SUCCEEDED)
    ledger = site.status()
    elsewhere = tmp_path / "nothing-here"  # the renderers never look at a root
    model = pages.model([pages.Held(site.campaign, ledger, site.plan)], elsewhere, NOW)
    rendered = pages.render_all(model)
    assert set(rendered) == {"STATUS.md", "sites/local.md", "campaigns/camp/STATUS.md", "campaigns/camp/progress.svg"}
    assert not elsewhere.exists()
    assert all(page_files.is_page(path) for path in rendered), "every rendered page is declared"


def test_a_held_campaign_is_not_read_or_planned_again(site: Site) -> None:
    site.apply()
    held = site.ledger()
    store.save(site.root / "campaigns" / "camp", held.with_run(held.runs[0].with_attempt(
        held.runs[0].attempts[0].__class__(**{**held.runs[0].attempts[0].__dict__, "state": RunState.FAILED}))))

    def never(path: Path, root: Path) -> Campaign:
        raise AssertionError(f"{path} read again")

    model = pages.read_model(site.root, NOW, held=[pages.Held(site.campaign, held, site.plan)], load=never)
    [view] = model.campaigns
    assert view.ledger is held, "the caller's ledger, not the file's"
    assert "run(s) failed" not in pages.render_all(model)["STATUS.md"]


def test_the_writer_returns_what_it_wrote_and_rewrites_nothing_unchanged(site: Site) -> None:
    site.apply()
    model = pages.model([pages.Held(site.campaign, site.ledger(), site.plan)], site.root, NOW)
    first = page_files.write(site.root, pages.render_all(model), NOW)
    assert sorted(p.relative_to(site.root).as_posix() for p in first) == [
        "STATUS.md", "campaigns/camp/STATUS.md", "sites/local.md"]
    later = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    assert page_files.write(site.root, pages.render_all(model), later) == [], "same content: no new stamp"
