"""Read a YAML spec file safely into plain data, keeping the line and column of every key and item."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..domain.problems import JsonPath, Problem, path_text

MAX_BYTES = 1 << 20  # specs are hand-written: anything bigger is a mistake (or an ID list for split.source)
MAX_DEPTH = 64  # no campaign nests deeper than ~8; deep nesting would otherwise hit the recursion limit
MAX_VALUES = 200_000  # bounds alias "billion laughs" expansion

# Characters YAML 1.2 allows in a stream (its c-printable production), negated.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Location = tuple[int, int]


@dataclass(frozen=True)
class Document:
    """A parsed spec: its plain data and where each mapping key and sequence item is (1-based)."""

    file: str
    data: Any
    locations: Mapping[JsonPath, Location] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int]) -> Location:
        """Line and column of `path`, or of its nearest ancestor that exists in the file."""
        parts = tuple(path)
        for end in range(len(parts), -1, -1):
            where = self.locations.get(parts[:end])
            if where is not None:
                return where
        return (1, 1)

    def problem(self, path: Sequence[str | int], message: str, fix: str = "") -> Problem:
        line, column = self.locate(path)
        return Problem(self.file, line, column, path_text(path), message, fix)


def display_name(path: Path, root: Path) -> str:
    """`path` relative to the repository root when inside it (what editors and GitHub expect)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        return str(path)


def _at(file: str, line: int, column: int, message: str, fix: str = "", path: str = "") -> Problem:
    return Problem(file, line, column, path, message, fix)


def line_col(text: str, offset: int) -> Location:
    """1-based line and column of character `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def read(path: Path, root: Path) -> tuple[Document | None, list[Problem]]:
    """Read and parse one spec file. Never raises on bad input: every failure is a located problem."""
    try:
        resolved, top = path.resolve(), root.resolve()
        inside = resolved.is_relative_to(top)
    except (OSError, RuntimeError) as exc:  # symlink loops, unreadable parents
        return None, [_at(str(path), 1, 1, f"cannot resolve the path: {exc}", "check the path")]
    file = resolved.relative_to(top).as_posix() if inside else str(path)
    if not inside:
        return None, [_at(file, 1, 1, f"the file is outside the repository root {root}",
                          "move it under the repository, or pass --root with the repository that holds it")]
    if not resolved.exists():
        return None, [_at(file, 1, 1, "no such file",
                          "check the path; campaigns live in campaigns/<name>/campaign.yaml")]
    if resolved.is_dir():
        return None, [_at(file, 1, 1, "this is a directory, not a spec file",
                          "pass a .yaml file, or let `campaign validate DIR` search the directory")]
    if not resolved.is_file():
        return None, [_at(file, 1, 1, "not a regular file", "pass a .yaml file")]
    try:
        size = resolved.stat().st_size
        if size > MAX_BYTES:
            return None, [_at(file, 1, 1,
                              f"the file is {size} bytes; a spec may be at most {MAX_BYTES} bytes (1 MiB)",
                              "move long lists of IDs into a split source file "
                              "(split: {by: count, source: ...})")]
        with resolved.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)  # the file may have grown since stat
        if len(raw) > MAX_BYTES:
            return None, [_at(file, 1, 1, f"the file is over {MAX_BYTES} bytes (1 MiB)",
                              "move long lists of IDs into a split source file")]
    except OSError as exc:
        return None, [_at(file, 1, 1, f"cannot read the file: {exc.strerror or exc}",
                          "check its permissions")]
    return parse_bytes(raw, file)


def decode(raw: bytes, file: str) -> tuple[str | None, list[Problem]]:
    """UTF-8 text of a spec, or why it is not a text file."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [_at(file, 1, 1, "the file is UTF-16 encoded", "save it as UTF-8")]
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = line_col(raw[:nul].decode("utf-8", "replace"), nul)
        return None, [_at(file, line, col, "the file contains NUL bytes: it is binary, not YAML",
                          "check that this is the spec you meant; save it as plain UTF-8 text")]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # editors on Windows add a BOM; it carries no meaning
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        line, col = line_col(before, len(before))
        return None, [_at(file, line, col, f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                          "save the file as UTF-8")]
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, col = line_col(text, bad.start())
        return None, [_at(file, line, col,
                          f"control character U+{ord(bad.group()):04X} is not allowed in YAML",
                          "delete it (it is often pasted in from a terminal or a PDF)")]
    return text, []


