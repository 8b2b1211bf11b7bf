"""The house keeps its shape: imports point one way along the data flow, and no module imports itself back.

    domain ← campaign_spec ← ledger, ports ← planning ← views ← engine ← adapters ← workspace ← demo, cli

(adapters reach only the layers below the engine; bps_plugins run inside bps and reach only the domain
and the process helpers.) Every import counts, lazy ones inside functions and TYPE_CHECKING ones too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "campaignops"

BELOW_ENGINE = {"domain", "campaign_spec", "ledger", "ports"}
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "campaign_spec": {"domain"},
    "ledger": {"domain", "campaign_spec"},  # the ledger schema ships with the spec schemas
    "ports": {"domain"},
    "planning": {"domain", "campaign_spec", "ledger", "ports"},
    "views": {"domain", "campaign_spec", "ledger", "planning"},
    "engine": {"domain", "campaign_spec", "ledger", "ports", "planning", "views"},
    "adapters": BELOW_ENGINE,
    "bps_plugins": {"domain", "adapters.processes"},
    # The composition root: the registries (words of profiles → adapters), then the workspace that opens a campaign.
    "registry": {"domain", "ports", "adapters"},
    "workspace": {"domain", "campaign_spec", "ledger", "ports", "planning", "engine", "adapters", "registry"},
    "demo": {"domain", "campaign_spec", "ledger", "ports", "planning", "views", "engine", "adapters", "registry",
             "workspace"},
    "cli": {"domain", "campaign_spec", "ledger", "ports", "planning", "views", "engine", "adapters", "registry",
            "workspace", "demo"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every campaignops module `path` imports (absolute or relative, anywhere in the file)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("campaignops")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("campaignops"):
                continue
            # `from . import x` names a module; `from .m import name` names m.
            subs = [f"{target}.{a.name}" for a in node.names]
            found |= {s for s in subs if _is_module(s)} or {target}
    return found


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_package_has_one_folder_per_stage() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert top == {"domain", "campaign_spec", "planning", "ledger", "engine", "views", "adapters", "bps_plugins",
                   "demo", "cli"}
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py", "ports.py", "registry.py", "workspace.py"}


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m)))
def test_imports_point_down_the_data_flow(module: str) -> None:
    own = layer(module)
    allowed = ALLOWED[own]
    wrong = sorted(t for t in GRAPH[module] if layer(t) and layer(t) != own
                   and layer(t) not in allowed and ".".join(t.split(".")[1:3]) not in allowed)
    assert not wrong, f"{module} ({own}) may import only {sorted(allowed)}, not {wrong}"


def test_no_module_imports_itself_back() -> None:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in GRAPH:
                continue
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif not state.get(nxt):
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(GRAPH):
        if not state.get(start):
            visit(start, [start])
    # A package's __init__ importing nothing keeps `a.b` → `a` edges out; any other loop is a cycle.
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_the_checker_sees_relative_lazy_and_type_checking_imports() -> None:
    assert "campaignops.domain.errors" in GRAPH["campaignops.engine.submit"]  # `from ..domain.errors import`
    assert "campaignops.domain.model" in GRAPH["campaignops.ports"]  # under TYPE_CHECKING
    assert "campaignops.demo.run" in GRAPH["campaignops.cli.commands.demo"]  # inside a function
