"""Slurm under bps + parsl: the adapter (`wms.py`) and the scheduler it reads in bulk (`scheduler.py`)."""