def parse_bytes(raw: bytes, file: str) -> tuple[Document | None, list[Problem]]:
    text, problems = decode(raw, file)
    if text is None:
        return None, problems
    return parse(text, file)


def parse(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse spec text. The document is returned whenever the YAML parsed to a mapping."""
    try:
        doc = parse_fast(text, file)
    except _Limit as exc:  # no need to ask the slow reader to confirm: it would take seconds
        return None, [_at(file, 1, 1, str(exc), _LIMIT_FIX)]
    if doc is not None:
        return doc, []
    return parse_located(text, file)


# --- the reference reader: ruamel.yaml round-trip (YAML 1.2), with a position for every node -------


class _Limit(Exception):
    pass


_LIMIT_FIX = "simplify the file (check for aliases that expand recursively)"
_TOO_DEEP = f"the YAML nests too deeply (more than {MAX_DEPTH} levels)"
_TOO_MANY = f"the file expands to more than {MAX_VALUES} values"


def parse_located(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse with ruamel.yaml's round-trip loader; handles every file, reports every YAML mistake."""
    loader = YAML(typ="rt")
    try:
        data = loader.load(text)
    except DuplicateKeyError as exc:
        return None, _duplicate_keys(text, file) or [_yaml_error(exc, file)]
    except MarkedYAMLError as exc:
        return None, [_yaml_error(exc, file)]
    except RecursionError:
        return None, [_at(file, 1, 1, _TOO_DEEP, "flatten the structure")]
    except YAMLError as exc:
        return None, [_at(file, 1, 1, f"YAML error: {exc}", "fix the YAML syntax")]
    except Exception as exc:  # noqa: BLE001 - a third-party parser must not turn bad input into a traceback
        return None, [_at(file, 1, 1, f"the YAML could not be read ({type(exc).__name__}: {exc})",
                          "fix the YAML syntax")]
    if data is None:
        return None, [_at(file, 1, 1, "the file is empty (or holds only comments)",
                          "write the spec as `key: value` lines; see docs/design.md")]
    if not isinstance(data, Mapping):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        return None, [_at(file, 1, 1, f"the top level is {kind}, not a mapping",
                          "a spec is a mapping of `key: value` lines (name:, description:, ...)")]
    reader = _RuamelPlain(file)
    # The top-level mapping is "where" its first key is, not line 1 (often a comment).
    reader.locations[()] = (data.lc.line + 1, data.lc.col + 1) if hasattr(data, "lc") else (1, 1)
    try:
        plain = reader.convert(data, (), 0)
    except _Limit as exc:
        return None, [_at(file, 1, 1, str(exc), _LIMIT_FIX)]
    return Document(file, plain, reader.locations), reader.problems


def _yaml_error(exc: MarkedYAMLError, file: str) -> Problem:
    problem = str(exc.problem or exc.context or "syntax error")
    context = str(exc.context or "")
    mark = exc.problem_mark or exc.context_mark
    # A scanner error ("while scanning a quoted scalar") is found where the scan gives up, often
    # at the end of the file; the mistake is where the token started.
    if context.startswith("while scanning") and exc.context_mark is not None:
        mark = exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = f"YAML syntax error: {problem}"
    if context and mark is not exc.context_mark and exc.context_mark is not None:
        message += f" ({context} at line {exc.context_mark.line + 1})"
    elif context:
        message += f" ({context})"
    if "\\t" in problem or "\t" in problem:
        fix = "indent with spaces: YAML does not allow tabs for indentation"
    elif "could not find expected ':'" in problem:
        fix = "write `key: value` with a space after the colon, or quote the text"
    elif context.startswith("while scanning a quoted scalar"):
        fix = "close the quote that starts here (or escape the quote inside the text)"
    elif "mapping values are not allowed" in problem:
        fix = "quote values that contain ': ', or check the indentation"
    else:
        fix = "fix the YAML syntax here (indentation, quotes, brackets)"
    return _at(file, line, col, message, fix)


def _duplicate_keys(text: str, file: str) -> list[Problem]:
    """Every key given twice in one mapping, with both lines (ruamel names only the mapping)."""
    try:
        root = YAML(typ="rt").compose(text)
    except Exception:  # noqa: BLE001 - only used to improve a message; the caller has a fallback
        return []
    problems: list[Problem] = []

    def walk(node: Node, path: JsonPath, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(node, MappingNode):
            seen: dict[tuple[str, str], Node] = {}
            for key, value in node.value:
                label: str | int = str(key.value) if isinstance(key, ScalarNode) else "?"
                ident = (str(key.tag), str(key.value)) if isinstance(key, ScalarNode) else ("", str(id(key)))
                first = seen.get(ident)
                if first is not None:
                    problems.append(_at(
                        file, key.start_mark.line + 1, key.start_mark.column + 1,
                        f"duplicate key '{label}': first on line {first.start_mark.line + 1}, "
                        f"again on line {key.start_mark.line + 1}",
                        "keep one of them: YAML keeps only one value per key", path_text(path + (label,))))
                else:
                    seen[ident] = key
                walk(value, path + (label,), depth + 1)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,), depth + 1)

    if root is not None:
        walk(root, (), 0)
    return problems


