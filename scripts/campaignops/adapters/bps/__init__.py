"""bps: launch `bps submit` / `bps restart` detached and read `bps report` of any plugin."""
