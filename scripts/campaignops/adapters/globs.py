"""Repository globs of the files the bot writes: `*` stays inside one folder, `**` crosses folders."""

from __future__ import annotations

import re
from collections.abc import Iterable


def matches(path: str, glob: str) -> bool:
    """Does the repository path (from the root, `/`-separated) match `glob`?"""
    pattern = re.escape(glob).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
    return re.fullmatch(pattern, path) is not None


def matches_any(path: str, globs: Iterable[str]) -> bool:
    return any(matches(path, glob) for glob in globs)
