"""Check and combine Butler data-query strings (the `where` expressions of bps dataQuery)."""

from __future__ import annotations

import re

_BINARY = {"AND", "OR"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _tokens(query: str) -> tuple[list[tuple[str, int]], str | None]:
    """Coarse tokens (text, 1-based position) outside string literals, or the first lexical problem.

    Only structure matters here (quotes, parentheses, AND/OR/NOT); the Butler parses the rest.
    """
    tokens: list[tuple[str, int]] = []
    opened: list[int] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "'\"":
            start = i
            i += 1
            while True:
                if i >= n:
                    return tokens, f"the quote {c} at character {start + 1} is never closed"
                if query[i] == c:
                    # SQL escapes a quote inside a string by doubling it: 'O''Brien'.
                    if i + 1 < n and query[i + 1] == c:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
            tokens.append(("STRING", start + 1))
        elif c == "(":
            opened.append(i + 1)
            tokens.append(("(", i + 1))
            i += 1
        elif c == ")":
            if not opened:
                return tokens, f"')' at character {i + 1} has no matching '('"
            opened.pop()
            tokens.append((")", i + 1))
            i += 1
        elif m := _WORD.match(query, i):
            word = m.group()
            tokens.append((word.upper() if word.upper() in {"AND", "OR", "NOT"} else "WORD", i + 1))
            i = m.end()
        else:
            tokens.append((c, i + 1))
            i += 1
    if opened:
        return tokens, f"'(' at character {opened[-1]} is never closed"
    return tokens, None


def check(query: str) -> str | None:
    """None when `query` is structurally sound, else what is wrong in plain words.

    Catches what is easy to get wrong when editing YAML by hand: unbalanced quotes or
    parentheses, an AND/OR with nothing on one side, empty parentheses.
    """
    if not query.strip():
        return None
    tokens, problem = _tokens(query)
    if problem:
        return problem
    for k, (tok, pos) in enumerate(tokens):
        before = tokens[k - 1][0] if k > 0 else None
        after = tokens[k + 1][0] if k + 1 < len(tokens) else None
        if tok in _BINARY:
            if before is None or before in _BINARY or before in {"NOT", "(", ","}:
                return f"{tok} at character {pos} has nothing on its left"
            if after is None or after in _BINARY or after in {")", ","}:
                return f"{tok} at character {pos} has nothing on its right"
        elif tok == "NOT" and (after is None or after in _BINARY or after in {")", ","}):
            return f"NOT at character {pos} has nothing after it"
        elif tok == "(" and after == ")":
            return f"empty parentheses at character {pos}"
    return None


def combine(*parts: str) -> str:
    """AND the non-empty parts, each in parentheses so an OR inside one cannot leak into another."""
    kept = [p.strip() for p in parts if p and p.strip()]
    return " AND ".join(f"({p})" for p in kept)


def excluding(data_ids: tuple[str, ...]) -> str:
    """`NOT ((detector=1 AND instrument='DemoCam' AND visit=1201) OR ...)` for data IDs written
    `dimension=value ...` (as the preflight records them); an integer value stays bare, others are quoted."""
    if not data_ids:
        return ""

    def term(pair: str) -> str:
        key, _, value = pair.partition("=")
        bare = value.lstrip("-").isdigit()
        return f"{key}={value}" if bare else f"{key}='{value.replace(chr(39), chr(39) * 2)}'"

    ors = " OR ".join("(" + " AND ".join(term(p) for p in data_id.split()) + ")" for data_id in data_ids)
    return f"NOT ({ors})"
