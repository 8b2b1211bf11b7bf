"""The domain's vocabularies are each written once: the schemas' enums come from them, and every rule
action says whether it launches and which keys it uses."""

from __future__ import annotations

import pytest

from campaignops.campaign_spec import failure_rules
from campaignops.campaign_spec.schema import schema, validator
from campaignops.domain.actions import LAUNCHING, RunAction
from campaignops.domain.wms import WmsKind


def test_the_schemas_take_their_words_from_the_domain() -> None:
    assert schema("profile")["properties"]["wms"]["enum"] == [k.value for k in WmsKind]
    rules = str(schema("rules"))
    ledger = str(schema("ledger"))
    words = [a.value for a in RunAction]
    assert str(words) in rules and str(words) in ledger


def test_an_unknown_action_or_wms_is_refused_by_the_schema() -> None:
    profile = {"name": "p", "description": "d", "site": "s", "wms": "slurmish", "bps": {"wmsServiceClass": "x"}}
    errors = list(validator("profile").iter_errors(profile))
    assert any(e.validator == "enum" for e in errors)


@pytest.mark.parametrize("action", list(RunAction))
def test_every_action_says_what_it_uses(action: RunAction) -> None:
    assert action in failure_rules._USED
    assert ("max_attempts" in failure_rules._USED[action]) == action.launches


def test_only_retry_more_memory_and_rescue_launch() -> None:
    assert LAUNCHING == ("retry", "more-memory", "rescue")
    assert RunAction("more-memory").launches and not RunAction("accept").launches
