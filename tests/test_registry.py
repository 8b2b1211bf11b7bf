"""The registries of the composition root: every WMS kind a profile may name has an adapter, and the
profile schema accepts exactly those words."""

from __future__ import annotations

from pathlib import Path

from campaignops.adapters.bps.launcher import BpsWms
from campaignops.adapters.panda.wms import PandaWms
from campaignops.adapters.slurm.wms import SlurmWms
from campaignops.campaign_spec.parse import profile_from_dict
from campaignops.campaign_spec.schema import schema
from campaignops.domain.model import Profile
from campaignops.domain.wms import WmsKind
from campaignops.registry import WMS_KINDS, make_wms


def profile(wms: str, **extra: object) -> Profile:
    return profile_from_dict({"name": f"p-{wms}", "description": "d", "site": "s", "wms": wms,
                              "bps": {"wmsServiceClass": "some.Service"}, **extra})


def test_every_wms_kind_has_an_adapter_and_the_schema_names_exactly_them() -> None:
    assert set(WMS_KINDS) == set(WmsKind)
    assert schema("profile")["properties"]["wms"]["enum"] == [k.value for k in WmsKind]


def test_each_profile_gets_the_adapter_of_its_kind(tmp_path: Path) -> None:
    assert type(make_wms(profile("parsl"), tmp_path, env={})) is BpsWms
    assert type(make_wms(profile("htcondor"), tmp_path, env={})) is BpsWms
    panda = make_wms(profile("panda", monitor={"url": "https://bigmon.example.org/"}), tmp_path, env={})
    assert isinstance(panda, PandaWms)
    assert "PanDA monitor https://bigmon.example.org/" in panda.describe()
    assert make_wms(profile("parsl"), tmp_path, env={}).describe() == ""
    slurm = make_wms(profile("slurm"), tmp_path, env={})
    assert isinstance(slurm, SlurmWms) and slurm.describe() == "Slurm: 0 scheduler call(s) by this command"
