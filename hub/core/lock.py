"""An exclusive lock on a config directory, so two processes never write the same state."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Final

from hub.core.errors import CONFIG_DIR_LOCKED, HubError

LOCK_FILE: Final = ".storage/hub.lock"


class ConfigDirLockedError(HubError):
    """Another hub process (or a ``hub secrets`` command) holds the config directory."""

    code = CONFIG_DIR_LOCKED
    http_status = 409


class ConfigDirLock:
    """``flock`` on ``.storage/hub.lock``; released by the kernel even if the process is killed."""

    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``ConfigDirLockedError`` naming the holder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigDirLockedError(
                f"{self.path.parent.parent} is in use by another hub process (pid {holder}); "
                "stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ConfigDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
