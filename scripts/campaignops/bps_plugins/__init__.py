"""Code that runs inside bps (named in a profile's wmsServiceClass or site class), not an adapter of ours."""
