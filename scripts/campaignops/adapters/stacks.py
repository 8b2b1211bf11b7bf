"""The stack tags a site has: the entries of its listing directory (CVMFS), or the tags its profile writes."""

from __future__ import annotations

import os
from pathlib import Path

from ..domain.stacks import Published, StackSource, newest_first


def published(source: StackSource) -> Published:
    """What `source` lists, newest first. A listing that cannot be read (CVMFS not mounted on this machine, a
    path that is not a directory) gives no tags and says why, so a caller can tell "not published" from
    "not known here"."""
    if not source.listing:
        return Published(source.where, newest_first(source.tags))
    try:
        with os.scandir(source.listing) as entries:
            # A stack is a directory (CVMFS: <tag>/loadLSST.bash); links such as w_latest are not tags anyway.
            names = [e.name for e in entries if e.is_dir()]
    except OSError as exc:
        return Published(source.where, unreadable=exc.strerror or str(exc))
    return Published(source.where, newest_first(names))


def mounted(source: StackSource) -> bool:
    """Whether this machine has the listing's file system at all (its first directory, e.g. /cvmfs, exists):
    a GitHub-hosted runner or a laptop has no site stack, and an unreadable listing there says nothing."""
    parts = Path(source.listing).parts
    return len(parts) > 1 and Path(parts[0], parts[1]).exists()


__all__ = ["mounted", "published"]
