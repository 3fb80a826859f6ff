"""Versioned JSON storage files under ``.storage/``: atomic, durable, migrated, coalesced, retried."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

from hub.core.disk import DiskFaultError, WriteHealth, fault_error, os_fault
from hub.core.errors import STORAGE_UNENCODABLE, STORAGE_WRITE_FAILED, StorageError

_LOGGER = logging.getLogger(__name__)

STORAGE_DIR: Final = ".storage"
DEFAULT_SAVE_DELAY: Final = 1.0
RETRY_DELAYS: Final = (5.0, 15.0, 30.0, 60.0)
"""Seconds before each retry of a save the disk refused; the last repeats until it succeeds."""
SHUTDOWN_FLUSH_TIMEOUT: Final = 10.0
"""Seconds the shutdown flush may take: a container runtime kills a stopping process soon after."""
_TMP_MARK: Final = ".tmp-"

MigrateFunc = Callable[[int, int, Any], Any]
"""A pure function ``(old_version, old_minor_version, old_data) -> new_data``."""


def readable_json(value: Any, *, ensure_ascii: bool, levels: int = 3) -> str:
    """``value`` as JSON with a member or item a line down to ``levels`` deep, each deeper value
    whole on its line (a stored entry, say): a file a person can read, written by the C encoder.

    ``json.dumps(indent=2)`` falls back to the pure-Python encoder: 28 ms on the event loop for a
    file of 2,000 entries, against 10 ms this way. It raises what ``json.dumps`` raises.
    """
    parts: list[str] = []
    _write_json(value, parts, "\n", ensure_ascii, levels)
    return "".join(parts)


def _write_json(value: Any, parts: list[str], pad: str, ensure_ascii: bool, levels: int) -> None:
    if not levels or not isinstance(value, dict | list) or not value:
        parts.append(json.dumps(value, ensure_ascii=ensure_ascii))
        return
    inner = pad + "  "
    keyed = isinstance(value, dict)
    members = value.items() if isinstance(value, dict) else enumerate(value)
    parts.append("{" if keyed else "[")
    for index, (key, item) in enumerate(members):
        parts.append(inner if index == 0 else "," + inner)
        if keyed:
            parts.append(json.dumps(_key(key), ensure_ascii=ensure_ascii) + ": ")
        _write_json(item, parts, inner, ensure_ascii, levels - 1)
    parts.append(pad + ("}" if keyed else "]"))


def _key(key: object) -> str:
    """A member's name as ``json.dumps`` writes it."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def write_atomic(path: Path, payload: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``payload`` so a crash leaves the old or the new file, never a mix.

    A temporary file in the same directory is written and fsynced, renamed over the target with
    ``os.replace``, and the directory is fsynced so the rename itself survives a power cut.
    """
    directory = path.parent
    tmp = directory / f".{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a rename or a create) to disk."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _describe_os_error(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "the disk is full"
    if err.errno == errno.EROFS:
        return "the file system is read-only"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return err.strerror or type(err).__name__


class StorageEncodingError(StorageError):
    """A change holds something JSON cannot write (a set, an object, a cycle): refused."""

    code = STORAGE_UNENCODABLE
    http_status = 422

    def __init__(self, key: str, err: Exception, *, snapshot: bool = False) -> None:
        # json's own words name a type or a cycle, never a value, so they are safe to show.
        reason = (
            f"its snapshot failed ({type(err).__name__})"
            if snapshot
            else f"{type(err).__name__}: {str(err)[:200]}"
        )
        super().__init__(f"The change cannot be saved in {key}: {reason}.")


class StorageManager:
    """Owns the ``.storage/`` directory and every store in it, so shutdown can flush them all."""

    def __init__(self, config_dir: Path, *, save_delay: float = DEFAULT_SAVE_DELAY) -> None:
        self.path = config_dir / STORAGE_DIR
        self.save_delay = save_delay
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self.flush_timeout = SHUTDOWN_FLUSH_TIMEOUT
        self.health = WriteHealth(f"Storage files in {self.path}")
        self.closed = False
        """Set by the shutdown flush: from then on a failed save is reported, never retried."""
        self._stores: dict[str, Store] = {}

    def prepare(self) -> None:
        """Create ``.storage/`` (mode 0700) and remove temporary files left by interrupted writes."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for leftover in self.path.glob(f".*{_TMP_MARK}*"):
            _LOGGER.info("Removing %s, left by an interrupted write", leftover.name)
            with contextlib.suppress(OSError):
                leftover.unlink()

    def path_of(self, key: str) -> Path:
        """The file of ``key``'s store, whether or not its store was made yet."""
        return self.path / key

    def store(
        self,
        key: str,
        version: int,
        *,
        minor_version: int = 1,
        migrate: MigrateFunc | None = None,
    ) -> Store:
        """Return the store for ``key``; each key has exactly one store per manager."""
        if key in self._stores:
            raise ValueError(f"storage key {key!r} is already in use")
        store = Store(self, key, version, minor_version=minor_version, migrate=migrate)
        self._stores[key] = store
        return store

    def write_error(self, path: Path, err: OSError) -> StorageError:
        """The typed error for a failed write of ``path``; a full or read-only disk is recorded."""
        state = os_fault(err)
        if state is None:
            return StorageError(
                f"Cannot write {path}: {_describe_os_error(err)}. The previous version is kept.",
                code=STORAGE_WRITE_FAILED,
            )
        # The config directory is what a self-hoster knows and backs up; name it, not .storage.
        fault: DiskFaultError = fault_error(state, self.path.parent)
        self.health.failed(fault)
        return fault

    async def settle(self) -> None:
        """Write every pending delayed save now and wait for writes in flight; a refusal raises."""
        await asyncio.gather(*(store.flush() for store in list(self._stores.values())))

    @contextlib.asynccontextmanager
    async def quiesced(self) -> AsyncIterator[None]:
        """Every pending save written, and no write in flight until the block ends: the files on
        disk are one consistent state meanwhile (a backup copies them). A refusal raises."""
        await self.settle()
        async with contextlib.AsyncExitStack() as held:
            for key in sorted(self._stores):  # one order everywhere: two holders never deadlock
                await held.enter_async_context(self._stores[key].write_lock)
            yield

    async def flush(self) -> None:
        """Write every pending save once, on shutdown; failures are logged, never raised or retried."""
        self.closed = True
        stores = list(self._stores.values())
        owed = [store.key for store in stores if store.has_pending_save]
        timeout = self.flush_timeout
        try:
            async with asyncio.timeout(timeout):
                results = await asyncio.gather(
                    *(store.flush() for store in stores), return_exceptions=True
                )
        except TimeoutError:
            # A disk that stops answering must not keep the process from exiting.
            _LOGGER.error(
                "Saving storage files on shutdown took over %g s; gave up (unsaved changes to %s "
                "may be lost)",
                timeout,
                ", ".join(owed) or "none",
            )
            return
        for store, result in zip(stores, results, strict=True):
            if isinstance(result, DiskFaultError):
                _LOGGER.error(
                    "%s was not saved on shutdown (%s): changes since its last save are lost",
                    store.key,
                    result.reason,
                )
            elif isinstance(result, StorageError):
                _LOGGER.error(
                    "%s was not saved on shutdown; changes since its last save are lost. %s",
                    store.key,
                    result.message,
                )
            elif isinstance(result, BaseException):
                _LOGGER.error("Could not flush %s on shutdown: %r", store.path, result)


