"""One rule decides who may see an entry: only ``hub.integrations.entry`` reads a scope to decide it."""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parent.parent / "hub"
RULE = HUB / "integrations" / "entry.py"
SCOPE_NAMES = {"user", "global", "SCOPE_USER", "SCOPE_GLOBAL"}

# Scopes that are not an entry's: these decide nothing about who sees one.
NOT_AN_ENTRY = {
    "integrations/config_flow.py": "a flow's scope, before any entry exists",
    "integrations/flow_manager.py": "the scope a flow creates its entry in",
    "api/surfaces.py": "the scope a new dashboard asks for",
}


def _scope_names(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {name for item in node.elts for name in _scope_names(item)}
    return set()


def scope_checks(path: Path) -> list[int]:
    """Lines comparing something's ``.scope`` with ``user`` or ``global``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        reads_scope = any(isinstance(o, ast.Attribute) and o.attr == "scope" for o in operands)
        if reads_scope and any(_scope_names(o) & SCOPE_NAMES for o in operands):
            lines.append(node.lineno)
    return lines


def test_only_the_entry_module_decides_from_a_scope() -> None:
    found = {
        str(path.relative_to(HUB)): lines
        for path in sorted(HUB.rglob("*.py"))
        if path != RULE and (lines := scope_checks(path))
    }
    assert set(found) <= set(NOT_AN_ENTRY), (
        "ask hub.integrations.entry (visible_to, owned_by, audience) instead of reading "
        f"an entry's scope: {found}"
    )
    assert scope_checks(RULE), "the rule itself still reads the scope"
