"""`campaign validate`: every broken spec is reported at the right line:column, valid specs pass."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from campaignops.campaign_spec import load as spec
from campaignops.campaign_spec import validate
from campaignops.cli import main as cli
from campaignops.domain import dataquery

TESTS = Path(__file__).resolve().parents[1]
BROKEN = TESTS / "broken"
VALID = TESTS / "fixtures" / "valid"
EXPECT = re.compile(rb"^# expect: (\d+):(\d+) (.+)$")


def broken_cases() -> list[Path]:
    """tests/broken/campaigns/<name>/campaign.yaml, tests/broken/{profiles,templates}/<name>.yaml."""
    return sorted([*BROKEN.glob("campaigns/*/campaign.yaml"), *BROKEN.glob("profiles/*.yaml"),
                   *BROKEN.glob("templates/*.yaml")])


def case_id(path: Path) -> str:
    rel = path.relative_to(BROKEN)
    return rel.parts[1] if rel.parts[0] == "campaigns" else f"{rel.parts[0]}/{path.stem}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the valid fixture: profile test-site and campaign example."""
    shutil.copytree(VALID, tmp_path, dirs_exist_ok=True)
    return tmp_path


def install_case(case: Path, root: Path) -> Path:
    """Put a broken spec where it belongs in `root`, so only its own mistake is reported."""
    rel = case.relative_to(BROKEN)
    if rel.parts[0] == "campaigns":
        shutil.copytree(case.parent, root / "campaigns" / case.parent.name)
        return root / "campaigns" / case.parent.name / "campaign.yaml"
    target = root / "campaigns" / rel.parts[0] / case.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(case, target)
    return target


def expectations(case: Path) -> list[tuple[int, int, str]]:
    found = []
    for line in case.read_bytes().splitlines():
        m = EXPECT.match(line)
        if not m:
            break
        found.append((int(m[1]), int(m[2]), m[3].decode()))
    return found


def test_the_broken_corpus_is_big_enough() -> None:
    assert len(broken_cases()) >= 35


@pytest.mark.parametrize("case", broken_cases(), ids=case_id)
def test_broken_spec_is_reported_at_its_line_and_column(case: Path, repo: Path) -> None:
    wanted = expectations(case)
    assert wanted, f"{case} has no '# expect: LINE:COL message' header"
    problems, _ = validate.check_file(install_case(case, repo), repo)
    got = [(p.line, p.column, p.message) for p in problems]
    # Exactly the intended problems: no name/folder/profile noise drowning them.
    assert len(got) == len(wanted), got
    for line, col, text in wanted:
        assert any((pl, pc) == (line, col) and text in msg for pl, pc, msg in got), (line, col, text, got)
    assert all(p.fix for p in problems), "every problem says what to do"


def test_the_valid_fixture_passes_and_loads_as_a_campaign(repo: Path) -> None:
    assert validate.check_paths(validate.default_paths(repo), repo) == []
    campaign = spec.load_campaign(repo / "campaigns" / "example" / "campaign.yaml", repo)
    assert campaign.name == "example"
    assert [s.name for s in campaign.steps] == ["step1", "step2a", "step3", "step4"]
    assert campaign.step("step4").requires == ("step3", "step1")


def test_check_file_returns_the_plain_data(repo: Path) -> None:
    problems, data = validate.check_file(repo / "campaigns" / "example" / "campaign.yaml", repo)
    assert problems == [] and data is not None
    assert type(data) is dict and type(data["steps"]) is list
    assert data["steps"][2]["split"]["values"] == [9615, [9697, 9813]]


def test_load_campaign_raises_with_located_problems(repo: Path) -> None:
    path = install_case(BROKEN / "campaigns" / "gate-misspelt" / "campaign.yaml", repo)
    with pytest.raises(spec.SpecError) as err:
        spec.load_campaign(path, repo)
    assert [str(p) for p in err.value.problems] == [(
        "campaigns/gate-misspelt/campaign.yaml:16:5: steps[0].gate: 'manaul' is not one of: auto, manual; "
        "did you mean 'manual'? (fix: use one of: auto, manual)")]


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def example(repo: Path) -> Path:
    return repo / "campaigns" / "example" / "campaign.yaml"


def messages(path: Path, root: Path) -> list[str]:
    return [p.message for p in validate.check_file(path, root)[0]]


def test_a_step_may_require_a_later_step_when_there_is_no_cycle(repo: Path) -> None:
    edit(example(repo), "requires: [step3, step1]", "requires: [step1]")
    edit(example(repo), "  - name: step2a\n", "  - name: step2a\n    requires: [step4]\n")
    assert messages(example(repo), repo) == []


