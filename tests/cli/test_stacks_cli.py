"""Stacks that exist (issue 22): a profile's `stacks:` listing is a real directory here, as CVMFS' lsst_distrib is
on a runner. `campaign new` takes the newest weekly it holds, `campaign apply` refuses a tag it lacks before
recording anything, and `campaign validate` says so at the tag's line and column.

In-process `campaign` commands on a scratch control repository; nothing is launched (the refusal comes first).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from campaignops.cli.main import main
from campaignops.ledger import store
from fakes.launching_repo import ROOT, control_repo


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A control repository whose local-parsl and usdf-panda profiles list the stacks of a folder laid out as
    /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib is (a directory per tag, beside w_latest and files)."""
    listing = tmp_path / "lsst_distrib"
    for tag in ("w_2026_44", "w_2026_45", "w_2026_46", "d_2026_11_12", "w_latest"):
        (listing / tag).mkdir(parents=True)
    (listing / "README.txt").write_text("not a stack\n")
    root = control_repo(tmp_path)
    for name in ("local-parsl", "usdf-panda"):
        profile = root / "campaigns" / "profiles" / f"{name}.yaml"
        text = profile.read_text().replace("\nstacks:\n  listing: /cvmfs/sw.lsst.eu/almalinux-x86_64/lsst_distrib\n",
                                           "\n")
        profile.write_text(text + f"stacks:\n  listing: {listing}\n")
    (root / "campaigns" / "templates").mkdir()
    shutil.copy(ROOT / "campaigns" / "templates" / "ci-hsc-weekly.yaml", root / "campaigns" / "templates")
    return root


def set_stack(root: Path, tag: str) -> Path:
    spec = root / "campaigns" / "demo" / "campaign.yaml"
    spec.write_text(spec.read_text().replace("stack:\n  tag: local\n", f"stack:\n  tag: {tag}\n"))
    return spec


def test_new_takes_the_newest_published_weekly_not_this_weeks(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Monday of ISO week 48: w_2026_47 is not published yet (nor listed here); w_2026_46 is the newest weekly.
    assert main(["--root", str(root), "new", "--from", "ci-hsc-weekly", "--date", "2026-11-23"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "ci-hsc-w_2026_46"
    assert "stack w_2026_46: the newest weekly published at usdf-panda" in out.err
    made = (root / "campaigns" / "ci-hsc-w_2026_46" / "campaign.yaml").read_text()
    assert "  tag: w_2026_46\n" in made


def test_apply_refuses_an_unpublished_tag_naming_the_published_ones_and_records_no_launch(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_stack(root, "w_2026_47+DM-48211")
    spec = root / "campaigns" / "demo" / "campaign.yaml"
    spec.write_text(spec.read_text().replace("  tag: w_2026_47+DM-48211\n",
                                             "  tag: w_2026_47+DM-48211\n  packages: [/sdf/dev/DM-48211/pipe_tasks]\n"))
    workdir = tmp_path / "work"
    assert main(["--root", str(root), "apply", "demo", "--workdir", str(workdir)]) == 1
    err = capsys.readouterr().err
    assert ("error: demo: stack w_2026_47+DM-48211 (base w_2026_47) is not published at local-parsl "
            f"({tmp_path / 'lsst_distrib'}): it has w_2026_46, w_2026_45, w_2026_44") in err
    assert "Nothing was submitted" in err and "internal error" not in err
    assert store.load(spec.parent, "demo").runs == ()  # no intent, no FAILED run: a refusal
    assert not list(workdir.glob("demo/step1/*/a01"))  # nor a launch directory


def test_validate_flags_an_unpublished_tag_at_its_line_and_column(root: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    spec = set_stack(root, "w_2026_47")
    line = spec.read_text().splitlines().index("  tag: w_2026_47") + 1
    assert main(["--root", str(root), "validate", str(spec)]) == 1
    out = capsys.readouterr().out
    assert f"campaigns/demo/campaign.yaml:{line}:3: stack.tag: " in out
    assert "stack w_2026_47 is not published at local-parsl" in out and "it has w_2026_46" in out
    set_stack_text = spec.read_text().replace("tag: w_2026_47", "tag: w_2026_46")
    spec.write_text(set_stack_text)
    assert main(["--root", str(root), "validate", str(spec)]) == 0


def test_validate_warns_on_an_unreadable_listing_and_says_nothing_where_its_file_system_is_absent(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = set_stack(root, "w_2026_47")
    profile = root / "campaigns" / "profiles" / "local-parsl.yaml"
    listed = profile.read_text()
    profile.write_text(listed.replace(str(tmp_path / "lsst_distrib"), str(tmp_path / "gone")))
    assert main(["--root", str(root), "validate", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "could not check that stack w_2026_47 is published at local-parsl" in out
    profile.write_text(listed.replace(str(tmp_path / "lsst_distrib"), "/cvmfs-not-here/sw.lsst.eu/lsst_distrib"))
    assert main(["--root", str(root), "validate", str(spec)]) == 0
    assert "warning" not in capsys.readouterr().out  # a GitHub-hosted runner has no CVMFS: nothing to say


def test_a_profile_lists_its_stacks_one_way_at_absolute_paths(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = root / "campaigns" / "profiles" / "local-parsl.yaml"
    text = profile.read_text()
    profile.write_text(text + "  tags: [w_2026_46]\n")
    assert main(["--root", str(root), "validate", str(profile)]) == 1
    out = capsys.readouterr().out
    line = len(text.splitlines()) + 1
    assert f"campaigns/profiles/local-parsl.yaml:{line}:3: stacks.tags: stacks names both a listing and tags" in out
    profile.write_text(text.split("stacks:")[0] + "stacks:\n  listing: sw/lsst_distrib\n")
    assert main(["--root", str(root), "validate", str(profile)]) == 1
    assert "stacks.listing: 'sw/lsst_distrib' is not a valid" in capsys.readouterr().out
