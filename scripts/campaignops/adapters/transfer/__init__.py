"""Transfers between sites' Butlers: Butler-to-Butler (the embedded default) and what both adapters share."""
