"""The embedded demo: pure-Python PipelineTasks shaped like DRP steps and a small real Butler repository."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
PIPELINE_YAML = DEMO_DIR / "pipeline.yaml"

INSTRUMENT = "DemoCam"
SKYMAP = "demo_rings"
DEFAULTS_COLLECTION = f"{INSTRUMENT}/defaults"
RAW_RUN = f"{INSTRUMENT}/raw/all"
INPUT_DATASET_TYPE = "demo_raw"

__all__ = ["DEFAULTS_COLLECTION", "DEMO_DIR", "INPUT_DATASET_TYPE", "INSTRUMENT", "PIPELINE_YAML", "RAW_RUN",
           "SKYMAP"]
