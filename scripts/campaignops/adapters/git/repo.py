"""Real git in one working tree, through subprocess: no prompts, no pager, C locale."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...domain.errors import GitError


class GitCommandFailed(GitError):
    """A git command exited non-zero; carries its exit code and stderr."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Git:
    """Real git in one working tree, through subprocess. No prompts, no pager, C locale."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C",
               "GIT_EDITOR": "true", **self.env}
        proc = subprocess.run(["git", *args], cwd=self.cwd, env=env, input=stdin, text=True,
                              capture_output=True, check=False)
        if check and proc.returncode != 0:
            raise GitCommandFailed(args, proc.returncode, proc.stderr)
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout

    def blobs(self, shas: Sequence[str]) -> dict[str, str]:
        """Contents of many blobs in one `git cat-file --batch` (missing ones left out)."""
        if not shas:
            return {}
        proc = subprocess.run(["git", "cat-file", "--batch"], cwd=self.cwd, input="\n".join(shas).encode() + b"\n",
                              capture_output=True, check=True, env={**os.environ, **self.env})
        out, pos, found = proc.stdout, 0, {}
        for sha in shas:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            found[sha] = out[pos:pos + size].decode("utf-8")
            pos += size + 1
        return found

    def last_author(self, path: str | Path) -> str | None:
        """`Name <email>` of the last commit that touched `path`, None outside git or when never committed."""
        proc = self.run("log", "-1", "--format=%an <%ae>", "--", str(path), check=False)
        return (proc.stdout.strip() or None) if proc.returncode == 0 else None

    def show(self, rev_path: str) -> str | None:
        """Content of `rev:path` (or `:path` for the index, `:2:path` for a conflict stage); None if absent."""
        proc = self.run("show", rev_path, check=False)
        return proc.stdout if proc.returncode == 0 else None


__all__ = ["Git", "GitCommandFailed", "GitError"]
