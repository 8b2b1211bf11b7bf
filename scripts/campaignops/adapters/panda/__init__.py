"""PanDA: runs are launched and restarted through bps (adapters/bps/), observed in bulk through the BigPanDA monitor."""
