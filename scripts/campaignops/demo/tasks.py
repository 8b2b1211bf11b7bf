"""Demo PipelineTasks shaped like DRP steps, with injectable permanent and transient failures.

Every task has these config fields (set them in a pipeline YAML, or on the command line with
``pipetask ... -c "calibrateDemo:fail_once_where=visit IN (1003) AND detector IN (2)"``, e.g. through
BPS's ``extraQgraphOptions``; pipetask's ``-c`` cannot take a second ``=``, hence the ``IN`` form there.
The values are stored in the quantum graph, so a ``bps restart`` keeps them):

``fail_where``
    Permanent failure: every quantum whose data ID matches raises ``RuntimeError``.
``fail_once_where``
    Transient failure: a matching quantum fails the first time it runs and succeeds on the next
    attempt. The first failure leaves a marker file ``<marker_dir>/<label>-<data id>.failed-once``;
    while that file exists the quantum succeeds. Delete the marker (or the directory) to reset.
``marker_dir``
    Where transient-failure markers live. Default ``demo-markers`` relative to the job's working
    directory; under bps that is the launch directory, so ``bps restart`` run from the same
    directory finds the marker and succeeds, while a fresh submission elsewhere fails once again.
    ``$CAMPAIGNOPS_DEMO_MARKER_DIR`` overrides the default.
``fail_message``
    The end of the error message, e.g. "simulated calibration blow-up".

A *where expression* is ``term [AND term]... [OR term [AND term]...]`` with terms ``dim=value``,
``dim!=value`` or ``dim IN (v1, v2)``; values are integers or quoted strings, e.g.
``visit=1002 AND detector=1 OR visit IN (1005, 1006)``. Case of AND/OR/IN does not matter.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.pipe.base.connectionTypes as cT
from lsst.daf.butler import DataCoordinate

MARKER_ENV = "CAMPAIGNOPS_DEMO_MARKER_DIR"

# ---- the tiny where-expression language of fail_where / fail_once_where ---------------------------

_TERM = re.compile(
    r"^\s*(?P<dim>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:(?P<op>!=|==|=)\s*(?P<value>'[^']*'|\"[^\"]*\"|[^\s()]+)"
    r"|(?i:in)\s*\((?P<values>[^)]*)\))\s*$")


def _literal(text: str) -> int | str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class _Term:
    dimension: str
    values: tuple[int | str, ...]
    negate: bool = False

    def matches(self, data_id: Mapping[str, Any]) -> bool:
        if self.dimension not in data_id:
            return False
        actual = data_id[self.dimension]
        hit = any(actual == v or str(actual) == str(v) for v in self.values)
        return hit != self.negate


@dataclass(frozen=True)
class WhereExpression:
    """A parsed fail_where expression: OR of ANDs of dimension terms."""

    text: str
    clauses: tuple[tuple[_Term, ...], ...]

    @classmethod
    def parse(cls, text: str) -> WhereExpression:
        clauses = []
        for clause in re.split(r"\s+(?i:or)\s+", text.strip()):
            terms = []
            for raw in re.split(r"\s+(?i:and)\s+", clause.strip()):
                m = _TERM.match(raw)
                if not m:
                    raise ValueError(
                        f"cannot read {raw!r} in where expression {text!r}: expected dim=value, "
                        "dim!=value or dim IN (v1, v2), joined by AND / OR")
                if m["values"] is not None:
                    values = tuple(_literal(v) for v in m["values"].split(",") if v.strip())
                    terms.append(_Term(m["dim"], values))
                else:
                    terms.append(_Term(m["dim"], (_literal(m["value"]),), negate=m["op"] == "!="))
            clauses.append(tuple(terms))
        return cls(text, tuple(clauses))

    def matches(self, data_id: Mapping[str, Any]) -> bool:
        return any(all(t.matches(data_id) for t in clause) for clause in self.clauses)


def _check_expression(text: str) -> bool:
    if text.strip():
        WhereExpression.parse(text)
    return True


def data_id_dict(data_id: DataCoordinate) -> dict[str, Any]:
    """Required and (when known) implied values of a data ID, e.g. band from physical_filter."""
    values: dict[str, Any] = dict(data_id.required)
    if data_id.hasFull():
        values.update(data_id.mapping)
    return values


def data_id_text(data_id: Mapping[str, Any]) -> str:
    """`visit=1002 detector=1` — the data ID in the order dimensions are usually written."""
    order = ["instrument", "skymap", "tract", "patch", "band", "visit", "detector"]
    keys = [k for k in order if k in data_id] + sorted(k for k in data_id if k not in order)
    return " ".join(f"{k}={data_id[k]}" for k in keys if k not in ("instrument", "skymap", "physical_filter",
                                                                  "day_obs"))


# ---- shared config and failure logic -----------------------------------------------------------

class DemoTaskConfigMixin(pexConfig.Config):
    """Failure-injection fields shared by every demo task."""

    fail_where = pexConfig.Field[str](
        doc="Where expression of data IDs that always fail (permanent failure); empty for none.",
        default="", check=_check_expression)
    fail_once_where = pexConfig.Field[str](
        doc="Where expression of data IDs that fail on their first attempt only (transient failure).",
        default="", check=_check_expression)
    fail_message = pexConfig.Field[str](
        doc="Explanation appended to the injected error.", default="simulated failure")
    marker_dir = pexConfig.Field[str](
        doc=f"Directory of transient-failure markers (default ${MARKER_ENV} or ./demo-markers).", default="")
    sleep = pexConfig.Field[float](doc="Seconds each quantum sleeps (to make runs observable).", default=0.0)


class DemoTaskMixin:
    """Raise injected failures before doing the (tiny) work."""

    _DefaultName: ClassVar[str]
    config: Any
    log: Any

    def inject_failures(self, label: str, data_id: DataCoordinate | None) -> None:
        assert data_id is not None, "a pipeline task's quantum always has a data ID"
        values = data_id_dict(data_id)  # matching sees implied values too (band of a visit)
        text = data_id_text(dict(data_id.required))
        where = f"{label} {text}"
        if self.config.fail_where and WhereExpression.parse(self.config.fail_where).matches(values):
            raise RuntimeError(f"injected failure for {text}: {self.config.fail_message}")
        if self.config.fail_once_where and WhereExpression.parse(self.config.fail_once_where).matches(values):
            marker_dir = Path(self.config.marker_dir or os.environ.get(MARKER_ENV) or "demo-markers")
            slug = re.sub(r"[^A-Za-z0-9=_-]+", "_", text).replace("=", "")
            marker = marker_dir / f"{label}-{slug}.failed-once"
            if not marker.exists():
                marker_dir.mkdir(parents=True, exist_ok=True)
                marker.write_text(f"{where}: failed once; delete this file to make it fail again\n")
                raise RuntimeError(
                    f"injected transient failure for {text}: {self.config.fail_message} "
                    f"(succeeds on the next attempt; marker {marker.resolve()})")
            self.log.info("transient failure of %s already happened (marker %s): succeeding", where, marker)
        if self.config.sleep:
            time.sleep(self.config.sleep)


def _task_label(task: Any) -> str:
    return str(getattr(task, "_label", None) or task.getName())


# ---- step1: per {instrument, visit, detector} --------------------------------------------------

class CalibrateDemoConnections(pipeBase.PipelineTaskConnections,
                               dimensions=("instrument", "visit", "detector")):
    raw = cT.Input(doc="Raw per-detector input.", name="demo_raw", storageClass="StructuredDataDict",
                   dimensions=("instrument", "visit", "detector"))
    calexp = cT.Output(doc="Calibrated per-detector summary.", name="demo_calexp",
                       storageClass="StructuredDataDict", dimensions=("instrument", "visit", "detector"))


class CalibrateDemoConfig(pipeBase.PipelineTaskConfig, DemoTaskConfigMixin,
                          pipelineConnections=CalibrateDemoConnections):
    zero_point = pexConfig.Field[float](doc="Photometric zero point applied to the raw flux.", default=27.0)


class CalibrateDemoTask(DemoTaskMixin, pipeBase.PipelineTask):
    """Per-detector 'calibration' (like step1's isr/calibrate): scale the raw flux."""

    ConfigClass = CalibrateDemoConfig
    _DefaultName = "calibrateDemo"
    config: CalibrateDemoConfig

    def runQuantum(self, butlerQC: pipeBase.QuantumContext, inputRefs: pipeBase.InputQuantizedConnection,
                   outputRefs: pipeBase.OutputQuantizedConnection) -> None:
        self.inject_failures(_task_label(self), butlerQC.quantum.dataId)
        raw = butlerQC.get(inputRefs.raw)
        butlerQC.put(pipeBase.Struct(calexp=self.run(raw).calexp), outputRefs)

    def run(self, raw: dict[str, Any]) -> pipeBase.Struct:
        flux = float(raw.get("flux", 0.0))
        return pipeBase.Struct(calexp={**raw, "calibrated_flux": flux * 10 ** (-0.4 * self.config.zero_point),
                                       "zero_point": self.config.zero_point})


# ---- step2: per {instrument, visit}, gathering detectors ----------------------------------------

class ConsolidateVisitDemoConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument", "visit")):
    calexps = cT.Input(doc="All detectors of the visit.", name="demo_calexp", storageClass="StructuredDataDict",
                       dimensions=("instrument", "visit", "detector"), multiple=True)
    summary = cT.Output(doc="Per-visit summary.", name="demo_visit_summary", storageClass="StructuredDataDict",
                        dimensions=("instrument", "visit"))


class ConsolidateVisitDemoConfig(pipeBase.PipelineTaskConfig, DemoTaskConfigMixin,
                                 pipelineConnections=ConsolidateVisitDemoConnections):
    pass


class ConsolidateVisitDemoTask(DemoTaskMixin, pipeBase.PipelineTask):
    """Per-visit consolidation (like step2's consolidateVisitSummary): gather the detectors."""

    ConfigClass = ConsolidateVisitDemoConfig
    _DefaultName = "consolidateVisitDemo"

    def runQuantum(self, butlerQC: pipeBase.QuantumContext, inputRefs: pipeBase.InputQuantizedConnection,
                   outputRefs: pipeBase.OutputQuantizedConnection) -> None:
        self.inject_failures(_task_label(self), butlerQC.quantum.dataId)
        calexps = [butlerQC.get(ref) for ref in inputRefs.calexps]
        butlerQC.put(self.run(calexps), outputRefs)

    def run(self, calexps: list[dict[str, Any]]) -> pipeBase.Struct:
        fluxes = [float(c.get("calibrated_flux", 0.0)) for c in calexps]
        return pipeBase.Struct(summary={
            "n_detectors": len(calexps),
            "detectors": sorted(int(c.get("detector", -1)) for c in calexps),
            "mean_flux": sum(fluxes) / len(fluxes) if fluxes else 0.0,
        })


# ---- step2c (3×3 demo): one global quantum {instrument}, gathering every visit ------------------

class GlobalCalibDemoConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument",)):
    summaries = cT.Input(doc="Every visit's summary, from every site.", name="demo_visit_summary",
                         storageClass="StructuredDataDict", dimensions=("instrument", "visit"), multiple=True)
    calibs = cT.Output(doc="The global calibration of each visit.", name="demo_global_calib",
                       storageClass="StructuredDataDict", dimensions=("instrument", "visit"), multiple=True)


class GlobalCalibDemoConfig(pipeBase.PipelineTaskConfig, DemoTaskConfigMixin,
                            pipelineConnections=GlobalCalibDemoConnections):
    pass


class GlobalCalibDemoTask(DemoTaskMixin, pipeBase.PipelineTask):
    """Global calibration (like step2c's FGCM): one quantum over all visits, a correction per visit."""

    ConfigClass = GlobalCalibDemoConfig
    _DefaultName = "globalCalibDemo"

    def runQuantum(self, butlerQC: pipeBase.QuantumContext, inputRefs: pipeBase.InputQuantizedConnection,
                   outputRefs: pipeBase.OutputQuantizedConnection) -> None:
        self.inject_failures(_task_label(self), butlerQC.quantum.dataId)
        summaries = {int(ref.dataId["visit"]): butlerQC.get(ref) for ref in inputRefs.summaries}
        calibs = self.run(summaries).calibs
        for ref in outputRefs.calibs:
            butlerQC.put(calibs[int(ref.dataId["visit"])], ref)

    def run(self, summaries: dict[int, dict[str, Any]]) -> pipeBase.Struct:
        fluxes = {visit: float(s.get("mean_flux", 0.0)) for visit, s in summaries.items()}
        mean = sum(fluxes.values()) / len(fluxes) if fluxes else 0.0
        return pipeBase.Struct(calibs={
            visit: {"visit": visit, "scale": mean / flux if flux else 1.0, "n_visits": len(fluxes)}
            for visit, flux in fluxes.items()})


# ---- step3: per {skymap, tract, patch, band}, gathering overlapping visits -----------------------

class CoaddDemoConnections(pipeBase.PipelineTaskConnections, dimensions=("skymap", "tract", "patch", "band")):
    summaries = cT.Input(doc="Visit summaries of visits overlapping the patch in this band.",
                         name="demo_visit_summary", storageClass="StructuredDataDict",
                         dimensions=("instrument", "visit"), multiple=True)
    global_calibs = cT.Input(doc="Global calibrations of those visits (only with use_global_calib).",
                             name="demo_global_calib", storageClass="StructuredDataDict",
                             dimensions=("instrument", "visit"), multiple=True)
    coadd = cT.Output(doc="Per-patch, per-band coadd summary.", name="demo_coadd",
                      storageClass="StructuredDataDict", dimensions=("skymap", "tract", "patch", "band"))

    def __init__(self, *, config: Any = None) -> None:
        super().__init__(config=config)
        if config is None or not config.use_global_calib:
            del self.global_calibs


class CoaddDemoConfig(pipeBase.PipelineTaskConfig, DemoTaskConfigMixin, pipelineConnections=CoaddDemoConnections):
    use_global_calib = pexConfig.Field[bool](
        doc="Also read demo_global_calib of each visit (the 3×3 demo's step2c output) and apply its scale.",
        default=False)


class CoaddDemoTask(DemoTaskMixin, pipeBase.PipelineTask):
    """Per-patch coadd (like step3's assembleCoadd): combine the overlapping visits of one band."""

    ConfigClass = CoaddDemoConfig
    _DefaultName = "coaddDemo"
    config: CoaddDemoConfig

    def runQuantum(self, butlerQC: pipeBase.QuantumContext, inputRefs: pipeBase.InputQuantizedConnection,
                   outputRefs: pipeBase.OutputQuantizedConnection) -> None:
        self.inject_failures(_task_label(self), butlerQC.quantum.dataId)
        visits = [int(ref.dataId["visit"]) for ref in inputRefs.summaries]
        summaries = [butlerQC.get(ref) for ref in inputRefs.summaries]
        scales: dict[int, float] | None = None
        if self.config.use_global_calib:
            scales = {int(ref.dataId["visit"]): float(butlerQC.get(ref)["scale"]) for ref in inputRefs.global_calibs}
        butlerQC.put(self.run(visits, summaries, scales), outputRefs)

    def run(self, visits: list[int], summaries: list[dict[str, Any]],
            scales: dict[int, float] | None = None) -> pipeBase.Struct:
        fluxes = [float(s.get("mean_flux", 0.0)) * (scales.get(v, 1.0) if scales else 1.0)
                  for v, s in zip(visits, summaries, strict=True)]
        coadd: dict[str, Any] = {"visits": sorted(visits), "n_visits": len(visits),
                                 "flux": sum(fluxes) / len(fluxes) if fluxes else 0.0}
        if scales is not None:
            coadd["calibrated_visits"] = sorted(v for v in visits if v in scales)
        return pipeBase.Struct(coadd=coadd)


# ---- step4: per {skymap, tract}, gathering patches ----------------------------------------------

class TractSummaryDemoConnections(pipeBase.PipelineTaskConnections, dimensions=("skymap", "tract")):
    coadds = cT.Input(doc="All coadds of the tract.", name="demo_coadd", storageClass="StructuredDataDict",
                      dimensions=("skymap", "tract", "patch", "band"), multiple=True)
    summary = cT.Output(doc="Per-tract summary.", name="demo_tract_summary", storageClass="StructuredDataDict",
                        dimensions=("skymap", "tract"))


class TractSummaryDemoConfig(pipeBase.PipelineTaskConfig, DemoTaskConfigMixin,
                             pipelineConnections=TractSummaryDemoConnections):
    flux_scale = pexConfig.Field[float](
        doc="Multiplies the tract's mean_flux metric: a deliberately changed configuration (e.g. "
            "-c tractSummaryDemo:flux_scale=1.5) trips the demo campaign's regression check.", default=1.0)


class TractSummaryDemoTask(DemoTaskMixin, pipeBase.PipelineTask):
    """Per-tract summary (like the tract-level object tables): count what the coadds hold."""

    ConfigClass = TractSummaryDemoConfig
    _DefaultName = "tractSummaryDemo"

    def runQuantum(self, butlerQC: pipeBase.QuantumContext, inputRefs: pipeBase.InputQuantizedConnection,
                   outputRefs: pipeBase.OutputQuantizedConnection) -> None:
        self.inject_failures(_task_label(self), butlerQC.quantum.dataId)
        keys = [(int(ref.dataId["patch"]), str(ref.dataId["band"])) for ref in inputRefs.coadds]
        coadds = [butlerQC.get(ref) for ref in inputRefs.coadds]
        butlerQC.put(self.run(keys, coadds), outputRefs)

    def run(self, keys: list[tuple[int, str]], coadds: list[dict[str, Any]]) -> pipeBase.Struct:
        # A plain mapping of numbers is the demo's metric dataset: the campaign's checks read `mean_flux` from it.
        fluxes = [float(c.get("flux", 0.0)) for c in coadds]
        return pipeBase.Struct(summary={
            "patches": sorted({p for p, _ in keys}),
            "bands": sorted({b for _, b in keys}),
            "n_coadds": len(coadds),
            "n_visit_inputs": sum(int(c.get("n_visits", 0)) for c in coadds),
            "mean_flux": (sum(fluxes) / len(fluxes) if fluxes else 0.0) * self.config.flux_scale,
        })
