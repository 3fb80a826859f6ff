"""Making a backup: a consistent snapshot of a config directory, sealed into one archive file.

Storage files are whole on disk at any moment (the hub writes them by rename); in a running hub
they are also read while no store writes (``StorageManager.quiesced``), so they are one state.
``hub.db`` is copied with SQLite's online backup API inside one read transaction: a consistent
snapshot of the live WAL database that never restarts however busy the writers, and never holds
them up. Everything that blocks runs on a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from hub import __version__
from hub.core.database import DATABASE_FILE
from hub.core.errors import StorageError
from hub.core.lock import LOCK_FILE
from hub.core.master_key import KEY_FILE, PENDING_KEY_FILE, b64encode, load_master_key
from hub.core.storage import STORAGE_DIR, fsync_dir
from hub.ops.backup_errors import BackupKeyMissingError
from hub.ops.backup_format import (
    ArchiveWriter,
    Header,
    passphrase_slot,
    recovery_slot,
)
from hub.ops.backup_names import PASSPHRASE_ENV, SUFFIX
from hub.ops.recovery_key import RecoveryPublicKey

CONFIG_MEMBER: Final = "configuration.yaml"
DATABASE_MEMBER: Final = DATABASE_FILE
MANIFEST_MEMBER: Final = "manifest.json"
MASTER_MEMBER: Final = f"{STORAGE_DIR}/{KEY_FILE}"
HISTORY_TABLES: Final = ("history", "event_log")
"""What "history" means: state history and the event log; left out unless asked for."""
DB_STEP_PAGES: Final = 8192
_SKIPPED: Final = frozenset({Path(LOCK_FILE).name, KEY_FILE, PENDING_KEY_FILE})
_COPY_BLOCK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class BackupKeys:
    """What the archive's key slots are made for; at least one must be set."""

    passphrase: str | None = None
    recovery: RecoveryPublicKey | None = None

    def __repr__(self) -> str:
        return f"BackupKeys(passphrase={'set' if self.passphrase else None}, recovery=...)"

    def require(self) -> None:
        """Refuse (typed) when there is no secret to seal a backup for."""
        if not self.passphrase and self.recovery is None:
            raise BackupKeyMissingError(
                f"A backup needs a passphrase ({PASSPHRASE_ENV}) or a recovery key; "
                "the hub has neither."
            )

    def slots(self, file_key: bytes) -> tuple[dict[str, Any], ...]:
        """One key slot per secret given."""
        self.require()
        made = []
        if self.passphrase:
            made.append(passphrase_slot(file_key, self.passphrase))
        if self.recovery is not None:
            made.append(recovery_slot(file_key, self.recovery))
        return tuple(made)


@dataclass(frozen=True, slots=True)
class CreatedBackup:
    """A finished archive."""

    path: Path
    size: int
    created_at: str
    include_history: bool
    seconds: float


def backup_name(created: datetime, *, prefix: str = "hub", include_history: bool = False) -> str:
    """``hub-20261205-110203.hubbackup`` (``-history`` when it holds history)."""
    stamp = created.strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}{'-history' if include_history else ''}{SUFFIX}"


def read_state_files(config_dir: Path, env: Mapping[str, str]) -> dict[str, bytes]:
    """``configuration.yaml``, every storage file, and the master key as a key file: by member name."""
    storage = config_dir / STORAGE_DIR
    master = load_master_key(storage, env)
    if master is None or not storage.is_dir():
        raise StorageError(
            f"{config_dir} holds no hub (no {STORAGE_DIR}/{KEY_FILE} and no HUB_MASTER_KEY): "
            "there is nothing to back up."
        )
    files: dict[str, bytes] = {}
    with contextlib.suppress(FileNotFoundError):
        files[CONFIG_MEMBER] = (config_dir / CONFIG_MEMBER).read_bytes()
    for path in sorted(storage.iterdir()):
        if path.name in _SKIPPED or path.name.startswith(".") or not path.is_file():
            continue  # the lock, temporary files of writes in flight, the key (added below)
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile (an entry deleted)
            files[f"{STORAGE_DIR}/{path.name}"] = path.read_bytes()
    files[MASTER_MEMBER] = b64encode(master.key).encode() + b"\n"
    return files


