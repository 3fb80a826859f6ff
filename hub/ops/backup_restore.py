"""Verifying and restoring a backup: everything is checked in a staging directory before anything
the person has is touched, and what a restore replaces is kept aside, never deleted."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from hub import __version__
from hub.core.crypto import KEYRING_KEY
from hub.core.database import DATABASE_FILE
from hub.core.lock import LOCK_FILE, ConfigDirLock, ConfigDirLockedError
from hub.core.master_key import MasterKey, b64decode
from hub.core.storage import STORAGE_DIR, fsync_dir, write_atomic
from hub.ops.backup import CONFIG_MEMBER, DATABASE_MEMBER, MANIFEST_MEMBER, MASTER_MEMBER
from hub.ops.backup_errors import (
    BackupDamagedError,
    BackupNotFoundError,
    BackupTargetNotEmptyError,
    BackupTargetRunningError,
    BackupTooNewError,
)
from hub.ops.backup_format import ArchiveReader, Header, Secret, read_header, unlock

RESTORE_DIR: Final = ".restore"
"""Where the web UI's restore is staged, inside the config directory, until the next start."""
_READY: Final = "ready.json"
_TREE: Final = "tree"
_MAX_MEMBER: Final = 1 << 40
_BLOCK: Final = 1 << 20
_HUB_MARKS: Final = (STORAGE_DIR, DATABASE_FILE, CONFIG_MEMBER)


@dataclass(frozen=True, slots=True)
class VerifiedBackup:
    """An archive that passed every check, extracted in ``directory``."""

    header: Header
    directory: Path
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Restored:
    """Where a restore put the backup, and where the directory it replaced was kept."""

    target: Path
    aside: Path | None
    created_at: str


def verify(path: Path, secret: Secret, *, schema_version: int, into: Path) -> VerifiedBackup:
    """Decrypt every chunk, check every member's sha256, the database's integrity, every storage
    file and the master key, extracting into ``into`` (an empty directory); a failure raises."""
    try:
        source: BinaryIO = path.open("rb")
    except FileNotFoundError:
        raise BackupNotFoundError(f"There is no backup file {path}.") from None
    except OSError as err:
        raise BackupDamagedError(f"{path} cannot be read ({err.strerror})") from None
    with source:
        header, raw = read_header(source)
        _not_newer(header.schema_version, schema_version)
        reader = ArchiveReader(source, raw, unlock(header, secret))
        digests = _extract(reader, into)
        reader.drain()
    manifest = _manifest(into)
    listed: dict[str, Any] = manifest.get("members", {})
    if set(listed) != set(digests):
        raise BackupDamagedError("its members do not match its manifest")
    for name, entry in listed.items():
        if not isinstance(entry, dict) or entry.get("sha256") != digests[name]:
            raise BackupDamagedError(f"{name} does not match its checksum")
    if DATABASE_MEMBER in digests:
        _not_newer(_check_database(into / DATABASE_MEMBER), schema_version)
    _check_storage(into)
    return VerifiedBackup(header, into, tuple(sorted(digests)))


def verify_file(path: Path, secret: Secret, *, schema_version: int) -> VerifiedBackup:
    """``verify`` into a temporary directory that is removed afterwards (``hub backup verify``)."""
    with tempfile.TemporaryDirectory(prefix="hub-verify-") as work:
        return verify(path, secret, schema_version=schema_version, into=Path(work))


def _not_newer(archive: int, ours: int) -> None:
    if archive > ours:
        raise BackupTooNewError(
            f"The backup was made by a newer hub (database schema {archive}; hub {__version__} "
            f"knows up to {ours}). Update the hub, then restore it. Nothing was changed."
        )


def _member_path(root: Path, name: str) -> Path:
    """Where a member goes; only the names a backup holds are accepted (no ``..``, no links)."""
    if name in (CONFIG_MEMBER, DATABASE_MEMBER, MANIFEST_MEMBER):
        return root / name
    folder, _, file = name.partition("/")
    # A plain name: no deeper path, and nothing starting with a dot (nor ``.`` and ``..``).
    if folder == STORAGE_DIR and file and not file.startswith(".") and not {"/", "\\"} & set(file):
        return root / STORAGE_DIR / file
    raise BackupDamagedError(f"it holds an unexpected member {name[:80]!r}")


def _extract(reader: ArchiveReader, root: Path) -> dict[str, str]:
    digests: dict[str, str] = {}
    root.mkdir(mode=0o700, exist_ok=True)
    (root / STORAGE_DIR).mkdir(mode=0o700, exist_ok=True)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                target = _member_path(root, member.name)
                if not member.isfile() or member.size > _MAX_MEMBER or member.name in digests:
                    raise BackupDamagedError(f"its member {member.name[:80]!r} is not a file")
                handle = tar.extractfile(member)
                if handle is None:
                    raise BackupDamagedError(f"its member {member.name[:80]!r} cannot be read")
                digest = hashlib.sha256()
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while block := handle.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
                digests[member.name] = digest.hexdigest()
    except tarfile.TarError as err:
        raise BackupDamagedError(f"its contents cannot be read ({err})") from None
    digests.pop(MANIFEST_MEMBER, None)
    return digests


def _manifest(root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST_MEMBER).read_bytes())
    except FileNotFoundError:
        raise BackupDamagedError("it has no manifest") from None
    except ValueError:
        raise BackupDamagedError("its manifest cannot be read") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), dict):
        raise BackupDamagedError("its manifest cannot be read")
    return manifest


