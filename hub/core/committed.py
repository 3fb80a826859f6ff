"""Committed state: a store's value, changed by building the next one and swapping it in once on disk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hub.core.storage import Store

S = TypeVar("S")
K = TypeVar("K")
V = TypeVar("V")


class Committed(Generic[S]):
    """A store's whole value, changed only by commits: staged, written, then swapped in.

    A change is a pure function from the current value to the next one. It is staged, so a
    concurrent group commit writes it too, and swapped into what memory serves only once it is on
    disk; refused, it is unstaged and memory is untouched, so nothing is ever put back by hand.
    A value swapped in is never mutated afterwards: changes build fresh values.
    """

    def __init__(self, store: Store, value: S, encode: Callable[[S], Any]) -> None:
        self.store = store
        self._value = value
        self._encode = encode
        self._staged: list[_Staged[S]] = []
        """Changes on their way to disk, in order: what ``snapshot`` writes, not yet served."""

    @property
    def value(self) -> S:
        """What memory serves: the value on disk, or owed to it by ``swap``."""
        return self._value

    @property
    def view(self) -> S:
        """The value with every staged change applied: what is served if the disk takes them."""
        view = self._value
        for staged in self._staged:
            view = staged.change(view)
        return view

    def snapshot(self) -> Any:
        """What the store writes: ``view``, encoded."""
        return self._encode(self.view)

    async def change(self, change: Callable[[S], S]) -> S:
        """Stage ``change``, commit it, and swap it in once on disk; refused, memory is untouched."""
        staged = _Staged(change)
        # Staged with no await before the commit joins its write, so that write includes it.
        self._staged.append(staged)
        try:
            await self.store.commit(self.snapshot)
        finally:
            self._staged.remove(staged)
        return self.swap(change)

    async def commit(self) -> None:
        """Write the value as it is (with whatever is staged): a disk that refuses says so now."""
        await self.store.commit(self.snapshot)

    def swap(self, change: Callable[[S], S]) -> S:
        """Serve ``change`` applied now, without writing: for state saved soon, or recomputed."""
        self._value = change(self._value)
        return self._value

    def change_soon(self, change: Callable[[S], S]) -> S:
        """``swap`` and save soon: for state that may be lost to a crash (it can be recomputed)."""
        value = self.swap(change)
        self.store.schedule_save(self.snapshot)
        return value

    def reset(self, value: S) -> None:
        """Serve ``value`` as what is on disk (what ``load`` read), writing nothing."""
        self._value = value


class CommittedItems(Committed[dict[K, V]]):
    """A committed mapping changed one item at a time; each value swapped in is a fresh dict."""

    def __init__(self, store: Store, encode: Callable[[dict[K, V]], Any]) -> None:
        super().__init__(store, {}, encode)

    async def change_item(self, key: K, change: Callable[[V | None], V | None]) -> V | None:
        """``change`` one item (``None``: absent) on disk, then in memory; the item as it is now."""
        items = await self.change(lambda current: with_item(current, key, change))
        return items.get(key)

    async def set_item(self, key: K, value: V | None) -> None:
        """Set ``key`` to ``value`` (``None`` removes it) on disk, then in memory."""
        await self.change_item(key, lambda _: value)


def with_item(items: Mapping[K, V], key: K, change: Callable[[V | None], V | None]) -> dict[K, V]:
    """A new mapping with ``change`` applied to one item; a new item goes last, others keep order."""
    after = change(items.get(key))
    if after is None:
        return {k: v for k, v in items.items() if k != key}
    return {**items, key: after}


@dataclass(frozen=True, slots=True, eq=False)
class _Staged(Generic[S]):
    """A change on its way to disk; compared by identity, as each is its own."""

    change: Callable[[S], S]
