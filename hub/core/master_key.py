"""The master key: from ``HUB_MASTER_KEY`` or ``.storage/master.key``, checked, never changed silently."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from hub.core.errors import (
    MASTER_KEY_INVALID,
    MASTER_KEY_MISMATCH,
    MASTER_KEY_MISSING,
    STORAGE_WRITE_FAILED,
    CryptoError,
    StorageError,
)
from hub.core.storage import fsync_dir, write_atomic

_LOGGER = logging.getLogger(__name__)

ENV_VAR: Final = "HUB_MASTER_KEY"
KEY_FILE: Final = "master.key"
PENDING_KEY_FILE: Final = "master.key.new"
KEY_SIZE: Final = 32
_HEX_KEY: Final = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The 32-byte key that wraps every data key; its repr shows the key id, never the key."""

    key: bytes
    source: Literal["env", "file"]

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r}, source={self.source!r})"

    @property
    def fingerprint(self) -> str:
        """A one-way digest of the key, kept beside the data so a changed key is noticed."""
        digest = hmac.new(self.key, b"hub master key fingerprint v1", hashlib.sha256)
        return digest.hexdigest()[:32]

    @property
    def key_id(self) -> str:
        """A short public name for the key, safe to print."""
        return self.fingerprint[:8]


def load_master_key(storage_dir: Path, env: Mapping[str, str]) -> MasterKey | None:
    """Return the key from ``HUB_MASTER_KEY`` or ``master.key``, or ``None`` if neither exists."""
    value = env.get(ENV_VAR)
    if value is None:
        key = _read_key_file(storage_dir / KEY_FILE)
        return None if key is None else MasterKey(key, "file")
    key = _decode_key(value)
    if key is None:
        raise CryptoError(
            f"{ENV_VAR} is not a valid master key: it must be {KEY_SIZE} bytes as base64 or "
            f"64 hexadecimal characters. Fix it, or unset it to use {storage_dir / KEY_FILE}.",
            code=MASTER_KEY_INVALID,
        )
    return MasterKey(key, "env")


def resolve_master(storage_dir: Path, env: Mapping[str, str], fingerprint: str | None) -> MasterKey:
    """Find the key matching the keyring, finishing or undoing an interrupted rotation."""
    master = load_master_key(storage_dir, env)
    key_file, pending = storage_dir / KEY_FILE, storage_dir / PENDING_KEY_FILE
    if fingerprint is None:
        if master is None:
            master = MasterKey(secrets.token_bytes(KEY_SIZE), "file")
            write_key_file(key_file, master.key)
            _LOGGER.warning("Created master key %s in %s: back it up", master.key_id, key_file)
        fingerprint = master.fingerprint
    if master is not None and master.fingerprint == fingerprint:
        _settle_pending(pending, master)
        return master
    new_key = _read_key_file(pending)
    if new_key is not None and MasterKey(new_key, "file").fingerprint == fingerprint:
        if master is None or master.source == "file":
            promote(pending, key_file)
            _LOGGER.warning("Finished an interrupted rotation to master key %s", fingerprint[:8])
            return MasterKey(new_key, "file")
        raise CryptoError(
            f"{ENV_VAR} holds the old master key (key id {master.key_id}); a key rotation moved "
            f"the secrets to key id {fingerprint[:8]}, which is in {pending}. Set {ENV_VAR} to "
            "that file's contents, restart, then delete the file.",
            code=MASTER_KEY_MISMATCH,
        )
    if master is None:
        raise CryptoError(
            f"No master key: {ENV_VAR} is not set and {key_file} does not exist, but the stored "
            f"secrets need key id {fingerprint[:8]}. Restore {key_file} from a backup or set "
            f"{ENV_VAR}; the hub never makes a new key over existing secrets.",
            code=MASTER_KEY_MISSING,
        )
    where = ENV_VAR if master.source == "env" else str(key_file)
    raise CryptoError(
        f"The master key in {where} (key id {master.key_id}) is not the one the stored secrets "
        f"were encrypted with (key id {fingerprint[:8]}); starting would lose every secret. "
        f"Put the original key back in {where}.",
        code=MASTER_KEY_MISMATCH,
    )


def _settle_pending(pending: Path, master: MasterKey) -> None:
    """Delete a ``master.key.new`` that a rotation left behind, unless it is the key in use."""
    if not pending.exists():
        return
    if master.source == "env":
        with contextlib.suppress(CryptoError):
            if _read_key_file(pending) == master.key:
                # HUB_MASTER_KEY was set as asked; the file may be someone's only copy.
                _LOGGER.warning("%s holds the key now in %s: delete the file", pending, ENV_VAR)
                return
    with contextlib.suppress(FileNotFoundError):
        pending.unlink()
    fsync_dir(pending.parent)
    _LOGGER.warning("Removed %s, left by a key rotation that did not finish", pending.name)


def promote(pending: Path, key_file: Path) -> None:
    os.replace(pending, key_file)
    fsync_dir(key_file.parent)


def _read_key_file(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            if mode & 0o077:
                raise CryptoError(
                    f"{path} can be read by other users (mode {mode:o}), so the hub will not use "
                    f"it: run `chmod 600 {path}` and start again.",
                    code=MASTER_KEY_INVALID,
                )
            raw = handle.read(1024)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CryptoError(f"Cannot read {path}: {err.strerror}.", code=MASTER_KEY_INVALID) from None
    key = _decode_key(raw.decode("ascii", errors="replace"))
    if key is None:
        raise CryptoError(
            f"{path} is not a valid master key file. Restore it from a backup, or set {ENV_VAR}.",
            code=MASTER_KEY_INVALID,
        )
    return key


def write_key_file(path: Path, key: bytes) -> None:
    try:
        write_atomic(path, b64encode(key).encode() + b"\n", mode=0o600)
    except OSError as err:
        raise StorageError(
            f"Cannot write {path}: {err.strerror}. Nothing was changed.", code=STORAGE_WRITE_FAILED
        ) from None


def _decode_key(text: str) -> bytes | None:
    """Accept 64 hex characters, or base64 (standard or urlsafe, padding optional) of 32 bytes."""
    value = text.strip()
    if _HEX_KEY.fullmatch(value):
        return bytes.fromhex(value)
    key = b64decode(value)
    return key if key is not None and len(key) == KEY_SIZE else None


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes | None:
    padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except ValueError:
        return None
