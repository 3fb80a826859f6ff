"""Backups inside a running hub: made on request or on a schedule, listed, kept, and restored from
the first page. Every file and database step runs on a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from hub.config import BackupsConfig
from hub.core.database import Database
from hub.core.redact import SECRETS
from hub.core.scheduler import Scheduler
from hub.core.storage import StorageManager
from hub.ops.backup_errors import BackupNotFoundError
from hub.ops.backup_names import PASSPHRASE_ENV, SUFFIX
from hub.ops.repairs import Repairs

if TYPE_CHECKING:  # what makes and reads archives is imported when one is first touched
    from hub.ops.backup import BackupKeys, CreatedBackup
    from hub.ops.backup_format import Header, Secret
    from hub.ops.backup_restore import Restored

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

JOB: Final = "backup"
AUTO_PREFIX: Final = "hub-auto"
DEFAULT_HOURS: Final = 24.0
JOB_TIMEOUT: Final = 6 * 3600.0
REPAIR_ID: Final = "backup_failed"
BACKGROUND_NICE: Final = 10
"""How much lower than the hub a backup's worker thread runs (the nice value added)."""
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


@dataclass(frozen=True, slots=True)
class StoredBackup:
    """An archive in the backup directory, as its clear header describes it."""

    name: str
    size: int
    created_at: str
    include_history: bool
    automatic: bool
    mtime_ns: int = 0

    def public(self) -> dict[str, Any]:
        """What the REST API shows."""
        return {
            "name": self.name,
            "size": self.size,
            "created_at": self.created_at,
            "include_history": self.include_history,
            "automatic": self.automatic,
        }


