"""Reading spec files: bad input becomes a located problem, good input keeps line:column of every node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from campaignops.campaign_spec import source
from campaignops.campaign_spec.source import MAX_BYTES, parse_fast, parse_located, read


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def only_problem(path: Path, root: Path) -> source.Problem:
    doc, problems = read(path, root)
    assert doc is None
    assert len(problems) == 1, problems
    return problems[0]


def test_a_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    p = only_problem(tmp_path / "campaigns" / "nope" / "campaign.yaml", tmp_path)
    assert p.file == "campaigns/nope/campaign.yaml"
    assert "no such file" in p.message


def test_a_directory_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    assert "directory" in only_problem(tmp_path / "campaigns", tmp_path).message


def test_a_file_outside_the_repository_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = write(tmp_path / "elsewhere.yaml", "name: x\n")
    p = only_problem(outside, root)
    assert "outside the repository root" in p.message
    assert "--root" in p.fix


def test_a_symlink_leading_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "campaigns").mkdir(parents=True)
    target = write(tmp_path / "secret.yaml", "name: x\n")
    link = root / "campaigns" / "link.yaml"
    os.symlink(target, link)
    assert "outside the repository root" in only_problem(link, root).message


def test_a_file_over_one_mebibyte_is_refused_without_parsing(tmp_path: Path) -> None:
    big = write(tmp_path / "big.yaml", "name: x\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    p = only_problem(big, tmp_path)
    assert "at most 1048576 bytes" in p.message
    assert "split source" in p.fix


def test_nul_bytes_are_reported_as_binary_at_their_position(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "b.yaml", b"name: x\nab\x00cd\n"), tmp_path)
    assert (p.line, p.column) == (2, 3)
    assert "binary" in p.message


def test_non_utf8_bytes_are_reported_at_their_position(tmp_path: Path) -> None:
    latin1 = "name: x\ndescription: \u00e9t\u00e9\n".encode("latin-1")
    p = only_problem(write(tmp_path / "l.yaml", latin1), tmp_path)
    assert (p.line, p.column) == (2, 14)
    assert "UTF-8" in p.message and "UTF-8" in p.fix


def test_utf16_files_are_named_as_such(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "u.yaml", "name: x\n".encode("utf-16")), tmp_path)
    assert "UTF-16" in p.message


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    doc, problems = read(write(tmp_path / "bom.yaml", b"\xef\xbb\xbfname: x\n"), tmp_path)
    assert problems == [] and doc is not None
    assert doc.data == {"name": "x"}


def test_control_characters_are_located(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "c.yaml", "name: x\nfoo: a\x07b\n"), tmp_path)
    assert (p.line, p.column) == (2, 7)
    assert "U+0007" in p.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_an_empty_file_is_a_problem(tmp_path: Path, text: str) -> None:
    assert "empty" in only_problem(write(tmp_path / "e.yaml", text), tmp_path).message


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "a list"), ("just text\n", "a single value"),
                                        ("42\n", "a single value")])
def test_a_root_that_is_not_a_mapping_is_a_problem(tmp_path: Path, text: str, kind: str) -> None:
    p = only_problem(write(tmp_path / "r.yaml", text), tmp_path)
    assert f"the top level is {kind}" in p.message


def test_duplicate_keys_report_both_lines(tmp_path: Path) -> None:
    text = "name: x\nsteps:\n  - name: a\n    subsets: [a]\n    gate: manual\n    subsets: [b]\n"
    p = only_problem(write(tmp_path / "d.yaml", text), tmp_path)
    assert (p.line, p.column) == (6, 5)
    assert p.path == "steps[0].subsets"
    assert "first on line 4, again on line 6" in p.message


def test_every_duplicate_key_is_reported(tmp_path: Path) -> None:
    doc, problems = read(write(tmp_path / "d.yaml", "a: 1\nb: 2\na: 3\nb: 4\n"), tmp_path)
    assert doc is None
    assert [(p.line, p.path) for p in problems] == [(3, "a"), (4, "b")]


def test_a_syntax_error_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "s.yaml", "name: x\nsteps: [a, b\ndescription: y\n"), tmp_path)
    assert p.line in (2, 3)
    assert p.message.startswith("YAML syntax error")


def test_tabs_get_a_fix_that_says_spaces(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "t.yaml", "name: x\nsteps:\n\t- a\n"), tmp_path)
    assert (p.line, p.column) == (3, 1)
    assert "spaces" in p.fix


def test_more_than_one_document_is_a_problem(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "m.yaml", "name: x\n---\nname: y\n"), tmp_path)
    assert "single document" in p.message


def test_keys_and_items_carry_their_line_and_column(tmp_path: Path) -> None:
    text = "# c\nname: x\nsteps:\n  - name: a\n    split:\n      ranges:\n        - {min: 1, max: 2}\n"
    doc, problems = read(write(tmp_path / "ok.yaml", text), tmp_path)
    assert doc is not None and problems == []
    assert doc.locate(("name",)) == (2, 1)
    assert doc.locate(("steps", 0)) == (4, 5)
    assert doc.locate(("steps", 0, "split", "ranges", 0, "max")) == (7, 20)
    # A path the file lacks is placed at its nearest ancestor: where the author would add it.
    assert doc.locate(("steps", 0, "split", "by")) == (5, 5)
    assert doc.locate(()) == (2, 1)


CAMPAIGN_LIKE = """\
# a comment
name: hsc-rc2
description: "quoted: text"
notes: |
  block
  text
