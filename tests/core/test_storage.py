"""Tests for the versioned storage files: envelope, migrations, coalesced saves, crash safety."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from hub.core.committed import Committed, CommittedItems, with_item
from hub.core.errors import STORAGE_UNREADABLE, StorageError
from hub.core.storage import StorageEncodingError, StorageManager, readable_json
from tests.core import storage_writer

WRITER = Path(storage_writer.__file__)
SLOW = os.environ.get("HUB_SLOW_TESTS") == "1"
CRASH_ROUNDS = 25
CRASH_ROUNDS_SLOW = 300


def prepared(config_dir: Path, *, save_delay: float = 1.0) -> StorageManager:
    """Return a manager whose ``.storage/`` is ready, as at start-up."""
    manager = StorageManager(config_dir, save_delay=save_delay)
    manager.prepare()
    return manager


def read_envelope(path: Path) -> dict[str, Any]:
    """Return the JSON object a storage file holds on disk."""
    envelope: dict[str, Any] = json.loads(path.read_bytes())
    return envelope


def mode_of(path: Path) -> int:
    """Return the permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def temporary_files(directory: Path) -> list[str]:
    """Return the names in ``directory`` that look like an unfinished atomic write."""
    return sorted(name for name in os.listdir(directory) if ".tmp-" in name)


def data_of(n: int) -> Callable[[], dict[str, int]]:
    """Return a ``schedule_save`` callback whose data tells which call scheduled it."""
    return lambda: {"n": n}


@dataclass(frozen=True, slots=True)
class Write:
    """One version of a file seen on disk: the loop time it was seen and the data it held."""

    at: float
    data: Any


class FileWatcher:
    """Record every write of a file as it happens.

    Each atomic write renames a new inode over the file, and that inode cannot be the one it
    replaces, so polling every millisecond sees every write as long as writes are further apart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writes: list[Write] = []
        self.written = asyncio.Event()
        self._inode: int | None = None
        self._task: asyncio.Task[None] | None = None

    def _poll(self) -> None:
        try:
            with self.path.open("rb") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                if inode == self._inode:
                    return
                self._inode = inode
                raw = handle.read()
        except FileNotFoundError:
            self._inode = None
            return
        if self._task is not None:
            at = asyncio.get_running_loop().time()
            self.writes.append(Write(at, json.loads(raw)["data"]))
            self.written.set()

    async def _watch(self) -> None:
        while True:
            self._poll()
            await asyncio.sleep(0.001)

    async def __aenter__(self) -> FileWatcher:
        self._poll()  # the file as it was before is not a write
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._poll()


# Round trip


async def test_round_trip_writes_exactly_the_envelope_with_private_modes(tmp_path: Path) -> None:
    """A save writes the four-key envelope at 0600 in a 0700 directory, and loads back equal."""
    store = prepared(tmp_path).store("core.people", 3, minor_version=2)
    assert await store.load() is None
    assert not store.path.exists()

    data = {"people": [{"name": "Zoë", "home": True}], "count": 1, "ratio": 0.5, "none": None}
    await store.save(data)

    assert read_envelope(store.path) == {
        "version": 3,
        "minor_version": 2,
        "key": "core.people",
        "data": data,
    }
    assert mode_of(store.path) == 0o600
    assert mode_of(tmp_path / ".storage") == 0o700
    assert await prepared(tmp_path).store("core.people", 3, minor_version=2).load() == data


async def test_save_makes_a_loosened_file_private_again(tmp_path: Path) -> None:
    """A file someone opened up to 0644 is back at 0600 after the next save."""
    store = prepared(tmp_path).store("auth", 1)
    await store.save({"token": "old"})
    store.path.chmod(0o644)

    await store.save({"token": "new"})

    assert mode_of(store.path) == 0o600
    assert read_envelope(store.path)["data"] == {"token": "new"}


def test_a_key_has_one_store_per_manager(tmp_path: Path) -> None:
    """Two stores for one key would overwrite each other, so the second is refused."""
    manager = prepared(tmp_path)
    manager.store("core.config", 1)
    with pytest.raises(ValueError, match=r"core\.config"):
        manager.store("core.config", 1)


# Migrations


async def test_major_bump_migrates_through_the_pure_function(tmp_path: Path) -> None:
    """An old major goes through migrate with its version, minor and data; saves then say 2."""
    old = {"lights": ["kitchen", "hall"]}
    await prepared(tmp_path).store("core.lights", 1).save(old)
    calls: list[tuple[int, int, Any]] = []

    def migrate(version: int, minor: int, data: Any) -> Any:
        calls.append((version, minor, json.loads(json.dumps(data))))
        return {"lights": [{"name": name} for name in data["lights"]]}

    store = prepared(tmp_path).store("core.lights", 2, migrate=migrate)
    migrated = await store.load()

    assert migrated == {"lights": [{"name": "kitchen"}, {"name": "hall"}]}
    assert calls == [(1, 1, old)]

    await store.save(migrated)

    assert read_envelope(store.path) == {
        "version": 2,
        "minor_version": 1,
        "key": "core.lights",
        "data": migrated,
    }
    # Without a migrate function an old file would be refused, so this proves the file is at 2.
    assert await prepared(tmp_path).store("core.lights", 2).load() == migrated


async def test_minor_bump_migrates_and_saves_the_new_minor(tmp_path: Path) -> None:
    """A file at 1.1 read by a 1.2 store goes through migrate, and the next save says 1.2."""
    await prepared(tmp_path).store("core.areas", 1).save({"areas": ["garden"]})
    calls: list[tuple[int, int, Any]] = []

    def migrate(version: int, minor: int, data: Any) -> Any:
        calls.append((version, minor, data))
        return {**data, "floors": []}

    store = prepared(tmp_path).store("core.areas", 1, minor_version=2, migrate=migrate)
    migrated = await store.load()

    assert migrated == {"areas": ["garden"], "floors": []}
    assert calls == [(1, 1, {"areas": ["garden"]})]
    await store.save(migrated)
    assert read_envelope(store.path)["minor_version"] == 2
    assert read_envelope(store.path)["version"] == 1


async def test_newer_minor_version_is_read_as_it_is(tmp_path: Path) -> None:
    """A minor bump is backward compatible: an older hub reads a newer minor as it is."""
    await prepared(tmp_path).store("core.areas", 1, minor_version=3).save({"areas": []})

    assert await prepared(tmp_path).store("core.areas", 1, minor_version=2).load() == {"areas": []}


async def test_newer_major_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A file from a newer hub stops start-up with an error that says so; the file is untouched."""
    await prepared(tmp_path).store("core.lights", 3).save({"lights": "future shape"})
    calls: list[int] = []

    def migrate(version: int, minor: int, data: Any) -> Any:
        calls.append(version)
        return data

    manager = prepared(tmp_path)
    store = manager.store("core.lights", 2, migrate=migrate)
    before = store.path.read_bytes()

    with pytest.raises(StorageError, match="newer hub") as caught:
        await store.load()

    assert str(store.path) in str(caught.value)
    assert calls == []
    await manager.flush()
    assert store.path.read_bytes() == before


