"""Adapters to workload managers: launch bps, observe runs (local parsl, HTCondor, PanDA)."""
