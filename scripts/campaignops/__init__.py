"""Campaigns as code for Rubin Observatory data processing."""
