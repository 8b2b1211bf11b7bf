"""The schemas document themselves: every property, at any depth and in $defs, has a description."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
SCHEMAS = [SCHEMA_DIR / "campaign.schema.json", SCHEMA_DIR / "profile.schema.json",
           SCHEMA_DIR / "ledger.schema.json"]


def properties(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every (location, subschema) that describes a property, however deep it sits."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}.properties.{name}", sub
        for key, sub in node.items():
            if key != "properties":
                yield from properties(sub, f"{where}.{key}")
            else:
                for name, inner in sub.items():
                    yield from properties(inner, f"{where}.properties.{name}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from properties(sub, f"{where}[{i}]")


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_property_has_a_description(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    found = list(properties(schema, "$"))
    assert found, "the walk found no properties at all"
    missing = [where for where, sub in found
               if not (isinstance(sub, dict) and str(sub.get("description", "")).strip())]
    assert missing == []


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_definition_has_a_description(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert [name for name, sub in schema.get("$defs", {}).items() if not sub.get("description")] == []


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_the_walk_sees_nested_and_def_properties() -> None:
    schema = json.loads((SCHEMA_DIR / "campaign.schema.json").read_text(encoding="utf-8"))
    where = {w for w, _ in properties(schema, "$")}
    assert "$.$defs.split.oneOf[2].properties.source" in where
    assert "$.$defs.resources.properties.tasks.additionalProperties.properties.requestMemory" in where
