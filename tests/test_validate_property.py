"""Whatever is in a spec file, `campaign validate` answers 0 or 1: it never raises past the CLI."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaignops import cli

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PROFILE = "name: test-site\ndescription: tests\nsite: local\nwms: parsl\nbps: {wmsServiceClass: a.B}\n"
PIPELINE = "tasks:\n  isr: lsst.ip.isr.IsrTask\nsubsets:\n  step1: [isr]\n"


def validate_in_repo(content: bytes, extra: dict[str, str] | None = None) -> int:
    """Write `content` as campaigns/cmp/campaign.yaml of a fresh repository and run the CLI on it."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "campaigns" / "profiles").mkdir(parents=True)
        (root / "campaigns" / "profiles" / "test-site.yaml").write_text(PROFILE)
        folder = root / "campaigns" / "cmp"
        folder.mkdir()
        for name, text in (extra or {}).items():
            (folder / name).write_text(text)
        spec = folder / "campaign.yaml"
        spec.write_bytes(content)
        return cli.main(["--root", tmp, "validate", str(spec)])


@SETTINGS
@given(st.text())
def test_any_text_gives_exit_0_or_1(text: str) -> None:
    assert validate_in_repo(text.encode("utf-8", "surrogatepass")) in (0, 1)


@SETTINGS
@given(st.text(alphabet=":-?[]{},'\"#&*!|>%@`\\ \n\t\r~ab1.=<", max_size=80))
def test_yaml_punctuation_soup_gives_exit_0_or_1(text: str) -> None:
    assert validate_in_repo(text.encode()) in (0, 1)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_give_exit_0_or_1(data: bytes) -> None:
    assert validate_in_repo(data) in (0, 1)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
KEYS = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none())
ANY_DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20)


@SETTINGS
@given(ANY_DATA)
def test_any_yaml_data_gives_exit_0_or_1(data: Any) -> None:
    assert validate_in_repo(yaml.safe_dump(data, allow_unicode=True).encode()) in (0, 1)


def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes garbage of any shape."""
    return st.one_of(*[good] * 9, ANY_DATA)


NAMES = st.sampled_from(["s1", "s2", "s3"])
RANGE = st.fixed_dictionaries({"min": either(st.integers(0, 30)), "max": either(st.integers(0, 30))},
                              optional={"name": st.sampled_from(["a", "b", "bad name"])})
SPLIT = st.fixed_dictionaries(
    {"by": either(st.sampled_from(["none", "values", "count", "query", "value"]))},
    optional={
        "dimension": either(st.sampled_from(["visit", "tract", "tracts"])),
        "values": either(st.lists(st.one_of(st.integers(0, 9), st.text("ab '", max_size=3),
                                            st.lists(st.integers(0, 9), max_size=3)), max_size=5)),
        "ranges": either(st.lists(RANGE, max_size=4)),
        "max_size": either(st.integers(-1, 5)),
        "source": either(st.sampled_from(["ids.txt", "missing.txt", "../../../etc/hosts", "/etc/hosts", "."])),
    })
STEP = st.fixed_dictionaries(
    {"name": either(NAMES), "subsets": either(st.lists(st.sampled_from(["step1", "step9"]), min_size=1, max_size=2))},
    optional={
        "requires": either(st.lists(st.sampled_from(["s1", "s2", "s3", "zz"]), max_size=3)),
        "gate": either(st.sampled_from(["auto", "manual"])),
        "approved_by": either(st.just("someone")),
        "data_query": either(st.text(alphabet="()'\" ANDORNOTtract=1,", max_size=24)),
        "split": either(SPLIT),
        "resources": either(st.fixed_dictionaries({}, optional={
            "requestMemory": either(st.integers(0, 9000)),
            "tasks": either(st.dictionaries(st.sampled_from(["isr", "x.y"]),
                                            st.fixed_dictionaries({"requestMemory": either(st.integers())}))),
        })),
    })
CAMPAIGN = st.fixed_dictionaries(
    {
        "name": either(st.sampled_from(["cmp", "other"])),
        "description": either(st.just("d")),
        "operator": either(st.just("lsstsvc1")),
        "profile": either(st.sampled_from(["test-site", "nope"])),
        "stack": either(st.fixed_dictionaries({"tag": either(st.sampled_from(["w_2026_47", "w_26"]))})),
        "butler": either(st.fixed_dictionaries({
            "repo": either(st.just("/repo/main")), "inputs": either(st.just(["HSC/defaults"])),
            "output": either(st.text(alphabet="ab/{}campigntckoperatorsk", max_size=20))})),
        "pipeline": either(st.sampled_from(["campaigns/cmp/pipeline.yaml", "${NOPE}/p.yaml", "p.yaml#step1",
                                            "campaigns/cmp/ids.txt", "s3://bucket/p.yaml", "campaigns"])),
        "steps": either(st.lists(STEP, min_size=1, max_size=4)),
    },
    optional={
        "data_query": either(st.text(alphabet="()'\" ANDORinstrument=HSC", max_size=24)),
        "schedule": either(st.fixed_dictionaries({
            "cron": either(st.text(alphabet="0123456789*/,- jnmofrisu@", max_size=16)),
            "name_pattern": either(st.text(alphabet="ab-{}stackdte", max_size=12))})),
        "retention": either(st.fixed_dictionaries({}, optional={"keep_days": either(st.integers())})),
    })


@SETTINGS
@given(CAMPAIGN, st.text(alphabet="0123456789 #x\n", max_size=30))
def test_campaign_shaped_data_gives_exit_0_or_1(data: dict[str, Any], ids: str) -> None:
    content = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    assert validate_in_repo(content, {"ids.txt": ids, "pipeline.yaml": PIPELINE}) in (0, 1)