gate: yes
flag: true
nothing: ~
empty:
count: 12
negative: -3
fraction: 0.25
ids: [9615, 9697, [1, 2]]
steps:
  - name: step1
    subsets: [step1]
    split: {by: values, dimension: visit, ranges: [{min: 0, max: 9}]}
"""


def test_fast_and_reference_readers_agree_on_data_and_positions() -> None:
    fast = parse_fast(CAMPAIGN_LIKE, "f.yaml")
    ref, problems = parse_located(CAMPAIGN_LIKE, "f.yaml")
    assert fast is not None and ref is not None and problems == []
    assert fast.data == ref.data
    assert dict(fast.locations) == dict(ref.locations)
    assert type(fast.data["count"]) is int and type(ref.data["fraction"]) is float


@pytest.mark.parametrize("text", [
    "a: 010\n", "a: 0x1F\n", "a: 1_000\n", "a: 1e3\n", "a: .inf\n", "a: 2026-01-01\n", "a: !!str 12\n",
    "a: &x [1]\nb: *x\n", "base: &b {x: 1}\nc:\n  <<: *b\n", "%YAML 1.1\n---\na: yes\n", "1: a\n", "a: =\n",
])
def test_the_fast_reader_leaves_ambiguous_yaml_to_the_reference_reader(text: str) -> None:
    fast = parse_fast(text, "f.yaml")
    ref, _ = parse_located(text, "f.yaml")
    # Either the fast path declines, or it reads exactly what ruamel (YAML 1.2) reads.
    assert fast is None or (ref is not None and fast.data == ref.data)


def test_yaml_1_1_booleans_stay_text() -> None:
    doc, _ = source.parse("gate: yes\nsite: on\nanswer: no\n", "f.yaml")
    assert doc is not None and doc.data == {"gate": "yes", "site": "on", "answer": "no"}


def test_dates_are_read_back_as_the_text_written() -> None:
    doc, problems = source.parse("description: 2026-01-01\n", "f.yaml")
    assert problems == [] and doc is not None and doc.data == {"description": "2026-01-01"}


def test_keys_that_are_not_text_are_reported() -> None:
    doc, problems = source.parse("resources:\n  tasks:\n    12: {requestMemory: 1}\n", "f.yaml")
    assert doc is not None
    assert [(p.line, p.path) for p in problems] == [(3, "resources.tasks[\"12\"]")]
    assert "not text" in problems[0].message and "quote" in problems[0].fix


def test_custom_tags_are_reported() -> None:
    _, problems = source.parse("name: !secret x\n", "f.yaml")
    assert len(problems) == 1 and "!secret" in problems[0].message


def test_an_alias_bomb_is_stopped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    doc, problems = source.parse("\n".join(lines) + "\n", "f.yaml")
    assert doc is None and "more than" in problems[0].message


def test_very_deep_nesting_is_a_problem() -> None:
    doc, problems = source.parse("a: " + "[" * 5000 + "]" * 5000 + "\n", "f.yaml")
    assert doc is None and "nests too deeply" in problems[0].message


def test_display_name_is_relative_to_the_root(tmp_path: Path) -> None:
    assert source.display_name(tmp_path / "campaigns" / "x" / "campaign.yaml", tmp_path) == \
        "campaigns/x/campaign.yaml"