async def test_failing_migration_names_the_file_and_leaves_it_alone(tmp_path: Path) -> None:
    """A migrate function that raises is a StorageError naming the file, which stays as it was."""
    await prepared(tmp_path).store("core.lights", 1).save({"lamps": []})

    def migrate(version: int, minor: int, data: Any) -> Any:
        return {"lights": data["lights"]}  # the old data has no "lights": a KeyError

    manager = prepared(tmp_path)
    store = manager.store("core.lights", 2, migrate=migrate)
    before = store.path.read_bytes()

    with pytest.raises(StorageError, match="could not be migrated") as caught:
        await store.load()

    assert str(store.path) in str(caught.value)
    await manager.flush()
    assert store.path.read_bytes() == before


@pytest.mark.parametrize(
    ("stored", "wanted"),
    [pytest.param((1, 1), (2, 1), id="major"), pytest.param((1, 1), (1, 2), id="minor")],
)
async def test_older_version_without_migration_is_refused(
    tmp_path: Path, stored: tuple[int, int], wanted: tuple[int, int]
) -> None:
    """Reading an old file as if it were current would corrupt it, so start-up stops instead."""
    await prepared(tmp_path).store("core.lights", stored[0], minor_version=stored[1]).save([1])
    manager = prepared(tmp_path)
    store = manager.store("core.lights", wanted[0], minor_version=wanted[1])
    before = store.path.read_bytes()

    with pytest.raises(StorageError, match="no migration") as caught:
        await store.load()

    assert str(store.path) in str(caught.value)
    await manager.flush()
    assert store.path.read_bytes() == before


# Coalescing


