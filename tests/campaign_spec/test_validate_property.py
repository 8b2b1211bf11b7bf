"""Whatever is in a spec file, `campaign validate` answers 0 or 1: it never raises past the CLI."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaignops.cli import main as cli

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
TEXT_KEYED_DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@SETTINGS
@given(ANY_DATA)
def test_any_yaml_data_gives_exit_0_or_1(data: Any) -> None:
    assert validate_in_repo(yaml.safe_dump(data, allow_unicode=True).encode()) in (0, 1)


def campaigns(garbage: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Campaign-shaped data: plausible values (with the usual mistakes), or with garbage mixed in."""

    def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(good, TEXT_KEYED_DATA) if garbage else good

    step_names = st.sampled_from(["s1", "s2", "s3"])
    a_range = st.fixed_dictionaries({"min": either(st.integers(0, 30)), "max": either(st.integers(0, 30))},
                                  optional={"name": st.sampled_from(["a", "b", "bad name"])})
    split = st.fixed_dictionaries(
        {"by": either(st.sampled_from(["none", "values", "count", "query", "value"]))},
        optional={
            "dimension": either(st.sampled_from(["visit", "tract", "tracts"])),
            "values": either(st.lists(st.one_of(st.integers(0, 9), st.text("ab '", max_size=3),
                                                st.lists(st.integers(0, 9), max_size=3)), max_size=5)),
            "ranges": either(st.lists(a_range, max_size=4)),
            "max_size": either(st.integers(-1, 5)),
            "source": either(st.sampled_from(["ids.txt", "missing.txt", "../../../etc/hosts", "/etc/hosts",
                                              "."])),
        })
    step = st.fixed_dictionaries(
        {"name": either(step_names),
         "subsets": either(st.lists(st.sampled_from(["step1", "step9"]), min_size=1, max_size=2))},
        optional={
            "requires": either(st.lists(st.sampled_from(["s1", "s2", "s3", "zz"]), max_size=3)),
            "gate": either(st.sampled_from(["auto", "manual"])),
            "approved_by": either(st.just("someone")),
            "data_query": either(st.text(alphabet="()'\" ANDORNOTtract=1,", max_size=24)),
            "split": either(split),
            "resources": either(st.fixed_dictionaries({}, optional={
                "requestMemory": either(st.integers(0, 9000)),
                "tasks": either(st.dictionaries(
                    st.sampled_from(["isr", "x.y"]),
                    st.fixed_dictionaries({"requestMemory": either(st.integers())}))),
            })),
        })
    campaign = st.fixed_dictionaries(
        {
            "name": either(st.sampled_from(["cmp", "other"])),
            "description": either(st.just("d")),
            "operator": either(st.just("lsstsvc1")),
            "profile": either(st.sampled_from(["test-site", "nope"])),
            "stack": either(st.fixed_dictionaries({"tag": either(st.sampled_from(["w_2026_47", "w_26"]))})),
            "butler": either(st.fixed_dictionaries({
                "repo": either(st.just("/repo/main")), "inputs": either(st.just(["HSC/defaults"])),
                "output": either(st.sampled_from(
                    ["u/{operator}/{campaign}", "u/{oper}/x", "u/{stack", "u/{}"]))})),
            "pipeline": either(st.sampled_from(["campaigns/cmp/pipeline.yaml", "${NOPE}/p.yaml",
                                                "p.yaml#step1",
                                                "campaigns/cmp/ids.txt", "s3://bucket/p.yaml", "campaigns"])),
            "steps": either(st.lists(step, min_size=1, max_size=4)),
        },
        optional={
            "data_query": either(st.text(alphabet="()'\" ANDORinstrument=HSC", max_size=24)),
            "schedule": either(st.fixed_dictionaries({
                "cron": either(st.one_of(st.just("0 6 * * 1"),
                                         st.text(alphabet="0123456789*/,- jnmofrisu@", max_size=16))),
                "name_pattern": either(st.sampled_from(["ci-{stack}", "ci-{date}", "ci-{stak}", "ci-{"]))})),
            "retention": either(st.fixed_dictionaries({}, optional={"keep_days": either(st.integers())})),
        })
    return campaign


@SETTINGS
@given(campaigns(garbage=False), st.text(alphabet="0123456789 #x\n", max_size=30))
def test_plausible_campaigns_give_exit_0_or_1(data: dict[str, Any], ids: str) -> None:
    content = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    assert validate_in_repo(content, {"ids.txt": ids, "pipeline.yaml": PIPELINE}) in (0, 1)


@SETTINGS
@given(campaigns(garbage=True), st.text(alphabet="0123456789 #x\n", max_size=30))
def test_campaign_shaped_data_with_garbage_gives_exit_0_or_1(data: dict[str, Any], ids: str) -> None:
    content = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    assert validate_in_repo(content, {"ids.txt": ids, "pipeline.yaml": PIPELINE}) in (0, 1)