def test_a_cycle_through_the_default_previous_step_is_explained(repo: Path) -> None:
    # step3 has no requires: so it requires step2a, the step before it.
    edit(example(repo), "  - name: step2a\n", "  - name: step2a\n    requires: [step4]\n")
    assert messages(example(repo), repo) == [(
        "steps require each other in a cycle: step2a → step4 → step3 → step2a "
        "(step3 requires step2a because it follows it and has no requires:)")]


def test_adjacent_ranges_do_not_overlap(repo: Path) -> None:
    assert "{min: 1, max: 999}" in example(repo).read_text()  # followed by 1000-1999
    assert messages(example(repo), repo) == []


def test_a_count_split_names_the_branch_error_not_every_oneof_branch(repo: Path) -> None:
    edit(example(repo), "{by: count, dimension: visit, max_size: 2, source: visits.txt}",
         "{by: count, dimension: visit, values: [1, 2], source: visits.txt}")
    assert sorted(messages(example(repo), repo)) == [
        "missing required key 'max_size'", "unknown key 'values'"]


def test_an_unreachable_pipeline_is_not_an_error(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRP_PIPE_DIR", raising=False)
    assert messages(example(repo), repo) == []


def test_subsets_are_checked_against_the_pipeline_found_through_an_env_var(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipelines = repo / "drp_pipe" / "pipelines" / "HSC"
    pipelines.mkdir(parents=True)
    (pipelines / "DRP-RC2.yaml").write_text(
        "imports:\n  - location: $DRP_PIPE_DIR/pipelines/base.yaml\n"
        "subsets:\n  step1: [isr]\n  step2a: [isr]\n  step3: [isr]\n")
    (pipelines.parent / "base.yaml").write_text(
        "tasks:\n  isr: lsst.ip.isr.IsrTask\nsubsets:\n  step4: [isr]\n")
    monkeypatch.setenv("DRP_PIPE_DIR", str(repo / "drp_pipe"))
    assert messages(example(repo), repo) == []  # step4 comes from the imported pipeline
    edit(example(repo), "subsets: [step3]", "subsets: [step3a]")
    assert messages(example(repo), repo) == [(
        "subset 'step3a' is not in the pipeline ${DRP_PIPE_DIR}/pipelines/HSC/DRP-RC2.yaml; "
        "did you mean 'step3'?")]


def test_a_pipeline_that_is_a_device_is_reported_not_read_forever(repo: Path) -> None:
    edit(example(repo), "${DRP_PIPE_DIR}/pipelines/HSC/DRP-RC2.yaml", "/dev/zero")
    assert messages(example(repo), repo) == ["the pipeline /dev/zero is not a file"]


def test_a_broken_pipeline_file_is_reported_at_pipeline(repo: Path) -> None:
    (repo / "pipeline.yaml").write_text("tasks: [unclosed\n")
    edit(example(repo), "${DRP_PIPE_DIR}/pipelines/HSC/DRP-RC2.yaml", "pipeline.yaml")
    problems, _ = validate.check_file(example(repo), repo)
    assert [(p.path, p.message.split(":")[0]) for p in problems] == [
        ("pipeline", "the pipeline file pipeline.yaml cannot be read")]


def test_values_that_produce_the_same_group_name_are_reported(repo: Path) -> None:
    edit(example(repo), "values: [9615, [9697, 9813]]", "values: [9615, '9615']")
    assert messages(example(repo), repo) == [
        "tract 9615 is already in values[0]: it would be processed twice"]


def test_approved_by_with_a_manual_gate_is_fine(repo: Path) -> None:
    assert "gate: manual\n    approved_by: someone" in example(repo).read_text()
    assert messages(example(repo), repo) == []


def test_a_campaign_outside_campaigns_is_checked_without_folder_rules(repo: Path) -> None:
    draft = repo / "draft.yaml"
    shutil.copy(example(repo), draft)
    assert messages(draft, repo) == ["split source 'visits.txt' not found (looked for visits.txt)"]


# --- cron ------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression", [
    "0 6 * * 1", "*/15 * * * *", "0 0 1 jan,jul *", "30 2 * * mon-fri", "0 0-23/2 * * *",
    "5 4 * * sun", "0 6 1-7 * 1", "0 6 * * 7", "59 23 31 12 6", "0 6 * * MON",
])
def test_valid_cron_expressions_pass(expression: str) -> None:
    assert validate.check_cron(expression) is None


