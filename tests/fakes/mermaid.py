"""A structural parser of the Mermaid flowchart subset the status pages use (no Mermaid runs here)."""

from __future__ import annotations

import re

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_RESERVED = {"end", "graph", "flowchart", "subgraph", "class", "classDef", "click", "style", "linkStyle"}


def parse_mermaid(text: str) -> dict[str, object]:
    """Nodes, edges and classes of a flowchart; AssertionError at the first line Mermaid would reject
    (an undefined class or node, a raw quote in a label, a reserved word as an id, an unknown line)."""
    lines = text.splitlines()
    assert re.fullmatch(r"flowchart (LR|RL|TB|TD|BT)", lines[0]), lines[0]
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    class_defs: dict[str, dict[str, str]] = {}
    classes: dict[str, str] = {}
    labels: dict[tuple[str, str], str] = {}
    for line in lines[1:]:
        line = line.strip()
        if m := re.fullmatch(rf'({_ID})\["([^"]*)"\]', line):
            assert m[1] not in _RESERVED and m[1] not in nodes, line
            nodes[m[1]] = m[2]
        elif m := re.fullmatch(rf'({_ID}) -->(?:\|"([^"]*)"\|)? ({_ID})', line):
            assert m[1] in nodes and m[3] in nodes, f"edge to an undefined node: {line}"
            edges.append((m[1], m[3]))
            if m[2] is not None:
                labels[(m[1], m[3])] = m[2]
        elif m := re.fullmatch(rf"classDef ({_ID}) ([a-z-]+:[#\w]+(?:,[a-z-]+:[#\w]+)*)", line):
            class_defs[m[1]] = dict(kv.split(":") for kv in m[2].split(","))
        elif m := re.fullmatch(rf"class ({_ID}(?:,{_ID})*) ({_ID})", line):
            assert m[2] in class_defs, f"class {m[2]} used before its classDef"
            for node in m[1].split(","):
                assert node in nodes, f"class for an undefined node: {line}"
                classes[node] = m[2]
        else:
            raise AssertionError(f"not Mermaid flowchart syntax: {line!r}")
    for label in nodes.values():
        # entity codes (#quot; #lt; #35;) are fine; a raw < or > outside <br/> would be HTML
        assert "<" not in label.replace("<br/>", "") and ">" not in label.replace("<br/>", ""), label
    return {"nodes": nodes, "edges": edges, "class_defs": class_defs, "classes": classes, "labels": labels}