def copy_database(source: Path, target: Path, *, include_history: bool) -> int:
    """Copy ``source`` to ``target`` consistently; without history its tables are emptied and the
    copy vacuumed. Returns the copy's schema version (``PRAGMA user_version``)."""
    src = sqlite3.connect(source, isolation_level=None)  # read only in use; ro cannot map a WAL
    dst = sqlite3.connect(target, isolation_level=None)
    try:
        # One read transaction across every step: the copy is one snapshot, and writers of the
        # live WAL database go on meanwhile without making the backup start over.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchall()
        src.backup(dst, pages=DB_STEP_PAGES)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")
        if not include_history:
            dst.execute("PRAGMA foreign_keys=OFF")
            tables = {row[0] for row in dst.execute("SELECT name FROM sqlite_master")}
            for table in HISTORY_TABLES:
                if table in tables:
                    dst.execute(f"DELETE FROM {table}")  # noqa: S608  # a fixed table name
            dst.execute("VACUUM")
        (version,) = dst.execute("PRAGMA user_version").fetchone()
        return int(version)
    finally:
        src.close()
        dst.close()


class _Hashing(io.RawIOBase):
    """Reads a file for tarfile while hashing what passes."""

    def __init__(self, handle: BinaryIO, digest: Any) -> None:
        self._handle = handle
        self._digest = digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._digest.update(data)
        return data


def write_archive(
    output: Path,
    files: Mapping[str, bytes],
    database: Path | None,
    *,
    keys: BackupKeys,
    include_history: bool,
    schema_version: int,
) -> CreatedBackup:
    """Seal ``files`` and the database copy into ``output`` (written aside, then renamed)."""
    started = time.perf_counter()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    file_key = secrets.token_bytes(32)
    db_size = database.stat().st_size if database is not None else 0
    header = Header(
        hub_version=__version__,
        schema_version=schema_version,
        created_at=created,
        include_history=include_history,
        sizes={
            "database": db_size,
            "storage": sum(len(data) for data in files.values()),
            "files": len(files) + (database is not None),
        },
        slots=keys.slots(file_key),
    )
    members: dict[str, dict[str, Any]] = {}
    tmp = output.with_name(f".{output.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            writer = ArchiveWriter(out, header, file_key)
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for name, data in files.items():
                    _add_bytes(tar, name, data)
                    members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                if database is not None:
                    digest = hashlib.sha256()
                    info = _info(DATABASE_MEMBER, db_size)
                    with database.open("rb") as handle:
                        tar.addfile(info, _Hashing(handle, digest))
                    members[DATABASE_MEMBER] = {"sha256": digest.hexdigest(), "size": db_size}
                manifest = {
                    "format": 1,
                    "hub_version": __version__,
                    "schema_version": schema_version,
                    "created_at": created,
                    "include_history": include_history,
                    "members": members,
                }
                _add_bytes(tar, MANIFEST_MEMBER, json.dumps(manifest, indent=1).encode())
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(output.parent)
    return CreatedBackup(
        output, output.stat().st_size, created, include_history, time.perf_counter() - started
    )


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def build_backup(
    config_dir: Path,
    files: Mapping[str, bytes],
    output: Path,
    *,
    keys: BackupKeys,
    include_history: bool,
) -> CreatedBackup:
    """Copy the database beside ``output`` and seal it with ``files``; blocking, for a thread."""
    output.parent.mkdir(parents=True, exist_ok=True)
    source = config_dir / DATABASE_FILE
    work = Path(tempfile.mkdtemp(prefix=".hub-backup-", dir=output.parent))
    try:
        copy: Path | None = None
        schema_version = 0
        if source.exists():
            copy = work / DATABASE_FILE
            schema_version = copy_database(source, copy, include_history=include_history)
        return write_archive(
            output,
            files,
            copy,
            keys=keys,
            include_history=include_history,
            schema_version=schema_version,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