def _check_database(path: Path) -> int:
    """``PRAGMA integrity_check`` of the extracted database; its schema version."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise BackupDamagedError(f"its database cannot be opened ({err})") from None
    if rows != [("ok",)]:
        raise BackupDamagedError(f"its database fails the integrity check ({rows[0][0]})")
    return int(version)


def _check_storage(root: Path) -> None:
    """Every storage file is a storage envelope of its own key, and the master key is the one the
    keyring's fingerprint names."""
    fingerprint = None
    for path in sorted((root / STORAGE_DIR).iterdir()):
        if f"{STORAGE_DIR}/{path.name}" == MASTER_MEMBER:
            continue
        try:
            envelope = json.loads(path.read_bytes())
        except ValueError:
            raise BackupDamagedError(f"the storage file {path.name} does not parse") from None
        if not isinstance(envelope, dict) or envelope.get("key") != path.name:
            raise BackupDamagedError(f"the storage file {path.name} is not a storage envelope")
        if not {"version", "data"} <= envelope.keys():
            raise BackupDamagedError(f"the storage file {path.name} is not a storage envelope")
        if path.name == KEYRING_KEY and isinstance(envelope["data"], dict):
            fingerprint = envelope["data"].get("master_fingerprint")
    try:
        text = (root / MASTER_MEMBER).read_text("ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        raise BackupDamagedError("it holds no master key") from None
    key = b64decode(text)
    if key is None or len(key) != 32:
        raise BackupDamagedError("its master key is not valid")
    if fingerprint is not None and MasterKey(key, "file").fingerprint != fingerprint:
        raise BackupDamagedError("its master key does not match the keyring's fingerprint")


def _target_kind(target: Path) -> str:
    """``new``, ``empty`` or ``hub``; anything else is refused."""
    if not target.exists():
        return "new"
    if not target.is_dir():
        raise BackupTargetNotEmptyError(
            f"{target} is a file, not a directory. Nothing was changed."
        )
    names = {entry.name for entry in target.iterdir()}
    if not names:
        return "empty"
    if names & set(_HUB_MARKS):
        return "hub"
    raise BackupTargetNotEmptyError(
        f"{target} is not empty and holds no hub: restore into a new or empty directory, or a "
        "stopped hub's. Nothing was changed."
    )


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def restore(path: Path, target: Path, secret: Secret, *, schema_version: int) -> Restored:
    """Restore into ``target`` (new, empty, or a stopped hub's, which is moved aside)."""
    target = target.resolve()
    kind = _target_kind(target)
    lock = ConfigDirLock(target)
    if kind == "hub":
        try:
            lock.acquire()
        except ConfigDirLockedError:
            raise BackupTargetRunningError(
                f"A hub is running on {target}: stop it first. Nothing was changed."
            ) from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
        try:
            verified = verify(path, secret, schema_version=schema_version, into=staging)
            (staging / MANIFEST_MEMBER).unlink()
            aside = None
            if kind == "hub":
                aside = target.with_name(f"{target.name}.before-restore-{_stamp()}")
                os.rename(target, aside)
            elif kind == "empty":
                target.rmdir()
            os.rename(staging, target)
            fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        lock.release()
    return Restored(target, aside, verified.header.created_at)


def stage(path: Path, config_dir: Path, secret: Secret, *, schema_version: int) -> Restored:
    """Verify ``path`` into ``<config>/.restore``, to be applied by ``apply_staged`` at next start."""
    staged = config_dir / RESTORE_DIR
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(mode=0o700)
    try:
        verified = verify(path, secret, schema_version=schema_version, into=staged / _TREE)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    (staged / _TREE / MANIFEST_MEMBER).unlink()
    ready = {
        "created_at": verified.header.created_at,
        "stamp": _stamp(),
        "members": [m for m in verified.members if m != MANIFEST_MEMBER],
    }
    write_atomic(staged / _READY, json.dumps(ready).encode())  # last: a half stage is never applied
    return Restored(config_dir, None, verified.header.created_at)


def _tree_mkdir(into: Path) -> None:
    into.mkdir(mode=0o700, exist_ok=True)


def apply_staged(config_dir: Path) -> Restored | None:
    """Apply a restore staged by the web UI, before anything opens; safe to run again after a
    crash half-way (what is already in place stays, what is left is moved)."""
    staged = config_dir / RESTORE_DIR
    try:
        ready = json.loads((staged / _READY).read_bytes())
        members = {str(name) for name in ready["members"]}
        stamp = str(ready["stamp"])
    except FileNotFoundError:
        if staged.exists():  # a stage that never finished: not a restore to apply
            shutil.rmtree(staged, ignore_errors=True)
        return None
    tree = staged / _TREE
    aside = config_dir.with_name(f"{config_dir.name}.before-restore-{stamp}")
    lock_name = Path(LOCK_FILE).name
    with ConfigDirLock(config_dir):
        current = [
            entry.relative_to(config_dir).as_posix()
            for entry in [*config_dir.iterdir(), *(config_dir / STORAGE_DIR).iterdir()]
            if entry.name not in (RESTORE_DIR, STORAGE_DIR, lock_name)
        ]
        for name in current:
            if name not in members or (tree / name).exists():  # replaced, or not in the backup
                _tree_mkdir(aside)
                if name.startswith(f"{STORAGE_DIR}/"):
                    _tree_mkdir(aside / STORAGE_DIR)
                os.rename(config_dir / name, aside / name)
        for name in sorted(members):
            if (tree / name).exists():
                os.replace(tree / name, config_dir / name)
        fsync_dir(config_dir / STORAGE_DIR)
        fsync_dir(config_dir)
        shutil.rmtree(staged, ignore_errors=True)
    return Restored(config_dir, aside if aside.exists() else None, str(ready["created_at"]))


def staged_restore(config_dir: Path) -> dict[str, Any] | None:
    """What a staged restore holds, or ``None``."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        data: dict[str, Any] = json.loads((config_dir / RESTORE_DIR / _READY).read_bytes())
        return data
    return None