async def test_burst_of_changes_is_one_write_of_the_latest_data(tmp_path: Path) -> None:
    """Many schedule_save calls inside the delay become one write, after it, of the last data."""
    delay = 0.3
    store = prepared(tmp_path, save_delay=delay).store("core.burst", 1)
    loop = asyncio.get_running_loop()
    calls = 0
    async with FileWatcher(store.path) as watcher:
        start = loop.time()
        # Bounded by time, not count, so a slow machine cannot push the burst past the deadline.
        while loop.time() - start < delay / 2:
            store.schedule_save(data_of(calls))
            calls += 1
            await asyncio.sleep(0.002)
        assert watcher.writes == []
        async with asyncio.timeout(10):
            await watcher.written.wait()
        await asyncio.sleep(2 * delay)  # a second write, if any, would come within another delay

    assert calls >= 5
    assert [write.data for write in watcher.writes] == [{"n": calls - 1}]
    assert watcher.writes[0].at >= start + delay
    assert store.has_pending_save is False


async def test_steady_stream_of_changes_is_still_written(tmp_path: Path) -> None:
    """The first call of a burst fixes the deadline, so changes that never pause reach disk."""
    delay = 0.1
    store = prepared(tmp_path, save_delay=delay).store("core.stream", 1)
    loop = asyncio.get_running_loop()
    calls = 0
    async with FileWatcher(store.path) as watcher:
        start = loop.time()
        while loop.time() - start < 8 * delay:
            store.schedule_save(data_of(calls))
            calls += 1
            await asyncio.sleep(0.005)
        during_stream = len(watcher.writes)
        await store.flush()

    assert during_stream >= 2
    seen = [write.data["n"] for write in watcher.writes]
    assert seen == sorted(set(seen))
    assert seen[-1] == calls - 1


async def test_manager_flush_writes_every_pending_save_at_once(tmp_path: Path) -> None:
    """On shutdown the manager writes what is pending without waiting for the delay."""
    manager = prepared(tmp_path, save_delay=3600)
    lights = manager.store("core.lights", 1)
    areas = manager.store("core.areas", 1)
    state = {"on": 1}
    lights.schedule_save(lambda: dict(state))
    areas.schedule_save(lambda: ["garden"])
    state["on"] = 2  # the data is taken when the write happens, not when it is scheduled
    assert lights.has_pending_save
    assert not lights.path.exists()

    await asyncio.wait_for(manager.flush(), timeout=10)

    assert read_envelope(lights.path)["data"] == {"on": 2}
    assert read_envelope(areas.path)["data"] == ["garden"]
    assert [lights.has_pending_save, areas.has_pending_save] == [False, False]


async def test_save_replaces_a_pending_delayed_save(tmp_path: Path) -> None:
    """A direct save wins: the older delayed data never lands on top of it."""
    delay = 0.1
    store = prepared(tmp_path, save_delay=delay).store("core.replace", 1)
    store.schedule_save(lambda: {"from": "schedule"})
    async with FileWatcher(store.path) as watcher:
        await store.save({"from": "save"})
        assert not store.has_pending_save
        await asyncio.sleep(3 * delay)

    assert [write.data for write in watcher.writes] == [{"from": "save"}]


# Files that do not parse


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"version": 1, "minor_version": 1, "key": "core.bad", "da', id="truncated"),
        pytest.param(b"\x80\x81 not text", id="not-utf8"),
        pytest.param(b"[1, 2, 3]", id="list"),
        pytest.param(b'{"version": 1, "key": "core.bad"}', id="no-data"),
        pytest.param(b'{"version": "1", "key": "core.bad", "data": {}}', id="version-text"),
        pytest.param(
            b'{"version": 1, "minor_version": 1, "key": "core.other", "data": {}}', id="key"
        ),
    ],
)
async def test_bad_file_stops_start_up_naming_it_and_is_kept(
    tmp_path: Path, payload: bytes
) -> None:
    """A file that is not this store's envelope is an error naming it, never a silent reset."""
    manager = prepared(tmp_path)
    store = manager.store("core.bad", 1, migrate=lambda version, minor, data: data)
    store.path.write_bytes(payload)

    with pytest.raises(StorageError) as caught:
        await store.load()

    assert str(store.path) in str(caught.value)
    assert caught.value.code == STORAGE_UNREADABLE
    await manager.flush()
    assert store.path.read_bytes() == payload


# Leftovers of interrupted writes


