"""Views: pure text of plans, progress tables, status pages, issue bodies and timelines (markdown or terminal)."""
