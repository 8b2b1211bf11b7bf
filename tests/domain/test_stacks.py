"""Stack tags: order, the newest published weekly for a day, and what a refusal suggests (pure)."""

from __future__ import annotations

import datetime as dt

from campaignops.domain.stacks import (
    Published,
    base_of,
    missing,
    nearest,
    newest_first,
    newest_weekly,
    parse,
    weekly_for,
)

CVMFS = "/cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib"
LISTING = Published(CVMFS, newest_first(["w_2026_44", "w_2026_46", "w_2026_45", "d_2026_11_12", "v29_2_1",
                                         "v30_0_0_rc1", "v30_0_0", "w_latest", "loadLSST.bash", "w_2026_99"]))


def test_a_listing_keeps_only_stack_tags_newest_first() -> None:
    assert LISTING.tags == ("w_2026_46", "d_2026_11_12", "w_2026_45", "w_2026_44", "v30_0_0", "v30_0_0_rc1",
                            "v29_2_1")
    assert parse("w_latest") is None and parse("w_2026_99") is None  # not a tag; no ISO week 99


def test_the_newest_weekly_is_the_newest_published_up_to_the_days_iso_week() -> None:
    monday_of_week_47 = dt.date(2026, 11, 16)
    assert newest_weekly(LISTING, monday_of_week_47) == "w_2026_46"  # w_2026_47 is published at the week's end
    assert newest_weekly(LISTING, dt.date(2026, 11, 1)) == "w_2026_44"  # a backfill takes no later weekly
    assert newest_weekly(LISTING, dt.date(2026, 1, 5)) is None


def test_a_weekly_without_a_listing_is_this_iso_weeks_and_says_it_may_not_exist() -> None:
    tag, said = weekly_for(dt.date(2026, 11, 16), "usdf-panda", None)
    assert tag == "w_2026_47" and "usdf-panda lists no stacks" in said and "may not be published yet" in said
    tag, said = weekly_for(dt.date(2026, 11, 16), "usdf-panda", Published(CVMFS, unreadable="No such file"))
    assert tag == "w_2026_47" and f"{CVMFS}: No such file" in said
    tag, said = weekly_for(dt.date(2026, 11, 16), "usdf-panda", LISTING)
    assert tag == "w_2026_46" and said == f"stack w_2026_46: the newest weekly published at usdf-panda ({CVMFS})"


def test_a_missing_tag_is_refused_with_the_nearest_published_ones_and_a_developer_stack_by_its_base() -> None:
    why = missing("w_2026_47", "usdf-panda", LISTING)
    assert why == (f"stack w_2026_47 is not published at usdf-panda ({CVMFS}): it has w_2026_46, w_2026_45, "
                   "w_2026_44 (7 tags in all)")
    assert missing("w_2026_46+DM-48211", "usdf-panda", LISTING) is None
    assert "stack w_2026_40+DM-1 (base w_2026_40)" in (missing("w_2026_40+DM-1", "usdf-panda", LISTING) or "")
    assert missing("local", "usdf-panda", LISTING) is None
    assert missing("w_2026_47", "usdf-panda", Published(CVMFS, unreadable="Permission denied")) is None
    assert "lists no stack tags" in (missing("w_2026_47", "x", Published(CVMFS)) or "")


def test_suggestions_are_of_the_wanted_kind_nearest_first_and_a_long_list_is_cut() -> None:
    many = Published("tags", newest_first(f"w_2026_{w:02d}" for w in range(1, 40) if w != 20))
    assert nearest("w_2026_20", many) == ("w_2026_23", "w_2026_22", "w_2026_21", "w_2026_19", "w_2026_18",
                                          "w_2026_17")
    assert nearest("v30_1_0", LISTING) == ("v30_0_0", "v30_0_0_rc1", "v29_2_1")
    assert "(38 tags in all)" in (missing("w_2026_20", "s", many) or "")
    assert base_of("v30_0_0+DM-1+DM-2") == "v30_0_0"