class Backups:
    """The hub's backups: one at a time, in ``backups.directory``."""

    def __init__(
        self,
        config_dir: Path,
        settings: BackupsConfig,
        storage: StorageManager,
        database: Database,
        env: Mapping[str, str],
    ) -> None:
        self.config_dir = config_dir
        self.settings = settings
        self.directory = settings.resolved_directory(config_dir)
        self._storage = storage
        self._database = database
        self._passphrase = env.get(PASSPHRASE_ENV) or None
        if self._passphrase is not None:
            SECRETS.add(self._passphrase)  # redacted from any log line that would quote it
        self._env = env
        self._lock = asyncio.Lock()
        self.repairs: Repairs | None = None
        """Set where the app is wired, once the repairs registry exists."""

    @property
    def schema_version(self) -> int:
        """This hub's database schema version: a backup of a later one is refused."""
        return len(self._database.migrations)

    @property
    def interval_hours(self) -> float:
        """Hours between scheduled backups (0: off)."""
        hours = self.settings.schedule_hours
        return DEFAULT_HOURS if hours is None else hours

    async def keys(self) -> BackupKeys:
        """The secrets a new backup is sealed for: the passphrase and the recovery public key."""
        from hub.ops.backup import BackupKeys
        from hub.ops.recovery_key import read_recovery_public

        recovery = await asyncio.to_thread(read_recovery_public, self.config_dir)
        return BackupKeys(passphrase=self._passphrase, recovery=recovery)

    async def status(self) -> dict[str, Any]:
        """Stored backups, the schedule, and which secrets exist."""
        keys = await self.keys()
        stored = await asyncio.to_thread(self._scan)
        return {
            "backups": [backup.public() for backup in stored],
            "directory": str(self.directory),
            "schedule": {
                "hours": self.interval_hours,
                "keep": self.settings.keep,
                "include_history": self.settings.include_history,
                "active": self.interval_hours > 0
                and (keys.passphrase is not None or keys.recovery is not None),
            },
            "recovery_key": None
            if keys.recovery is None
            else {"fingerprint": keys.recovery.fingerprint, "created_at": keys.recovery.created_at},
            "passphrase": keys.passphrase is not None,
        }

    def _scan(self) -> list[StoredBackup]:
        from hub.ops.backup_format import read_header

        found = []
        with contextlib.suppress(FileNotFoundError):
            for path in self.directory.iterdir():
                if not path.name.endswith(SUFFIX) or not _NAME.match(path.name):
                    continue
                try:
                    with path.open("rb") as handle:
                        header, _ = read_header(handle)
                    stat = path.stat()
                except Exception as err:  # noqa: BLE001  # a foreign or damaged file is skipped
                    _LOGGER.debug("Skipping %s: %s", path.name, err)
                    continue
                found.append(_stored(path.name, stat.st_size, stat.st_mtime_ns, header))
        return sorted(found, key=lambda b: (b.created_at, b.mtime_ns), reverse=True)

    async def create(self, *, include_history: bool, automatic: bool = False) -> CreatedBackup:
        """Make a backup in the directory; one at a time."""
        from hub.ops.backup import backup_name, build_backup, read_state_files

        async with self._lock:
            keys = await self.keys()
            keys.require()  # before any work: a typed refusal when there is nothing to seal for
            async with self._storage.quiesced():
                files = await asyncio.to_thread(read_state_files, self.config_dir, self._env)
            name = backup_name(
                datetime.now(UTC),
                prefix=AUTO_PREFIX if automatic else "hub",
                include_history=include_history,
            )
            output = await asyncio.to_thread(_unused, self.directory / name)
            created = await in_background(
                partial(
                    build_backup,
                    self.config_dir,
                    files,
                    output,
                    keys=keys,
                    include_history=include_history,
                )
            )
        _LOGGER.info("Backup %s made: %d bytes in %.1f s", name, created.size, created.seconds)
        return created

    def path_of(self, name: str) -> Path:
        """The stored archive called ``name``; ``BackupNotFoundError`` for anything else."""
        if not _NAME.match(name) or not name.endswith(SUFFIX):
            raise BackupNotFoundError(f"no backup {name[:100]!r}")
        path = self.directory / name
        if not path.is_file():
            raise BackupNotFoundError(f"no backup {name!r}")
        return path

    async def delete(self, name: str) -> None:
        """Remove a stored archive."""
        path = await asyncio.to_thread(self.path_of, name)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            raise BackupNotFoundError(f"no backup {name!r}") from None

    async def new_recovery_key(self) -> str:
        """Make a new key pair, keep its public half, and return the recovery key (shown once)."""
        from hub.ops.recovery_key import new_recovery_key, write_recovery_public

        text, public = new_recovery_key()
        await asyncio.to_thread(write_recovery_public, self.config_dir, public)
        _LOGGER.warning("A new backup recovery key %s was made", public.fingerprint)
        return text

    async def stage_restore(self, archive: Path, secret: Secret) -> Restored:
        """Verify an uploaded archive and stage it for the next start."""
        from hub.ops.backup_restore import stage

        async with self._lock:
            return await asyncio.to_thread(
                stage, archive, self.config_dir, secret, schema_version=self.schema_version
            )

    def schedule(self, scheduler: Scheduler) -> None:
        """Add the scheduled backup job (nothing when ``schedule_hours`` is 0)."""
        hours = self.interval_hours
        if hours <= 0:
            return
        scheduler.add_interval_job(
            JOB, self.run_scheduled, seconds=hours * 3600, timeout=JOB_TIMEOUT
        )

    async def run_scheduled(self) -> None:
        """One scheduled backup and the retention after it; a failure raises the repair."""
        keys = await self.keys()
        if keys.passphrase is None and keys.recovery is None:
            _LOGGER.debug("No scheduled backup: no recovery key and no %s", PASSPHRASE_ENV)
            return
        try:
            await self.create(include_history=self.settings.include_history, automatic=True)
            removed = await asyncio.to_thread(self._retain)
        except Exception as err:
            reason = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            _LOGGER.error("The scheduled backup failed: %s", reason)
            if self.repairs is not None:
                self.repairs.raise_(
                    REPAIR_ID,
                    issue_id=REPAIR_ID,
                    severity="error",
                    params={"reason": str(reason)[:300]},
                )
            raise
        if removed:
            _LOGGER.info("Removed %d old scheduled backup(s)", len(removed))
        if self.repairs is not None:
            self.repairs.clear(REPAIR_ID)

    def _retain(self) -> list[str]:
        """Delete scheduled backups past the newest ``keep``; backups made by hand stay."""
        automatic = [b for b in self._scan() if b.automatic]
        removed = []
        for backup in automatic[self.settings.keep :]:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / backup.name).unlink()
            removed.append(backup.name)
        return removed


async def in_background(work: Callable[[], T]) -> T:
    """Run ``work`` on a thread of its own at a lower CPU priority: copying and vacuuming the
    database is seconds of CPU, and on a small machine the event loop must win every time."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, err: BaseException | None) -> None:
        if future.done():
            return  # the caller went away; the thread finished its work regardless
        if err is not None:
            future.set_exception(err)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        with contextlib.suppress(OSError, AttributeError):
            # On Linux a thread id is a process id to setpriority: only this thread is lowered.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        try:
            result = work()
        except BaseException as err:  # noqa: BLE001  # handed to the awaiting caller
            loop.call_soon_threadsafe(settle, None, err)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="hub-backup", daemon=True).start()
    return await future


def _unused(path: Path) -> Path:
    """``path``, or ``name-2.hubbackup`` and so on when two backups fall in one second."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(path.name.removesuffix(SUFFIX) + f"-{number}{SUFFIX}")
    return candidate


def _stored(name: str, size: int, mtime_ns: int, header: Header) -> StoredBackup:
    return StoredBackup(
        name=name,
        size=size,
        created_at=header.created_at,
        include_history=header.include_history,
        automatic=name.startswith(AUTO_PREFIX + "-"),
        mtime_ns=mtime_ns,
    )