def test_prepare_removes_interrupted_writes_and_nothing_else(tmp_path: Path) -> None:
    """Start-up clears temporary files of writes cut short, and leaves every real file as it was."""
    storage = tmp_path / ".storage"
    storage.mkdir(mode=0o700)
    for name in (".core.x.tmp-123-abcd", ".auth.tmp-4242-0badcafe"):
        (storage / name).write_bytes(b'{"version": 1, "ke')
    real = {
        "core.x": b"x",
        "auth": b"a",
        ".hidden": b"h",
        "core.tmp-notes": b"n",
        "tmp-1": b"t",
    }
    for name, content in real.items():
        (storage / name).write_bytes(content)

    StorageManager(tmp_path).prepare()

    assert sorted(os.listdir(storage)) == sorted(real)
    for name, content in real.items():
        assert (storage / name).read_bytes() == content


# Crash safety


def wait_for_new_version(proc: subprocess.Popen[bytes], path: Path, after: int) -> None:
    """Wait until the writer has saved a version newer than ``after``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the writer exited with {proc.returncode} before it was killed")
        try:
            if read_envelope(path)["data"]["counter"] > after:
                return
        except (FileNotFoundError, ValueError):
            pass  # not written yet; a torn file is judged after the kill, with a clear message
        time.sleep(0.002)
    pytest.fail("the writer saved no new version within 30 seconds")


def kill_writer_repeatedly(config_dir: Path, rounds: int) -> int:
    """Kill the writer ``rounds`` times, checking the file after each; count mid-write kills."""
    storage = prepared(config_dir).path
    path = storage / storage_writer.KEY
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    last = -1
    mid_write = 0
    for round_ in range(rounds):
        where = f"round {round_} (seed {seed})"
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(config_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_new_version(proc, path, last)
            time.sleep(rng.uniform(0.003, 0.1))
        finally:
            proc.kill()
            _, stderr = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, f"{where}: {stderr.decode()}"
        mid_write += bool(temporary_files(storage))

        raw = path.read_bytes()
        try:
            envelope = json.loads(raw)
        except ValueError:
            pytest.fail(f"{where}: torn file of {len(raw)} bytes: {raw[:80]!r}…{raw[-80:]!r}")
        assert set(envelope) == {"version", "minor_version", "key", "data"}, where
        assert envelope["key"] == storage_writer.KEY, where
        counter = envelope["data"]["counter"]
        assert counter > last, where
        assert envelope["data"] == storage_writer.version_data(counter), where

        # What the next start-up does: clear the interrupted write, then load.
        manager = prepared(config_dir)
        assert temporary_files(storage) == [], where
        assert os.listdir(storage) == [storage_writer.KEY], where
        store = manager.store(storage_writer.KEY, storage_writer.VERSION)
        loaded = asyncio.run(store.load())
        assert loaded == storage_writer.version_data(counter), where
        last = counter
    return mid_write


def test_killed_writer_leaves_a_whole_version(tmp_path: Path) -> None:
    """SIGKILL at a random moment in a stream of saves leaves a whole version, never a torn one."""
    kill_writer_repeatedly(tmp_path, CRASH_ROUNDS)


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="set HUB_SLOW_TESTS=1 for the long crash loop")
def test_killed_writer_leaves_a_whole_version_long(tmp_path: Path) -> None:
    """The crash loop at length, which must also have cut some writes in the middle."""
    mid_write = kill_writer_repeatedly(tmp_path, CRASH_ROUNDS_SLOW)
    # Kills that all fell between writes would test nothing about the atomic rename.
    assert mid_write > 0


async def test_concurrent_commits_share_writes_and_each_returns_once_on_disk(
    tmp_path: Path,
) -> None:
    manager = StorageManager(tmp_path)
    manager.prepare()
    store = manager.store("core.group", 1)
    state: dict[str, int] = {}

    async def change(key: str) -> None:
        state[key] = len(state)
        await store.commit(lambda: dict(state))
        on_disk = json.loads(store.path.read_text())["data"]
        assert key in on_disk, "a commit returns only once its change is on disk"

    await asyncio.gather(*(change(f"k{i}") for i in range(500)))
    assert len(json.loads(store.path.read_text())["data"]) == 500
    assert store.write_count <= 5, f"{store.write_count} writes for 500 concurrent commits"

    for i in range(3):
        await change(f"sequential{i}")
    assert store.write_count <= 8


async def test_a_failed_commit_raises_to_every_caller_and_keeps_the_change(tmp_path: Path) -> None:
    manager = StorageManager(tmp_path)
    manager.prepare()
    store = manager.store("core.failing", 1)
    state = {"n": 1}
    await store.commit(lambda: dict(state))
    store.path.unlink()
    store.path.mkdir()  # os.replace onto a directory fails: a real write error, no mock
    state["n"] = 2
    results = await asyncio.gather(
        store.commit(lambda: dict(state)), store.commit(lambda: dict(state)), return_exceptions=True
    )
    assert all(isinstance(r, StorageError) for r in results)
    assert store.has_pending_save, "the change waits in memory for the next save"
    store.path.rmdir()
    await store.flush()
    assert json.loads(store.path.read_text())["data"] == {"n": 2}


@pytest.fixture
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every atomic write takes 50 ms, as on an SD card, so writes overlap the way they do there."""
    import hub.core.storage as storage

    real = storage.write_atomic

    def slow(path: Path, payload: bytes, **kw: Any) -> None:
        time.sleep(0.05)
        real(path, payload, **kw)

    monkeypatch.setattr(storage, "write_atomic", slow)


