"""One walk over a decoded JSON value: how deep it nests, and strings UTF-8 cannot write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Flaw:
    """The first thing wrong with a value: where it is, and either a lone surrogate or a depth."""

    path: Path
    surrogate: str | None
    """The lone surrogate found (e.g. ``"\\ud800"``), or ``None`` when the value nests too deep."""

    def describe(self) -> str:
        """What is wrong, in words safe to log and to answer (the surrogate is escaped)."""
        if self.surrogate is None:
            return "nested too deep"
        return f"a lone surrogate (\\u{ord(self.surrogate):04x}) is not text"


def is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8; a JSON ``"\\ud800"`` decodes to one that cannot."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate(value: str) -> str | None:
    """The first lone surrogate in ``value``, or ``None`` when it is text."""
    if is_text(value):
        return None
    return next(char for char in value if "\ud800" <= char <= "\udfff")


def first_flaw(value: Any, max_depth: int | None = None) -> Flaw | None:
    """The first string (or key) that is not text, or container past ``max_depth``, in ``value``.

    Iterative, so a value nested deeper than Python's recursion limit is walked as safely as any;
    the root container is at depth 0, so ``max_depth`` levels of nesting are allowed.
    """
    if isinstance(value, str):
        bad = lone_surrogate(value)
        return None if bad is None else Flaw((), bad)
    if not isinstance(value, dict | list):
        return None
    stack: list[tuple[dict[Any, Any] | list[Any], Path]] = [(value, ())]
    while stack:
        container, path = stack.pop()
        if max_depth is not None and len(path) >= max_depth:
            return Flaw(path, None)
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, child in items:
            # ``isascii`` first: nearly every string is ASCII, and it costs no call into Python.
            if isinstance(key, str) and not key.isascii() and (bad := lone_surrogate(key)):
                return Flaw((*path, key), bad)
            if isinstance(child, str):
                if not child.isascii() and (bad := lone_surrogate(child)):
                    return Flaw((*path, key), bad)
            elif isinstance(child, dict | list):
                stack.append((child, (*path, key)))
    return None
