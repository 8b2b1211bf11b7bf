"""The PanDA token of the runner: `$PANDA_AUTH_ID_TOKEN`, else `id_token` of `$PANDA_CONFIG_ROOT/.token`.

panda-client refreshes an id token that has less than 5 minutes left with its refresh token; once
that fails it falls back to a device-code flow that needs a person, so an unattended runner must be
told ahead of time. Only the token's `exp` claim is read (the signature is the server's business).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...domain.errors import ServiceError

ENV_TOKEN = "PANDA_AUTH_ID_TOKEN"
ENV_ROOT = "PANDA_CONFIG_ROOT"
TOKEN_FILE = ".token"


class TokenError(ServiceError):
    """The PanDA token exists but cannot be read: what is wrong and how to get a new one."""


@dataclass(frozen=True)
class PandaToken:
    """When the runner's PanDA id token expires, and where it was read."""

    expires_at: datetime
    source: str  # "$PANDA_AUTH_ID_TOKEN" or the file's path
    subject: str = ""  # the `name`, `preferred_username` or `sub` claim, for messages
    value: str = field(default="", repr=False)  # the token itself (sent to the monitor when asked to)


def token_path(env: Mapping[str, str] = os.environ) -> Path:
    """`$PANDA_CONFIG_ROOT/.token`; panda-client's default root is ~/.pathena."""
    root = env.get(ENV_ROOT) or str(Path(env.get("HOME", "~")).expanduser() / ".pathena")
    return Path(root).expanduser() / TOKEN_FILE


def claims(jwt: str, where: str) -> dict[str, Any]:
    """The payload of a JWT (header.payload.signature), not verified."""
    parts = jwt.strip().split(".")
    if len(parts) != 3:
        raise TokenError(f"{where}: the id token is not a JWT (header.payload.signature); "
                         "run `panda_auth reset` then `panda_auth status` to get a new one")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeEncodeError) as exc:
        raise TokenError(f"{where}: the id token's payload cannot be decoded ({exc}); run `panda_auth reset` "
                         "then `panda_auth status`") from exc
    if not isinstance(data, dict):
        raise TokenError(f"{where}: the id token's payload is not a JSON object")
    return data


def read_token(env: Mapping[str, str] = os.environ) -> PandaToken | None:
    """The runner's PanDA token, or None when there is none (no variable, no file)."""
    raw, where = env.get(ENV_TOKEN, ""), f"${ENV_TOKEN}"
    if not raw:
        path = token_path(env)
        if not path.exists():
            return None
        where = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TokenError(f"{where}: unreadable token file ({exc}); run `panda_auth reset` then "
                             "`panda_auth status`") from exc
        raw = str(data.get("id_token") or "") if isinstance(data, dict) else ""
        if not raw:
            raise TokenError(f"{where}: no id_token in the token file; run `panda_auth status` to log in again")
    payload = claims(raw, where)
    try:
        expires = datetime.fromtimestamp(float(payload["exp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise TokenError(f"{where}: the id token has no valid 'exp' claim; run `panda_auth reset`") from exc
    subject = str(payload.get("name") or payload.get("preferred_username") or payload.get("sub") or "")
    return PandaToken(expires, where, subject, raw.strip())


__all__ = ["ENV_ROOT", "ENV_TOKEN", "PandaToken", "TokenError", "claims", "read_token", "token_path"]