def _items(path: Path) -> list[str]:
    return list(json.loads(path.read_bytes())["data"]["items"])


@dataclass
class Overlap:
    """A commit being written, a second one waiting for the lock, and a delayed save due now."""

    store: Any
    items: list[str]
    snapshot: Callable[[], dict[str, Any]]
    first: asyncio.Task[None]
    second: asyncio.Task[None]


async def overlap(tmp_path: Path) -> Overlap:
    """Commit ``z``; while it is written, commit ``a`` and schedule a lazy save (entry health)."""
    manager = StorageManager(tmp_path)
    manager.prepare()
    store = manager.store("core.test", 1)
    items = ["z"]

    def snapshot() -> dict[str, Any]:
        return {"items": list(items)}

    first = asyncio.create_task(store.commit(snapshot))  # holds the write lock while writing
    await asyncio.sleep(0.01)
    items.append("a")
    second = asyncio.create_task(store.commit(snapshot))  # waits for the lock
    await asyncio.sleep(0)
    store.schedule_save(snapshot, delay=0)
    return Overlap(store, items, snapshot, first, second)


async def test_a_delayed_save_never_overwrites_a_newer_commit(
    tmp_path: Path, slow_disk: None
) -> None:
    race = await overlap(tmp_path)
    await asyncio.sleep(0.005)  # the delayed save is under way
    race.items.append("b")
    await race.store.commit(race.snapshot)
    assert _items(race.store.path) == ["z", "a", "b"], "acknowledged means on disk"
    await asyncio.gather(race.first, race.second)
    await race.store.flush()
    assert _items(race.store.path) == ["z", "a", "b"], "no older snapshot landed afterwards"


async def test_a_commit_returns_only_once_its_change_is_on_disk(
    tmp_path: Path, slow_disk: None
) -> None:
    race = await overlap(tmp_path)  # the delayed save takes the pending change first
    await race.second
    assert _items(race.store.path) == ["z", "a"]
    await race.first


async def test_an_unencodable_change_is_a_refused_write_and_memory_stays_as_it_was(
    tmp_path: Path,
) -> None:
    manager = prepared(tmp_path)
    items = CommittedItems[str, Any](manager.store("core.items", 1), dict)
    store = items.store
    bad = {"tags": {"a", "b"}}  # a set: JSON has no such thing

    await items.set_item("a", {"name": "kept"})
    served = items.value
    before = store.path.read_bytes()
    with pytest.raises(StorageEncodingError) as refused:
        await items.set_item("b", bad)
    assert (refused.value.code, refused.value.http_status) == ("storage_unencodable", 422)
    assert "TypeError: Object of type set is not JSON serializable" in refused.value.message
    assert items.value == {"a": {"name": "kept"}}, "the refused change is never served"
    assert items.value is served, "nothing was swapped in, and nothing put back"
    assert store.path.read_bytes() == before
    with pytest.raises(StorageEncodingError):  # replacing an existing item leaves it as it was
        await items.set_item("a", bad)
    assert items.value == {"a": {"name": "kept"}}

    await items.set_item("c", {"name": "later"})  # later writes go on
    assert items.value == {"a": {"name": "kept"}, "c": {"name": "later"}}
    assert served == {"a": {"name": "kept"}}, "a value once served is never changed in place"
    assert read_envelope(store.path)["data"] == items.value
    await manager.flush()
    assert read_envelope(store.path)["data"] == items.value, "the shutdown flush writes memory"


