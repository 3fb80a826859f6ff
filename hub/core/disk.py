"""A full or read-only disk: typed errors a person can act on, and the write health ``/api/health`` shows."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Final, Literal

from hub.core.errors import STORAGE_FULL, STORAGE_READ_ONLY, StorageError, error_key

_LOGGER = logging.getLogger(__name__)

WriteState = Literal["ok", "full", "read_only"]

OK: Final = "ok"
FULL: Final = "full"
READ_ONLY: Final = "read_only"

# Primary SQLite result codes (the low byte of an extended code).
_SQLITE_READONLY: Final = 8
_SQLITE_IOERR: Final = 10
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14


class DiskFaultError(StorageError):
    """A write failed because of the disk itself, not because of what was written."""

    state: ClassVar[WriteState] = FULL
    reason: ClassVar[str] = "the disk is full"


class StorageFullError(DiskFaultError):
    """No space left (``ENOSPC``, a quota, ``SQLITE_FULL``): 507 Insufficient Storage."""

    code = STORAGE_FULL
    http_status = 507
    state = FULL


class StorageReadOnlyError(DiskFaultError):
    """The file system is read-only (``EROFS``, ``SQLITE_READONLY``): 503, it needs a person."""

    code = STORAGE_READ_ONLY
    http_status = 503
    state = READ_ONLY
    reason = "the file system is read-only"


def fault_error(state: WriteState, where: Path) -> DiskFaultError:
    """The error for a write refused by the disk holding ``where``, in words a self-hoster acts on."""
    if state == READ_ONLY:
        return StorageReadOnlyError(
            f"The file system holding {where} is read-only (a disk error can make the system "
            "switch it to read-only), so the change was not saved and the previous version is "
            "kept. Make it writable again (check the disk, remount it read-write) and try again.",
            key=error_key(STORAGE_READ_ONLY),
            where=str(where),
        )
    return StorageFullError(
        f"The disk holding {where} is full, so the change was not saved and the previous "
        "version is kept. Free some space and try again.",
        key=error_key(STORAGE_FULL),
        where=str(where),
    )


def os_fault(err: OSError) -> WriteState | None:
    """``full`` or ``read_only`` when an ``OSError`` comes from the disk's state, else ``None``."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return FULL
    if err.errno == errno.EROFS:
        return READ_ONLY
    return None


def is_disk_error(err: BaseException) -> bool:
    """Whether a SQLite error is about the disk (full, read-only, I/O), not the statement."""
    code = getattr(err, "sqlite_errorcode", None)
    if not isinstance(err, sqlite3.Error) or not isinstance(code, int):
        return False
    return code & 0xFF in (_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN)


def sqlite_fault(err: sqlite3.Error, path: Path) -> WriteState | None:
    """``full`` or ``read_only`` when SQLite refused a write because of the disk, else ``None``."""
    if not is_disk_error(err):
        return None
    primary = err.sqlite_errorcode & 0xFF
    if primary == _SQLITE_FULL:
        return FULL
    if primary == _SQLITE_READONLY:
        return READ_ONLY
    # SQLite reports EROFS (a file system remounted read-only after errors) as a generic I/O
    # error; the file system's own flags tell the two apart without guessing from the message.
    try:
        stat = os.statvfs(path.parent)
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return READ_ONLY
    if stat.f_bavail == 0:
        return FULL
    return None


class WriteHealth:
    """Whether writes currently reach the disk; each change of state is logged once."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._state: WriteState = OK
        self.on_change: list[Callable[[WriteState], None]] = []
        """Called with the new state when an episode starts or ends (the repairs watch it)."""

    @property
    def state(self) -> WriteState:
        """``ok``, or what the last failed write said until a write succeeds again."""
        return self._state

    def failed(self, error: DiskFaultError) -> None:
        """Record a write the disk refused; logs at the start of an episode, not at every write."""
        if self._state != error.state:
            _LOGGER.error(
                "%s: %s Reads keep working; writes are refused until then.",
                self.what,
                error.message,
            )
        changed, self._state = self._state != error.state, error.state
        if changed:
            self._announce()

    def succeeded(self) -> None:
        """Record a write that reached the disk, ending an episode."""
        if self._state != OK:
            _LOGGER.warning("%s: writes reach the disk again (it was %s)", self.what, self._state)
            self._state = OK
            self._announce()

    def _announce(self) -> None:
        for callback in list(self.on_change):
            try:
                callback(self._state)
            except Exception:  # a watcher's bug must not fail the write that reported the state
                _LOGGER.exception("A write-health watcher failed")


def worst(*states: WriteState) -> WriteState:
    """The state to report for several parts: read-only beats full beats ok."""
    for state in (READ_ONLY, FULL):
        if state in states:
            return state
    return OK
