"""Planning (pure): groups of each step, the ordered runs, what may be submitted now, the BPS configs."""
