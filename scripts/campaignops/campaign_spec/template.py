"""A recurring campaign's instance from its template (campaigns/templates/): name, stack tag, no schedule."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from ..domain.errors import SpecError
from ..domain.stacks import weekly_tag
from .schema import schema

NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,79}$")
# The first line `instantiate` writes: which template an instance came from (retention's keep_last).
MADE_FROM = re.compile(r"^# Made by `campaign new --from (?P<template>[A-Za-z0-9._-]+) ")


def template_of(campaign_text: str) -> str | None:
    """The template a campaign.yaml was made from by `campaign new`, None for any other campaign."""
    match = MADE_FROM.match(campaign_text)
    return match["template"] if match else None


__all__ = ["MADE_FROM", "TemplateError", "instance_name", "instantiate", "profile_of", "template_of", "weekly_tag"]


class TemplateError(SpecError):
    """The template cannot make a campaign; the message says why."""


def instance_name(pattern: str, stack: str, day: dt.date) -> str:
    """The instance name from the template's schedule.name_pattern ({stack}, {date} = YYYYMMDD)."""
    try:
        name = pattern.format_map({"stack": stack, "date": day.strftime("%Y%m%d")})
    except (KeyError, IndexError, ValueError) as exc:
        raise TemplateError(f"schedule.name_pattern {pattern!r}: only {{stack}} and {{date}} may be used "
                            f"({exc})") from exc
    if not NAME_RE.match(name):
        raise TemplateError(f"schedule.name_pattern {pattern!r} gives {name!r}, not a valid campaign name "
                            "(lower-case letters, digits, '.', '_', '-'; 3-80 characters)")
    return name


def profile_of(template_text: str) -> str | None:
    """The profile a template names (its instances run there), None when it names none."""
    try:
        data = YAML(typ="safe").load(template_text)
    except YAMLError:
        return None
    profile = data.get("profile") if isinstance(data, dict) else None
    return profile if isinstance(profile, str) else None


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def instantiate(template_text: str, template_name: str, stack: str, day: dt.date) -> tuple[str, str]:
    """(name, campaign.yaml text) of the template's instance for `stack`: name from the pattern,
    stack.tag replaced, schedule removed (an instance does not recur); comments and layout kept."""
    y = _yaml()
    data: Any = y.load(template_text)
    if not isinstance(data, CommentedMap):  # what the round-trip loader makes of any top-level mapping
        raise TemplateError("the template is not a YAML mapping")
    pattern = (data.get("schedule") or {}).get("name_pattern")
    if not pattern:
        raise TemplateError("the template has no schedule.name_pattern to name its instances")
    name = instance_name(str(pattern), stack, day)
    data["name"] = name
    if not isinstance(data.get("stack"), dict):
        raise TemplateError("the template has no stack: mapping")
    data["stack"]["tag"] = stack
    del data["schedule"]
    data.ca.comment = None  # the template's header describes the template, not this instance
    buf = io.StringIO()
    buf.write(f"# Made by `campaign new --from {template_name} --stack {stack}` on {day.isoformat()};\n"
              f"# edit the template campaigns/templates/{template_name}.yaml for future weeks.\n")
    y.dump(data, buf)
    text = buf.getvalue().rstrip("\n") + "\n"  # removing the last key can take the newline with it
    errors = sorted(Draft202012Validator(schema("campaign")).iter_errors(YAML(typ="safe").load(text)), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
        raise TemplateError(f"the instance would not be a valid campaign: {where}: {errors[0].message}")
    return name, text
