"""git: the working tree (repo.py), committing and pushing the record (publish.py), reading it back (history.py)."""
