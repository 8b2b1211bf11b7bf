"""Transfer planning of a 3×3-shaped campaign: per-site steps stay at their sites, the global step gathers from
every other site, the fan-out back sends each site only what its runs read, and final outputs come back."""

from __future__ import annotations

from dataclasses import replace

from campaignops.campaign_spec.parse import campaign_from_dict
from campaignops.domain.model import Campaign, Profile
from campaignops.planning.plan import make_plan
from campaignops.planning.transfers import UnfedRead, moved_from, unfed_reads

USDF = Profile("local-usdf", "d", "USDF", "parsl", "", (("wmsServiceClass", "x.S"),), butler_repo="/s/usdf")
FRDF = replace(USDF, name="local-frdf", site="FrDF", butler_repo="/s/frdf")
UKDF = replace(USDF, name="local-ukdf", site="UKDF", butler_repo="/s/ukdf")
RESIDENT_VISITS = {"local-usdf": "visit IN (1, 2)", "local-frdf": "visit IN (3, 4)", "local-ukdf": "visit IN (5, 6)"}
RESIDENT_PATCHES = {"local-usdf": "patch IN (0, 3)", "local-frdf": "patch IN (1, 4)", "local-ukdf": "patch IN (2, 5)"}


def campaign() -> Campaign:
    residency = {"by": "residency", "dimension": "visit", "datasets": ["raw"]}
    data = {"name": "three", "description": "d", "operator": "op", "profile": "local-usdf",
            "sites": ["local-usdf", "local-frdf", "local-ukdf"], "stack": {"tag": "w_2026_47"},
            "butler": {"repo": "/r", "inputs": ["in"], "output": "o/{campaign}"}, "pipeline": "p.yaml",
            "data_query": "instrument='X'",
            "steps": [{"name": "step1", "subsets": ["step1"], "split": residency},
                      {"name": "step2", "subsets": ["step2"], "split": residency},
                      {"name": "step2c", "subsets": ["step2c"]},
                      {"name": "step3", "subsets": ["step3"], "data_query": "skymap='sky'",
                       "split": {**residency, "dimension": "patch"}},
                      {"name": "step4", "subsets": ["step4"], "data_query": "skymap='sky'"}]}
    return campaign_from_dict(data, USDF, site_profiles=(USDF, FRDF, UKDF))


FROZEN = {
    "step1": tuple((site, q, 2) for site, q in RESIDENT_VISITS.items()),
    "step2": tuple((site, q, 2) for site, q in RESIDENT_VISITS.items()),
    "step3": tuple((site, q, 2) for site, q in RESIDENT_PATCHES.items()),
}
MOVED = {("step2", "step1"): ("calexp",), ("step2c", "step2"): ("visit_summary",),
         ("step3", "step2c"): ("global_calib",), ("step4", "step3"): ("coadd",)}


def test_a_three_site_plan_gathers_to_the_central_site_fans_out_and_brings_final_outputs_back() -> None:
    plan = make_plan(campaign(), frozen=FROZEN, moved=MOVED)
    assert [(r.key, r.site) for r in plan.runs if r.step in ("step2c", "step4")] == [
        ("step2c/all", "local-usdf"), ("step4/all", "local-usdf")]
    assert {r.site for r in plan.runs_of("step1")} == {"local-usdf", "local-frdf", "local-ukdf"}
    assert [t.key for t in plan.transfers] == [
        "step2c@local-usdf<step2@local-frdf", "step2c@local-usdf<step2@local-ukdf",
        "step3@local-frdf<step2c@local-usdf", "step3@local-ukdf<step2c@local-usdf",
        "step4@local-usdf<step3@local-frdf", "step4@local-usdf<step3@local-ukdf"], \
        "no transfer between two per-site steps, none from a site to itself"
    fan_out = {t.destination: t for t in plan.transfers if t.step == "step3"}
    assert "patch IN (1, 4)" in fan_out["local-frdf"].where and "patch IN (2, 5)" in fan_out["local-ukdf"].where, \
        "each site receives only what its own runs read"
    assert fan_out["local-frdf"].dataset_types == ("global_calib",)
    gather = [t for t in plan.transfers if t.step == "step2c"]
    assert [t.sources for t in gather] == [("step2/local-frdf",), ("step2/local-ukdf",)]


