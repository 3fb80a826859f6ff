"""Deferred toolsets: what ``async_setup_entry`` may return so pydantic-ai loads on the first chat.

pydantic-ai costs a Pi about half a second and 30 MB to import. An integration that returns
``[deferred(build_toolset)]`` lets its entry load at boot without it; the agent calls ``build``
the first time a run needs the toolset, and keeps what it built until the entry is set up again.
A plain pydantic-ai toolset returned from ``async_setup_entry`` (as the specification's examples
do) works as well; it only costs that import at boot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_UNBUILT: Any = object()


class DeferredToolset:
    """A toolset factory called once, on first use."""

    __slots__ = ("_build", "_built", "_lock", "label")

    def __init__(self, build: Callable[[], Any], *, label: str | None = None) -> None:
        self._build = build
        self._built: Any = _UNBUILT
        self._lock = threading.Lock()
        self.label = label or getattr(build, "__qualname__", "toolset")

    def get(self) -> Any:
        """The toolset, built now if this is its first use; an exception from ``build`` propagates."""
        if self._built is _UNBUILT:
            with self._lock:
                if self._built is _UNBUILT:
                    self._built = self._build()
        return self._built

    def __repr__(self) -> str:
        built = "built" if self._built is not _UNBUILT else "not built"
        return f"<DeferredToolset {self.label} ({built})>"


def deferred(build: Callable[[], Any], *, label: str | None = None) -> DeferredToolset:
    """Wrap a toolset factory so it runs when an agent first needs the toolset."""
    return DeferredToolset(build, label=label)


def resolve_toolset(toolset: Any) -> Any:
    """The real toolset behind what ``async_setup_entry`` returned."""
    return toolset.get() if isinstance(toolset, DeferredToolset) else toolset
