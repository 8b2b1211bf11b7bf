"""Splitting a step into groups: none, values, ranges, count files and Butler queries."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from campaignops.campaign_spec.parse import campaign_from_dict, profile_from_dict
from campaignops.domain.errors import PlanError
from campaignops.domain.model import PENDING_QUERY, Campaign, Group, Profile, Step
from campaignops.planning.grouping import groups_for

PROFILE = profile_from_dict({"name": "htcondor", "description": "test", "site": "other", "wms": "htcondor",
                             "bps": {"wmsServiceClass": "lsst.ctrl.bps.htcondor.HTCondorService"}})


def campaign(split: dict[str, Any] | None, path: Path | None = None) -> Campaign:
    step: dict[str, Any] = {"name": "step1", "subsets": ["step1"]}
    if split is not None:
        step["split"] = split
    return campaign_from_dict({
        "name": "test-campaign", "description": "d", "operator": "lsstsvc1", "profile": "htcondor",
        "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/repo/main", "inputs": ["HSC/defaults"],
                                                  "output": "u/{operator}/{campaign}"},
        "pipeline": "p.yaml", "steps": [step]}, PROFILE, path=path)


def groups(split: dict[str, Any] | None, path: Path | None = None, **kwargs: Any) -> tuple[Group, ...]:
    c = campaign(split, path)
    return groups_for(c, c.steps[0], **kwargs)


def write_ids(tmp_path: Path, text: str) -> Path:
    (tmp_path / "visits.txt").write_text(text, encoding="utf-8")
    return tmp_path / "campaign.yaml"


COUNT = {"by": "count", "dimension": "visit", "max_size": 3, "source": "visits.txt"}


def test_no_split_is_one_group_all_without_query() -> None:
    assert groups(None) == (Group("all", "", None),)
    assert groups({"by": "none"}) == (Group("all", "", None),)


def test_each_value_is_its_own_group_named_after_dimension_and_value() -> None:
    got = groups({"by": "values", "dimension": "tract", "values": [9615, 9697]})
    assert got == (Group("tract9615", "tract = 9615", 1), Group("tract9697", "tract = 9697", 1))


def test_a_list_of_values_makes_one_group_with_an_in_query() -> None:
    got = groups({"by": "values", "dimension": "tract", "values": [9615, [9697, 9813]]})
    assert got[1] == Group("tract9697-9813", "tract IN (9697, 9813)", 2)


def test_string_values_are_single_quoted() -> None:
    got = groups({"by": "values", "dimension": "patch", "values": ["a1", ["b2", "c3"]]})
    assert [g.query for g in got] == ["patch = 'a1'", "patch IN ('b2', 'c3')"]


@pytest.mark.parametrize("value", ["it's", 'say "x"', "back\\slash"])
def test_values_with_quotes_are_refused(value: str) -> None:
    with pytest.raises(PlanError, match="quote or backslash"):
        groups({"by": "values", "dimension": "patch", "values": [value]})


def test_repeated_value_is_refused_as_duplicate_group() -> None:
    with pytest.raises(PlanError, match="two groups are named 'tract9615'"):
        groups({"by": "values", "dimension": "tract", "values": [9615, 9615]})


def test_ranges_are_inclusive_and_named_by_default_from_dimension_and_bounds() -> None:
    got = groups({"by": "values", "dimension": "visit",
                  "ranges": [{"min": 318, "max": 1000}, {"min": 1001, "max": 2000, "name": "cosmos"}]})
    assert got == (Group("visit318-1000", "visit >= 318 AND visit <= 1000", None),
                   Group("cosmos", "visit >= 1001 AND visit <= 2000", None))


def test_range_with_min_above_max_is_refused() -> None:
    with pytest.raises(PlanError, match="min 10 is above max 5"):
        groups({"by": "values", "dimension": "visit", "ranges": [{"min": 10, "max": 5}]})


def test_count_split_chunks_the_file_in_file_order(tmp_path: Path) -> None:
    path = write_ids(tmp_path, "# visits\n30\n10\n\n20  # late addition\n50\n40\n")
    got = groups(COUNT, path)
    assert got == (Group("g0000", "visit IN (30, 10, 20)", 3), Group("g0001", "visit IN (50, 40)", 2))


def test_a_single_id_chunk_uses_equality(tmp_path: Path) -> None:
    got = groups(COUNT, write_ids(tmp_path, "1\n2\n3\n4\n"))
    assert got[-1] == Group("g0001", "visit = 4", 1)


def test_appending_ids_never_renames_or_changes_earlier_groups(tmp_path: Path) -> None:
    path = write_ids(tmp_path, "".join(f"{v}\n" for v in range(100, 107)))
    before = groups(COUNT, path)
    (tmp_path / "visits.txt").write_text("".join(f"{v}\n" for v in range(100, 112)), encoding="utf-8")
    after = groups(COUNT, path)
    # Only the last, partial group may grow; every full group keeps name and query.
    assert after[: len(before) - 1] == before[:-1]
    assert after[len(before) - 1].name == before[-1].name
    assert [g.name for g in after] == ["g0000", "g0001", "g0002", "g0003"]


def test_once_frozen_appended_ids_form_new_groups_and_no_id_moves(tmp_path: Path) -> None:
    path = write_ids(tmp_path, "".join(f"{v}\n" for v in range(100, 107)))  # 7 IDs: 3 + 3 + 1
    first = groups(COUNT, path)
    frozen = tuple((g.name, g.query, g.size or 0) for g in first)
    (tmp_path / "visits.txt").write_text("".join(f"{v}\n" for v in range(100, 112)), encoding="utf-8")
    after = groups(COUNT, path, frozen=frozen)
    assert after[: len(first)] == first  # the partial last group g0002 did not grow
    assert [(g.name, g.query) for g in after[len(first):]] == [
        ("g0003", "visit IN (107, 108, 109)"), ("g0004", "visit IN (110, 111)")]


def test_count_source_is_read_next_to_the_campaign_file_not_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "campaigns" / "c"
    folder.mkdir(parents=True)
    path = write_ids(folder, "1\n")
    monkeypatch.chdir(tmp_path)
    assert groups(COUNT, path) == (Group("g0000", "visit = 1", 1),)


def test_missing_count_source_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"visits\.txt does not exist"):
        groups(COUNT, tmp_path / "campaign.yaml")


def test_non_integer_id_is_reported_with_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"visits\.txt:3: 'v12' is not an integer visit ID"):
        groups(COUNT, write_ids(tmp_path, "1\n# c\nv12\n"))


def test_duplicate_id_is_reported_with_both_lines(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"visits\.txt:3: visit 7 already listed on line 1"):
        groups(COUNT, write_ids(tmp_path, "7\n8\n7\n"))


def test_empty_count_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="lists no IDs"):
        groups(COUNT, write_ids(tmp_path, "# nothing yet\n\n"))


QUERY = {"by": "query", "dimension": "visit", "max_size": 2}


class FakeIds:
    def __init__(self, ids: list[int | str]) -> None:
        self.ids = ids
        self.asked: list[tuple[str, str]] = []

    def data_ids(self, campaign: Campaign, step: Step) -> list[int | str]:
        self.asked.append((campaign.name, step.name))
        return list(self.ids)


class Unreachable:
    def data_ids(self, campaign: Campaign, step: Step) -> list[int | str]:
        raise AssertionError("the Butler must not be asked when groups are frozen")


def test_query_split_without_butler_is_a_pending_placeholder() -> None:
    (only,) = groups(QUERY)
    assert only.name == PENDING_QUERY and only.pending and only.query == ""


def test_query_split_chunks_sorted_butler_ids() -> None:
    source = FakeIds([5, 1, 3, 2, 4])
    got = groups(QUERY, ids_source=source)
    assert got == (Group("g0000", "visit IN (1, 2)", 2), Group("g0001", "visit IN (3, 4)", 2),
                   Group("g0002", "visit = 5", 1))
    assert source.asked == [("test-campaign", "step1")]
    assert not any(g.pending for g in got)


def test_frozen_query_groups_are_used_verbatim_without_asking_the_butler() -> None:
    frozen = (("g0000", "visit IN (1, 2)", 2), ("g0001", "visit = 9", 1))
    got = groups(QUERY, frozen=frozen, ids_source=Unreachable())
    assert got == (Group("g0000", "visit IN (1, 2)", 2), Group("g0001", "visit = 9", 1))


def test_query_finding_nothing_is_an_error_not_an_empty_step() -> None:
    with pytest.raises(PlanError, match="found no data IDs"):
        groups(QUERY, ids_source=FakeIds([]))


def test_count_split_of_a_campaign_not_read_from_a_file_is_refused() -> None:
    # Reading relative to the current directory would make the plan depend on where it runs.
    with pytest.raises(PlanError, match="not loaded from a file"):
        groups(COUNT, None)


def test_a_residency_split_gives_each_site_one_group_of_what_its_butler_holds_and_skips_empty_sites() -> None:
    central = Profile("usdf", "d", "USDF", "parsl", "", (("wmsServiceClass", "x.S"),), butler_repo="/usdf")
    fr, uk = replace(central, name="frdf", butler_repo="/frdf"), replace(central, name="ukdf", butler_repo="/ukdf")
    data = {"name": "camp", "description": "d", "operator": "op", "profile": "usdf", "sites": ["frdf", "ukdf"],
            "stack": {"tag": "w_2026_47"}, "butler": {"repo": "/r", "inputs": ["in"], "output": "o"},
            "pipeline": "p.yaml",
            "steps": [{"name": "step1", "subsets": ["step1"], "split": {"by": "residency", "dimension": "visit"}}]}
    campaign = campaign_from_dict(data, central, site_profiles=(central, fr, uk))
    resident = {"usdf": [1002, 1001], "frdf": [1003, 1004, 1003], "ukdf": []}

    class Sites:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def data_ids(self, campaign: Campaign, step: object) -> list[int | str]:
            raise AssertionError("a residency split asks each site, not the campaign's repository")

        def resident(self, campaign: Campaign, step: object, site: str) -> list[int | str]:
            self.asked.append(campaign.repo_at(site))
            return list(resident[site])

    source = Sites()
    groups = groups_for(campaign, campaign.steps[0], ids_source=source)
    assert [(g.name, g.query, g.size) for g in groups] == [
        ("usdf", "visit IN (1001, 1002)", 2), ("frdf", "visit IN (1003, 1004)", 2)]
    assert source.asked == ["/usdf", "/frdf", "/ukdf"], "each site's own Butler is asked"
    assert groups_for(campaign, campaign.steps[0])[0].pending, "without a Butler the groups wait for apply"
    frozen = tuple((g.name, g.query, g.size or 0) for g in groups)
    assert groups_for(campaign, campaign.steps[0], frozen=frozen) == groups, "recorded groups never move"
    resident.update(usdf=[], frdf=[])
    with pytest.raises(PlanError, match="no site's Butler holds any visit"):
        groups_for(campaign, campaign.steps[0], ids_source=Sites())