_YAML_TAG = "tag:yaml.org,2002:"


def _positions(obj: Any) -> Mapping[Any, Any]:
    """ruamel's 0-based [line, col, ...] per key or index; empty for merged or synthetic nodes."""
    data = getattr(getattr(obj, "lc", None), "data", None)
    return data if isinstance(data, Mapping) else {}


class _RuamelPlain:
    """CommentedMap/CommentedSeq/ruamel scalars -> dict/list/str/int/float/bool/None, with locations."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: dict[JsonPath, Location] = {}
        self.problems: list[Problem] = []
        self.count = 0

    def _problem(self, path: JsonPath, message: str, fix: str) -> None:
        line, col = self.locations.get(path, (1, 1))
        self.problems.append(Problem(self.file, line, col, path_text(path), message, fix))

    def _where(self, position: Any, parent: JsonPath) -> Location:
        if position:
            return (position[0] + 1, position[1] + 1)
        return self.locations.get(parent, (1, 1))

    def _tag(self, obj: Any, path: JsonPath) -> None:
        tag = getattr(obj, "tag", None)
        value = getattr(tag, "value", None) if tag is not None else None
        if isinstance(value, str) and value and not value.startswith(_YAML_TAG):
            self._problem(path, f"custom YAML tag '{value}' is not supported", "remove the tag")

    def convert(self, obj: Any, path: JsonPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Limit(_TOO_MANY)
        if depth > MAX_DEPTH:
            raise _Limit(_TOO_DEEP)
        if obj is None or isinstance(obj, (bool, str)):
            return str(obj) if isinstance(obj, str) else obj
        if isinstance(obj, TaggedScalar):
            self._tag(obj, path)
            return str(obj.value)
        if type(obj).__name__ == "ScalarBoolean":  # an int subclass: keep it a bool
            return bool(obj)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, (datetime.date, datetime.datetime)):
            # YAML turns 2026-01-01 into a date; every spec field wants the text the author typed.
            return obj.isoformat()
        if isinstance(obj, Mapping):
            self._tag(obj, path)
            return self._mapping(obj, path, depth)
        if isinstance(obj, (AbstractSet, bytes)):
            what = "a set (!!set)" if isinstance(obj, AbstractSet) else "binary data (!!binary)"
            self._problem(path, f"{what} is not supported here", "write a list or a text value")
            return str(obj)
        if isinstance(obj, Sequence):
            self._tag(obj, path)
            positions = _positions(obj)
            out = []
            for i, item in enumerate(obj):
                where = positions.get(i)
                self.locations[path + (i,)] = self._where(where, path)
                out.append(self.convert(item, path + (i,), depth + 1))
            return out
        self._problem(path, f"unsupported YAML value of type {type(obj).__name__}", "write a plain value")
        return str(obj)

    def _mapping(self, obj: Mapping[Any, Any], path: JsonPath, depth: int) -> dict[str, Any]:
        positions = _positions(obj)
        out: dict[str, Any] = {}
        for key, value in obj.items():
            name = key if isinstance(key, str) else str(key)
            where = positions.get(key)
            # Keys merged in with `<<:` have no position of their own: use the mapping's.
            self.locations[path + (name,)] = self._where(where, path)
            if not isinstance(key, str):
                self._problem(path + (name,), f"the key {name!r} is not text (YAML read it as a "
                              f"{type(key).__name__})", f"quote it: \"{name}\":")
            out[str(name)] = self.convert(value, path + (name,), depth + 1)
        return out


# --- the fast path: libyaml (C) composes the node tree; bails out to the reference reader ----------
#
# ruamel's pure-Python round-trip loader costs ~5 ms per campaign file; libyaml composes one in
# ~0.2 ms. The fast path accepts only what it can read exactly as ruamel (YAML 1.2) would: plain
# mappings/lists, text, decimal numbers, booleans and nulls. Anything else (tags, aliases merged
# with <<, duplicate keys, octal-looking numbers, dates, syntax errors) returns None and the caller
# uses parse_located, so both paths always agree on the data.

_RESOLVER: Any = yaml.resolver.Resolver()
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_STR_TAG = _YAML_TAG + "str"
_MAP_TAG = _YAML_TAG + "map"
_SEQ_TAG = _YAML_TAG + "seq"
_SCALAR_TAGS = {_YAML_TAG + t for t in ("str", "int", "float", "bool", "null")}

_C_LOADER: Any = getattr(yaml, "CSafeLoader", None)


if _C_LOADER is not None:
    class _UntaggedLoader(_C_LOADER):  # type: ignore[misc]
        """libyaml without PyYAML's YAML 1.1 tag resolution: parse_fast resolves scalars itself.

        Resolving every scalar with 1.1 regexes is a third of the time of a load, and its answers
        (yes -> True, 010 -> 8) are not the ones YAML 1.2 gives anyway.
        """

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                return _STR_TAG
            return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG


class _Bail(Exception):
    pass


def parse_fast(text: str, file: str) -> Document | None:
    """The document via libyaml, or None when only the reference reader can say what it means.

    Raises _Limit when the file is too deep or too big, whichever reader reads it.
    """
    if _C_LOADER is None or text.startswith("%") or "\n%" in text:  # %YAML 1.1 changes the rules
        return None
    # Every explicit tag starts with '!'; without one, scalars are resolved here from their text.
    explicit_tags = "!" in text
    try:
        node = yaml.compose(text, Loader=_C_LOADER if explicit_tags else _UntaggedLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    locations: dict[JsonPath, Location] = {(): (node.start_mark.line + 1, node.start_mark.column + 1)}
    count = 0

    def scalar(node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _Bail
        value: str = node.value
        if node.style:  # quoted or block: text, unless an explicit tag said otherwise
            if node.tag != _STR_TAG:
                raise _Bail
            return value
        if explicit_tags and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != node.tag:
            raise _Bail  # an explicit tag such as !!str 12
        if value in _NULLS:
            return None
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            return float(value)
        if value[0] in "0123456789+-.":
            raise _Bail  # hex, octal, exponents, .inf, dates: YAML 1.1 and 1.2 disagree
        return value

    def convert(node: yaml.Node, path: JsonPath, depth: int) -> Any:
        nonlocal count
        count += 1
        if depth > MAX_DEPTH:
            raise _Limit(_TOO_DEEP)
        if count > MAX_VALUES:
            raise _Limit(_TOO_MANY)
        if isinstance(node, yaml.ScalarNode):
            return scalar(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise _Bail
            out_list = []
            for i, item in enumerate(node.value):
                locations[path + (i,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out_list.append(convert(item, path + (i,), depth + 1))
            return out_list
        if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
            raise _Bail
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Bail
            key = scalar(key_node)
            if not isinstance(key, str) or key in out or key == "<<":
                raise _Bail
            locations[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = convert(value_node, path + (key,), depth + 1)
        return out

    try:
        data = convert(node, (), 0)
    except _Bail:
        return None
    return Document(file, data, locations)
