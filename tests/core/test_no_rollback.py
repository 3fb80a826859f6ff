"""No hand-written rollback: code that catches a refused write never puts state back itself."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import hub

HUB = Path(hub.__file__).parent
_REFUSALS = {"StorageError", "StorageEncodingError"}
_OWED: Final = "_pending"
"""A store's own queue of what it still owes the disk: bookkeeping, not served state."""
_MUTATORS = {"pop", "popitem", "clear", "update", "setdefault", "__setitem__", "__delitem__"}


def _catches_a_refusal(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = {k.attr if isinstance(k, ast.Attribute) else getattr(k, "id", "") for k in kinds}
    return bool(names & _REFUSALS)


def _puts_back(node: ast.AST) -> bool:
    """An assignment into an object or a mapping, or a mutating call on one (``self.x.pop``)."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        flat = [t for target in targets for t in ast.walk(target)]
        return any(
            isinstance(t, ast.Subscript) or (isinstance(t, ast.Attribute) and t.attr != _OWED)
            for t in flat
        )
    if isinstance(node, ast.Delete):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return node.func.attr in _MUTATORS and isinstance(owner, ast.Attribute)
    return False


def rollbacks(source: str) -> list[int]:
    """Lines in ``except StorageError`` blocks of ``source`` that write state back by hand."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and node.type and _catches_a_refusal(node):
            found += [
                n.lineno
                for stmt in node.body
                for n in ast.walk(stmt)
                if isinstance(n, ast.stmt | ast.expr) and _puts_back(n)
            ]
    return found


def test_the_check_finds_a_hand_written_rollback() -> None:
    source = (
        "try:\n    pass\nexcept StorageError:\n    self._items[key] = before\n    raise\n"
        "try:\n    pass\nexcept (OSError, StorageError):\n    self._people, self._x = a, b\n"
        "try:\n    pass\nexcept StorageError:\n    self._surfaces.pop(slug, None)\n"
        "try:\n    pass\nexcept StorageError:\n    log(err)\n    raise\n"
    )
    assert rollbacks(source) == [4, 9, 13]


def test_no_except_storage_error_in_the_hub_writes_state_back() -> None:
    found = {
        f"{path.relative_to(HUB.parent)}:{line}"
        for path in sorted(HUB.rglob("*.py"))
        for line in rollbacks(path.read_text())
    }
    # A refused change is never served (``hub.core.storage.Committed``): nothing to put back.
    assert not found, sorted(found)
