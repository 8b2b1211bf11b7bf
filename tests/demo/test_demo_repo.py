"""The demo Butler repository (SQLite and PostgreSQL), its tasks' failure injection, and Butler data-ID queries."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from campaignops.adapters.butler import ButlerDataIds, ButlerQueryError
from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.demo import DEFAULTS_COLLECTION, INPUT_DATASET_TYPE, INSTRUMENT, SKYMAP
from campaignops.demo.repo import MARKER_FILE, DemoRepoError, build, read_marker
from campaignops.domain.model import Campaign

pytestmark = pytest.mark.lsst
ROOT = Path(__file__).resolve().parents[2]


def _check_contents(root: Path) -> None:
    from lsst.daf.butler import Butler, CollectionType

    butler = Butler.from_config(str(root))
    try:
        assert butler.collections.get_info(DEFAULTS_COLLECTION).type == CollectionType.CHAINED
        refs = butler.query_datasets(INPUT_DATASET_TYPE, collections=DEFAULTS_COLLECTION)
        assert len(refs) == 6 * 4
        assert butler.get(refs[0])["visit"] == refs[0].dataId["visit"]
        bands = {r.dataId["band"] for r in butler.query_data_ids(["visit"], where=f"instrument='{INSTRUMENT}'")}
        assert bands == {"g", "r"}
        # The spatial join of visits and patches works, so coadd steps find their inputs.
        overlaps = butler.query_data_ids(["patch", "visit"], where=f"instrument='{INSTRUMENT}' AND skymap='{SKYMAP}'")
        assert {d["patch"] for d in overlaps} == {0, 1, 2, 3}
        assert {d["visit"] for d in overlaps} == {1001, 1002, 1003, 1004, 1005, 1006}
    finally:
        butler.close()


def test_demo_init_builds_a_sqlite_repository_with_visits_detectors_and_inputs(tmp_path: Path) -> None:
    messages: list[str] = []
    repo = build(tmp_path / "repo", progress=messages.append)
    assert repo.registry == "sqlite"
    assert repo.visits == (1001, 1002, 1003, 1004, 1005, 1006) and repo.detectors == (0, 1, 2, 3)
    assert any("demo repository ready" in m for m in messages)
    _check_contents(tmp_path / "repo")


def test_demo_init_again_keeps_the_repository_and_force_rebuilds_it(tmp_path: Path) -> None:
    first = build(tmp_path / "repo")
    messages: list[str] = []
    again = build(tmp_path / "repo", progress=messages.append)
    assert again.root == first.root and "already exists" in messages[0]
    rebuilt = build(tmp_path / "repo", force=True)
    assert rebuilt.visits == first.visits
    _check_contents(tmp_path / "repo")


def test_demo_init_refuses_a_half_built_or_foreign_directory_without_force(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    target.mkdir()
    (target / "butler.yaml").write_text("datastore: {}\n")  # what a failed `butler create` leaves
    with pytest.raises(DemoRepoError, match=r"half-built.*--force"):
        build(target)
    build(target, force=True)
    assert read_marker(target) is not None


def test_demo_init_command_prints_progress_and_the_butler_config(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from campaignops.cli.commands import demo

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    assert demo.run(parser.parse_args(["init", str(tmp_path / "repo")])) == 0
    out = capsys.readouterr().out
    assert "registering instrument DemoCam" in out
    assert f"butler config: {tmp_path / 'repo' / 'butler.yaml'}" in out
    assert (tmp_path / "repo" / MARKER_FILE).is_file()


def test_demo_init_builds_a_postgresql_registry(tmp_path: Path, postgres_url: str) -> None:
    repo = build(tmp_path / "repo", registry=postgres_url, namespace="demo_pg")
    assert repo.registry.startswith("postgresql://") and repo.namespace == "demo_pg"
    config = yaml.safe_load((tmp_path / "repo" / "butler.yaml").read_text())
    assert config["registry"]["db"] == postgres_url
    _check_contents(tmp_path / "repo")
    # --force drops the schema too, so a rebuild on the same database works.
    build(tmp_path / "repo", registry=postgres_url, namespace="demo_pg", force=True)
    _check_contents(tmp_path / "repo")


def test_demo_init_on_an_unreachable_postgresql_says_so_and_leaves_no_butler_yaml(tmp_path: Path) -> None:
    with pytest.raises(DemoRepoError, match="could not create the Butler repository"):
        build(tmp_path / "repo", registry="postgresql://nobody@127.0.0.1:1/nowhere")
    assert not (tmp_path / "repo" / "butler.yaml").exists()


# ---- ButlerDataIds: the `by: query` splitter's source --------------------------------------------

def _demo_campaign(repo: Path) -> Campaign:
    data = yaml.safe_load((ROOT / "campaigns" / "demo" / "campaign.yaml").read_text())
    data["butler"]["repo"] = str(repo)
    profile = profile_from_dict(yaml.safe_load((ROOT / "campaigns" / "profiles" / "local-parsl.yaml").read_text()))
    return campaign_from_dict(data, profile)


def test_butler_data_ids_lists_the_split_dimension_values_under_the_campaign_and_step_queries(
        tmp_path: Path) -> None:
    build(tmp_path / "repo")
    campaign = _demo_campaign(tmp_path / "repo")
    ids = ButlerDataIds(tmp_path / "repo")
    try:
        assert ids.data_ids(campaign, "step1") == [1001, 1002, 1003, 1004, 1005, 1006]
        assert ids.data_ids(campaign, "step3") == [0]
        assert ids.values("visit", "instrument='DemoCam' AND band='r'") == [1004, 1005, 1006]
        with pytest.raises(ButlerQueryError, match="no split dimension"):
            ids.data_ids(campaign, "step2")
        with pytest.raises(ButlerQueryError, match="failed"):
            ids.values("visit", "no_such_dimension = 3")
    finally:
        ids.close()


def test_butler_data_ids_names_a_missing_repository() -> None:
    with pytest.raises(ButlerQueryError, match="cannot open Butler repository /nonexistent/repo"):
        ButlerDataIds("/nonexistent/repo").values("visit")


# ---- failure injection in the demo tasks ---------------------------------------------------------

def test_fail_where_expressions_match_data_ids() -> None:
    from campaignops.demo.tasks import WhereExpression

    expr = WhereExpression.parse("visit=1002 AND detector=1 OR visit IN (1005, 1006) AND band='r'")
    assert expr.matches({"visit": 1002, "detector": 1})
    assert not expr.matches({"visit": 1002, "detector": 2})
    assert expr.matches({"visit": 1006, "detector": 0, "band": "r"})
    assert not expr.matches({"visit": 1006, "band": "g"})
    assert WhereExpression.parse("visit in (1003) and detector != 2").matches({"visit": 1003, "detector": 1})
    with pytest.raises(ValueError, match="cannot read"):
        WhereExpression.parse("visit > 3")


def test_a_bad_fail_where_is_rejected_as_soon_as_it_is_set() -> None:
    from lsst.pex.config import FieldValidationError

    from campaignops.demo.tasks import CalibrateDemoConfig

    config = CalibrateDemoConfig()
    with pytest.raises(FieldValidationError, match=r"fail_where.*cannot read 'visit ~ 3'"):
        config.fail_where = "visit ~ 3"