def test_declared_dataset_types_win_over_the_pipeline_and_a_pair_with_nothing_to_move_has_no_transfer() -> None:
    c = campaign()
    steps = tuple(replace(s, transfer_types=("visit_summary", "visit_table")) if s.name == "step2c" else s
                  for s in c.steps)
    plan = make_plan(replace(c, steps=steps), frozen=FROZEN, moved={("step2c", "step2"): ("ignored",)})
    assert [(t.key, t.dataset_types) for t in plan.transfers] == [
        ("step2c@local-usdf<step2@local-frdf", ("visit_summary", "visit_table")),
        ("step2c@local-usdf<step2@local-ukdf", ("visit_summary", "visit_table"))]


def test_a_single_site_campaign_has_no_sites_and_no_transfers() -> None:
    c = replace(campaign(), site_profiles=())
    frozen = {"step1": (("all", "", 0),), "step2": (("all", "", 0),), "step3": (("all", "", 0),)}
    plan = make_plan(c, frozen=frozen, moved=MOVED)
    assert plan.transfers == () and {r.site for r in plan.runs} == {""}


def test_before_the_first_apply_the_plan_already_shows_every_site_and_transfer() -> None:
    plan = make_plan(campaign(), moved=MOVED)  # no Butler asked yet: a pull request's plan
    step1 = plan.runs_of("step1")
    assert [(r.group, r.site, r.pending) for r in step1] == [
        ("pending-query.local-usdf", "local-usdf", True), ("pending-query.local-frdf", "local-frdf", True),
        ("pending-query.local-ukdf", "local-ukdf", True)]
    assert len(plan.transfers) == 6 and {t.source for t in plan.transfers if t.step == "step2c"} == {
        "local-frdf", "local-ukdf"}


def test_two_steps_reading_the_same_datasets_from_the_same_site_share_one_transfer_under_one_name() -> None:
    c = campaign()
    # step4 requires step2c too and reads its calibrations at the central site: nothing moves for it there; at
    # FrDF a second per-site step (step3b) reads the same calibrations step3 has brought: moved once.
    extra = replace(c.step("step3"), name="step3b", requires=("step2c",))
    plan = make_plan(replace(c, steps=(*c.steps, extra)), frozen={**FROZEN, "step3b": FROZEN["step3"]},
                     moved={**MOVED, ("step3b", "step2c"): ("global_calib",)})
    into_frdf = [t for t in plan.transfers if t.destination == "local-frdf"]
    assert [(t.key, t.readers) for t in into_frdf] == [("step3@local-frdf<step2c@local-usdf", ("step3b",))]
    [step3b_frdf] = [r for r in plan.runs_of("step3b") if r.site == "local-frdf"]
    assert plan.transfers_into(step3b_frdf) == tuple(into_frdf), "the second reader waits for the one transfer"


TYPES = {"step1": (frozenset({"raw"}), frozenset({"calexp"})),
         "step2": (frozenset({"calexp"}), frozenset({"visit_summary"})),
         "step2c": (frozenset({"visit_summary"}), frozenset({"global_calib"})),
         "step3": (frozenset({"global_calib", "visit_summary"}), frozenset({"coadd"})),
         "step4": (frozenset({"coadd"}), frozenset({"tract_summary"}))}


def test_the_3x3_plan_feeds_every_read_from_another_site() -> None:
    c = campaign()
    assert moved_from(c, TYPES) == MOVED
    assert unfed_reads(make_plan(c, frozen=FROZEN, moved=moved_from(c, TYPES)), TYPES) == ()


def test_a_global_step_requiring_the_wrong_step_reads_only_the_central_sites_share() -> None:
    c = campaign()
    steps = tuple(replace(s, requires=("step1",)) if s.name == "step2c" else s for s in c.steps)
    wrong = replace(c, steps=steps)
    plan = make_plan(wrong, frozen=FROZEN, moved=moved_from(wrong, TYPES))
    assert not [t for t in plan.transfers if t.step == "step2c"], "nothing moves: the silent case"
    assert unfed_reads(plan, TYPES) == (
        UnfedRead("step2c", "local-usdf", "visit_summary", "step2", ("local-frdf", "local-ukdf")),)