class Store:
    """One versioned JSON file: ``{"version", "minor_version", "key", "data"}``."""

    def __init__(
        self,
        manager: StorageManager,
        key: str,
        version: int,
        *,
        minor_version: int = 1,
        migrate: MigrateFunc | None = None,
    ) -> None:
        self.key = key
        self.version = version
        self.minor_version = minor_version
        self.path = manager.path_of(key)
        self._manager = manager
        self._migrate = migrate
        self._write_lock = asyncio.Lock()
        self._pending: Callable[[], Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._batch: asyncio.Future[None] | None = None
        self._failures = 0  # consecutive failed writes: the current failure episode
        self.write_count = 0
        """Writes that reached the disk since this store was made (for diagnostics and benchmarks)."""

    async def load(self) -> Any | None:
        """Return the stored data migrated to the current version, or ``None`` if there is no file."""
        try:
            raw = await asyncio.to_thread(self.path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StorageError(f"Cannot read {self.path}: {_describe_os_error(err)}") from err
        return self._decode(raw)

    def _decode(self, raw: bytes) -> Any:
        where = f"{self.path}"
        try:
            envelope = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StorageError(
                f"{where} is not valid JSON ({err}). The hub will not start over it, so nothing is "
                "lost: restore the file from a backup, or move it away to start that part afresh."
            ) from None
        if not isinstance(envelope, dict) or not {"version", "key", "data"} <= envelope.keys():
            raise StorageError(
                f"{where} is not a hub storage file (expected the keys version, key and data)."
            )
        if envelope["key"] != self.key:
            raise StorageError(f"{where} holds key {envelope['key']!r}, expected {self.key!r}.")
        version = envelope["version"]
        minor = envelope.get("minor_version", 1)
        if type(version) is not int or type(minor) is not int:  # bool is an int to isinstance
            raise StorageError(f"{where} has a version that is not a number.")
        data = envelope["data"]
        if version > self.version:
            raise StorageError(
                f"{where} was written by a newer hub (version {version}, this hub reads up to "
                f"{self.version}). Upgrade the hub, or restore a backup made by this version."
            )
        if version == self.version and minor >= self.minor_version:
            return data  # a newer minor version is backward compatible by definition
        if self._migrate is None:
            raise StorageError(
                f"{where} is at version {version}.{minor} and there is no migration to "
                f"{self.version}.{self.minor_version}."
            )
        try:
            migrated = self._migrate(version, minor, data)
        except Exception as err:
            _LOGGER.exception("Migration of %s failed", where)
            raise StorageError(
                f"{where} could not be migrated from version {version}.{minor} to "
                f"{self.version}.{self.minor_version}: {type(err).__name__}. The file is unchanged."
            ) from None
        _LOGGER.info(
            "Migrated %s from %s.%s to %s.%s",
            self.key,
            version,
            minor,
            self.version,
            self.minor_version,
        )
        return migrated

    def _encode(self, data: Any) -> bytes:
        envelope = {
            "version": self.version,
            "minor_version": self.minor_version,
            "key": self.key,
            "data": data,
        }
        try:
            text = readable_json(envelope, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as err:
            # As a StorageError, every caller's change stays unserved as it does for a refusing
            # disk, instead of memory keeping what was never saved.
            raise StorageEncodingError(self.key, err) from None
        try:
            return text.encode()
        except UnicodeEncodeError:
            # A lone surrogate (from an integration's error text, say) is not UTF-8. Escaped as
            # JSON's \uXXXX it reads back as the same string: nothing refused, nothing lost, and
            # no later change of anyone's is held up behind it.
            return readable_json(envelope, ensure_ascii=True).encode()

    def _take(self, data_func: Callable[[], Any]) -> bytes:
        """The snapshot ``data_func`` makes, encoded; any failure of either is a refused write."""
        try:
            data = data_func()
        except Exception as err:  # noqa: BLE001  # a snapshot that cannot be taken is not saved
            raise StorageEncodingError(self.key, err, snapshot=True) from None
        return self._encode(data)

    async def save(self, data: Any) -> None:
        """Write ``data`` now, replacing a pending delayed save; raises ``StorageError`` on failure."""
        self._cancel_timer()
        earlier, self._pending = self._pending, None
        try:
            # Serialized on the loop, so later mutations of ``data`` cannot tear what is written.
            await self._write(self._encode(data))
        except StorageError as err:
            if self._pending is None:
                self._pending = earlier  # a delayed save this one replaced is still owed
            self._failed(err)
            raise

    async def commit(self, data_func: Callable[[], Any]) -> None:
        """Save durably and return once the change is on disk; concurrent commits share writes.

        Group commit: every caller that arrives while a write is in flight joins the next one,
        whose snapshot (``data_func()``) is taken when it starts. A burst of changes costs a few
        writes, yet no caller is answered before its change is on disk.
        """
        self._pending = data_func
        self._cancel_timer()
        batch = self._batch
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._batch = loop.create_future()
            task = loop.create_task(self._write_batch(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.shield(batch)

    async def _write_batch(self, batch: asyncio.Future[None]) -> None:
        async with self._write_lock:
            if self._batch is batch:
                self._batch = None  # whoever commits from now on needs the next write
            data_func, self._pending = self._pending, None
            try:
                if data_func is not None:  # None: a flush already wrote every joined change
                    await self._write_unlocked(self._take(data_func))
            except Exception as err:  # noqa: BLE001  # handed to every waiting caller
                if self._pending is None:
                    # Callers' staged changes are never served; whatever else changed is still owed.
                    self._pending = data_func
                if isinstance(err, StorageError):
                    self._failed(err)
                batch.set_exception(err)
                return
            batch.set_result(None)

    def schedule_save(self, data_func: Callable[[], Any], delay: float | None = None) -> None:
        """Save soon: bursts of calls within ``delay`` seconds coalesce into one write.

        The first call of a burst fixes the deadline, so a steady stream of changes is still
        written at least every ``delay`` seconds; ``data_func`` is called when the write happens.
        """
        self._pending = data_func
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._manager.save_delay if delay is None else delay
        self._deadline = loop.time() + wait
        self._timer = loop.call_at(self._deadline, self._start_delayed_write)

    @property
    def write_lock(self) -> asyncio.Lock:
        """Held while this store's file is written; ``StorageManager.quiesced`` takes them all."""
        return self._write_lock

    @property
    def has_pending_save(self) -> bool:
        """Whether a delayed save has not reached the disk yet."""
        return self._pending is not None

    def _start_delayed_write(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self._delayed_write())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delayed_write(self) -> None:
        with contextlib.suppress(StorageError):  # logged and retried by ``_failed``
            await self.flush()

    async def flush(self) -> None:
        """Write a pending delayed save now, if there is one, and wait for any write in flight."""
        self._cancel_timer()
        # The snapshot is taken under the write lock, as a group commit takes its own: taken
        # before, it could land after a newer commit's write, or leave that commit's batch
        # thinking its change was already on disk.
        async with self._write_lock:
            data_func, self._pending = self._pending, None
            if data_func is None:
                return
            try:
                await self._write_unlocked(self._take(data_func))
            except StorageError as err:
                if self._pending is None:
                    self._pending = data_func
                self._failed(err)
                raise

    def _failed(self, err: StorageError) -> None:
        """Log the first failure of an episode, and retry what is owed with a growing delay."""
        self._failures += 1
        delays = self._manager.retry_delays
        delay = delays[min(self._failures - 1, len(delays) - 1)]
        retry = not self._manager.closed and self._pending is not None
        if self._failures == 1:
            # A full disk's whole story is logged once by ``WriteHealth``; here, what it cost.
            _LOGGER.warning(
                "%s not saved: %s.%s",
                self.key,
                err.reason if isinstance(err, DiskFaultError) else err.message.rstrip("."),
                f" Unsaved changes stay in memory; retrying in {delay:g} s." if retry else "",
            )
        else:
            _LOGGER.debug("%s still not saved (attempt %d): %s", self.key, self._failures, err)
        if retry and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay, self._start_delayed_write)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _write(self, payload: bytes) -> None:
        async with self._write_lock:
            await self._write_unlocked(payload)

    async def _write_unlocked(self, payload: bytes) -> None:
        start = time.perf_counter()
        try:
            await asyncio.to_thread(write_atomic, self.path, payload)
        except OSError as err:
            raise self._manager.write_error(self.path, err) from err
        self.write_count += 1
        self._manager.health.succeeded()
        if self._failures:
            _LOGGER.info("%s saved after %d failed attempt(s)", self.key, self._failures)
            self._failures = 0
        _LOGGER.debug(
            "Saved %s (%d bytes) in %.1f ms",
            self.key,
            len(payload),
            (time.perf_counter() - start) * 1000,
        )

    async def remove(self) -> None:
        """Delete the file and forget any pending save."""
        self._cancel_timer()
        self._pending = None
        async with self._write_lock:
            try:
                await asyncio.to_thread(self.path.unlink)
            except FileNotFoundError:
                pass
            except OSError as err:
                raise self._manager.write_error(self.path, err) from err