@pytest.mark.parametrize("expression, says", [
    ("0 6 * *", "it has 4 fields"),
    ("60 6 * * 1", "minute field '60': 60 is outside 0-59"),
    ("0 24 * * 1", "hour field '24'"),
    ("0 6 0 * 1", "day-of-month field '0': 0 is outside 1-31"),
    ("0 6 * 13 1", "month field '13'"),
    ("0 6 * * 8", "day-of-week field '8'"),
    ("0 6 * * fri-mon", "the range fri-mon runs backwards"),
    ("*/0 * * * *", "the step '/0' must be a whole number of at least 1"),
    ("0 6 1,,2 * *", "a list has an empty entry"),
    ("0 6 * * monday", "'monday' is not a number or a name"),
    ("@daily", "macros such as @daily"),
    ("0 6 * * 1-", "a range is missing a number"),
])
def test_invalid_cron_expressions_name_the_wrong_field(expression: str, says: str) -> None:
    error = validate.check_cron(expression)
    assert error is not None and says in error


# --- data queries ----------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "", "  ", "instrument='HSC'", "instrument='HSC' AND (tract = 9615 OR tract = 9697)",
    "visit IN (1, 2, 3) AND NOT detector = 9", "physical_filter = 'O''Brien'", 'band = "g"',
])
def test_sound_data_queries_pass(query: str) -> None:
    assert dataquery.check(query) is None


@pytest.mark.parametrize("query, says", [
    ("instrument='HSC", "quote ' at character 12 is never closed"),
    ("(tract = 1", "'(' at character 1 is never closed"),
    ("tract = 1)", "')' at character 10 has no matching '('"),
    ("AND tract = 1", "AND at character 1 has nothing on its left"),
    ("tract = 1 AND", "AND at character 11 has nothing on its right"),
    ("tract = 1 AND AND visit = 2", "has nothing on its right"),
    ("tract = 1 or", "OR at character 11 has nothing on its right"),
    ("tract IN ()", "empty parentheses at character 10"),
    ("tract = 1 AND NOT", "NOT at character 15 has nothing after it"),
    ("(tract = 1 AND) OR visit = 2", "has nothing on its right"),
])
def test_malformed_data_queries_say_what_is_wrong(query: str, says: str) -> None:
    error = dataquery.check(query)
    assert error is not None and says in error


def test_combine_ands_non_empty_parts_each_in_parentheses() -> None:
    assert dataquery.combine("instrument='HSC'", "", "  ", "tract = 1 OR tract = 2") == \
        "(instrument='HSC') AND (tract = 1 OR tract = 2)"
    assert dataquery.combine("", "") == ""


# --- the command -----------------------------------------------------------------------------

def run_cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    code = cli.main(["--root", str(root), "validate", *args])
    return code, capsys.readouterr().out


def test_validate_without_paths_checks_every_campaign_profile_and_template(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, repo)
    assert (code, out) == (0, "OK: 2 files checked\n")