async def test_a_change_refused_by_the_disk_is_never_served_and_the_retry_writes_memory(
    tmp_path: Path,
) -> None:
    manager = prepared(tmp_path)
    manager.retry_delays = (3600.0,)  # retried by hand below, never by the clock
    items = CommittedItems[str, int](manager.store("core.items", 1), dict)
    await items.set_item("a", 1)
    away = tmp_path / "away"
    manager.path.rename(away)  # the directory is gone: every write is refused (root or not)
    try:
        with pytest.raises(StorageError):
            await items.change_item("a", lambda n: None if n is None else n + 1)
        with pytest.raises(StorageError):
            await items.set_item("b", 2)
        assert items.value == {"a": 1}
    finally:
        away.rename(manager.path)
    await items.store.flush()
    assert read_envelope(items.store.path)["data"] == {"a": 1}, "the retry writes the old state"


async def test_concurrent_changes_share_a_write_and_each_is_served_once_on_disk(
    tmp_path: Path,
) -> None:
    manager = prepared(tmp_path)
    state = Committed[tuple[str, ...]](manager.store("core.items", 1), (), list)

    def adding(name: str) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
        return lambda names: (*names, name)

    await asyncio.gather(*(state.change(adding(f"n{n}")) for n in range(5)))
    assert sorted(state.value) == [f"n{n}" for n in range(5)]
    assert read_envelope(state.store.path)["data"] == list(state.value)
    assert state.store.write_count < 5, "a burst of commits shares writes"


def test_with_item_builds_a_new_mapping_in_order() -> None:
    items = {"a": 1, "b": 2}
    assert list(with_item(items, "c", lambda _: 3)) == ["a", "b", "c"]
    assert with_item(items, "a", lambda _: None) == {"b": 2}
    assert list(with_item(items, "a", lambda n: 9)) == ["a", "b"]
    assert items == {"a": 1, "b": 2}


@pytest.mark.parametrize("bad", [{"name": "x\ud800"}, {"\udc80": 1}])
async def test_a_lone_surrogate_is_stored_escaped_and_holds_up_no_later_change(
    tmp_path: Path, bad: dict[str, Any]
) -> None:
    # Integration text (a health message, an error) may carry one; a delayed save of it must
    # neither fail nor keep every later change of anyone's from being saved.
    manager = prepared(tmp_path)
    items = CommittedItems[str, Any](manager.store("core.items", 1), dict)
    store = items.store

    items.change_soon(lambda current: {**current, "b": bad})
    await items.set_item("c", {"name": "later"})
    assert read_envelope(store.path)["data"] == {"b": bad, "c": {"name": "later"}}
    assert store.path.read_bytes().isascii(), "escaped, so the file stays valid UTF-8"
    reopened = prepared(tmp_path).store("core.items", 1)
    assert await reopened.load() == {"b": bad, "c": {"name": "later"}}


async def test_save_of_unencodable_data_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    manager = prepared(tmp_path)
    store = manager.store("core.saved", 1)
    await store.save({"n": 1})
    with pytest.raises(StorageEncodingError):
        await store.save({"n": object()})
    assert read_envelope(store.path)["data"] == {"n": 1}
    assert not store.has_pending_save


async def test_a_stored_file_reads_an_item_a_line_and_decodes_as_written(tmp_path: Path) -> None:
    store = prepared(tmp_path).store("core.things", 1)
    items = [
        {"id": n, "name": f"thing {n}", "tags": ["a", "b"], "nested": {"x": [n]}} for n in range(3)
    ]
    data = {"items": items, "by_id": {"1": {"n": 1}}, "empty": [], "odd": {7: None, None: "é"}}
    await store.save(data)
    text = (tmp_path / ".storage" / "core.things").read_text()
    assert json.loads(text)["data"] == json.loads(json.dumps(data))
    lines = text.splitlines()
    # Each item whole on its own line, as a person paging through the file expects.
    for item in items:
        assert f"      {json.dumps(item, ensure_ascii=False)}," in lines or (
            f"      {json.dumps(item, ensure_ascii=False)}" in lines
        )
    assert '  "key": "core.things",' in lines


@pytest.mark.parametrize(
    "value",
    [{"x": {1, 2}}, {"ok": [1], (1, 2): 3}, {"nan": float("nan"), "deep": [[[[{"z": 1j}]]]]}],
)
def test_what_json_refuses_the_readable_form_refuses_alike(value: Any) -> None:
    with pytest.raises(TypeError) as plain:
        json.dumps(value)
    with pytest.raises(TypeError) as readable:
        readable_json(value, ensure_ascii=False)
    assert str(readable.value) in {
        str(plain.value),
        "keys must be str, int, float, bool or None, not tuple",
    }