def test_validate_exits_1_and_ends_with_a_summary(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    install_case(BROKEN / "campaigns" / "typo-descripton" / "campaign.yaml", repo)
    install_case(BROKEN / "profiles" / "wms-pandas.yaml", repo)
    code, out = run_cli(capsys, repo)
    lines = out.splitlines()
    assert code == 1
    assert lines[-1] == "4 files checked, 3 problems in 2 files"
    assert lines[0].startswith("campaigns/typo-descripton/campaign.yaml:3:1: missing required key")
    assert lines[2].startswith("campaigns/profiles/wms-pandas.yaml:5:1: wms: 'pandas' is not one of")


def test_a_directory_argument_is_searched_for_campaign_files(repo: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    install_case(BROKEN / "campaigns" / "gate-misspelt" / "campaign.yaml", repo)
    code, out = run_cli(capsys, repo, str(repo / "campaigns"))
    assert code == 1
    assert out.splitlines()[-1] == "3 files checked, 1 problem in 1 file"
    code, out = run_cli(capsys, repo, str(repo / "campaigns" / "example"))
    assert (code, out) == (0, "OK: 1 file checked\n")


def test_directory_search_skips_hidden_folders_and_node_modules(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for hidden in (".venv/lib/x", "node_modules/pkg"):
        (repo / hidden).mkdir(parents=True)
        (repo / hidden / "campaign.yaml").write_text("not: a campaign\n")
    code, out = run_cli(capsys, repo, str(repo))
    assert (code, out) == (0, "OK: 2 files checked\n")


def test_an_empty_directory_argument_is_a_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "nothing").mkdir()
    code, out = run_cli(capsys, repo, str(repo / "nothing"))
    assert code == 1 and "no campaign.yaml" in out


def test_a_missing_path_is_reported_not_raised(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, repo, str(repo / "campaigns" / "nope" / "campaign.yaml"))
    assert code == 1
    assert out.startswith("campaigns/nope/campaign.yaml:1:1: no such file")


def test_github_format_writes_error_annotations(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = install_case(BROKEN / "campaigns" / "cron-hour-25" / "campaign.yaml", repo)
    code, out = run_cli(capsys, repo, "--format", "github", str(path))
    first = out.splitlines()[0]
    assert code == 1
    assert first.startswith("::error file=campaigns/cron-hour-25/campaign.yaml,line=14,col=3,")
    assert "::schedule.cron: bad cron '0 25 * * 1': hour field" in first


def test_github_annotations_escape_newlines_and_commas_in_file_names() -> None:
    problem = validate.Problem("a,b:c.yaml", 1, 2, "x", "two\nlines 100%", "fix")
    out = validate.FORMATTERS["github"]([problem], 1)
    assert out.splitlines()[0] == ("::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=campaign validate::"
                                   "x: two%0Alines 100%25 (fix: fix)")


def test_json_format_is_machine_readable(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = install_case(BROKEN / "campaigns" / "ranges-overlap" / "campaign.yaml", repo)
    code, out = run_cli(capsys, repo, "--format", "json", str(path))
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["files_checked"] == 1
    assert doc["problems"][0] | {"message": "", "fix": ""} == {
        "file": "campaigns/ranges-overlap/campaign.yaml", "line": 21, "column": 11,
        "path": "steps[0].split.ranges[1]", "message": "", "fix": ""}


def test_a_root_without_campaigns_is_an_error_not_an_empty_success(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--root", str(tmp_path), "validate"]) == 1
    assert "no campaigns/ directory" in capsys.readouterr().err


def test_problem_text_form() -> None:
    p = validate.Problem("campaigns/x/campaign.yaml", 3, 5, "steps[2].split.ranges[0].max", "bad", "do this")
    assert str(p) == "campaigns/x/campaign.yaml:3:5: steps[2].split.ranges[0].max: bad (fix: do this)"
    assert str(validate.Problem("f.yaml", 1, 1, "", "empty")) == "f.yaml:1:1: empty"


def test_reference_errors_come_in_the_same_round_as_schema_errors(repo: Path) -> None:
    path = repo / "campaigns" / "example" / "campaign.yaml"
    edit(path, "profile: test-site", "profile: test-sight")
    edit(path, "    gate: manual", "    gate: manaul")
    edit(path, "requires: [step3, step1]", "requires: [step3, stepp1]")
    problems, _ = validate.check_file(path, repo)
    messages = [p.message for p in problems]
    assert any("'manaul' is not one of" in m for m in messages), messages
    assert any("unknown profile 'test-sight'" in m and "did you mean 'test-site'" in m for m in messages), messages
    assert any("requires unknown step 'stepp1'" in m for m in messages), messages


def test_a_reference_check_is_skipped_only_where_the_schema_error_makes_it_meaningless(repo: Path) -> None:
    path = repo / "campaigns" / "example" / "campaign.yaml"
    edit(path, "profile: test-site", "profile: [test-site]")
    edit(path, "requires: [step3, step1]", "requires: step3")
    problems, _ = validate.check_file(path, repo)
    assert sorted(p.path for p in problems) == ["profile", "steps[3].requires"], problems
    assert not any("unknown" in p.message for p in problems), problems


def test_campaign_validate_reads_and_schema_checks_each_file_once(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from collections import Counter

    from campaignops.campaign_spec import schema, source
    from campaignops.cli.main import main

    for i in range(3):  # three campaigns naming the same profile
        copy = repo / "campaigns" / f"copy{i}"
        shutil.copytree(repo / "campaigns" / "example", copy)
        edit(copy / "campaign.yaml", "name: example", f"name: copy{i}")
    reads: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    real_read, real_check = source.read, schema.check_schema
    monkeypatch.setattr(source, "read", lambda path, root: reads.update([str(path.resolve())]) or real_read(path, root))
    monkeypatch.setattr(validate, "check_schema",
                        lambda doc, name: checks.update([doc.file]) or real_check(doc, name))
    validate._PROFILES.clear()
    assert main(["--root", str(repo), "validate"]) == 0, capsys.readouterr()
    assert reads and max(reads.values()) == 1, reads
    assert checks and max(checks.values()) == 1, checks
    assert checks["campaigns/profiles/test-site.yaml"] == 1
