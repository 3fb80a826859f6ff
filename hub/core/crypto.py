"""Envelope encryption for stored secrets: a master key wraps one AES-256-GCM data key per owner."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from hub.core.committed import Committed
from hub.core.errors import (
    SECRET_UNDECRYPTABLE,
    CryptoError,
    StorageError,
)
from hub.core.master_key import (
    ENV_VAR,
    KEY_FILE,
    KEY_SIZE,
    PENDING_KEY_FILE,
    MasterKey,
    b64decode,
    b64encode,
    promote,
    resolve_master,
    write_key_file,
)
from hub.core.redact import SECRETS
from hub.core.storage import StorageManager

_LOGGER = logging.getLogger(__name__)

KEYRING_KEY: Final = "core.keyring"
FORMAT_VERSION: Final = "v1"
_NONCE_SIZE: Final = 12


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What a rotation did; ``pending_key_file`` is set when ``HUB_MASTER_KEY`` must change."""

    old_key_id: str
    new_key_id: str
    data_keys: int
    pending_key_file: Path | None

    @property
    def message(self) -> str:
        """What to tell the person who ran the rotation."""
        done = f"Master key {self.old_key_id} is now {self.new_key_id} (data keys re-wrapped: "
        done += f"{self.data_keys}; stored secrets are unchanged)."
        if self.pending_key_file is None:
            return f"{done} Back up the new {KEY_FILE}."
        return (
            f"{done} Set {ENV_VAR} to the contents of {self.pending_key_file}, restart the hub, "
            "then delete that file."
        )


class _DataKey(BaseModel, frozen=True, strict=True):
    owner: str
    wrapped: str  # base64url(nonce + AES-GCM(master key, data key))
    created: str


class _State(BaseModel, frozen=True, strict=True):
    """What ``core.keyring`` holds; replaced whole, so a failed save leaves memory as it was."""

    master_fingerprint: str
    owners: dict[str, str]  # owner id -> id of its current data key
    data_keys: dict[str, _DataKey]

    @classmethod
    def parse(cls, data: Any, path: Path) -> _State:
        try:
            state = cls.model_validate(data)
        except ValidationError:
            state = None  # its text may quote the file; the path says enough
        if state is None or any(
            (k := state.data_keys.get(kid)) is None or k.owner != owner
            for owner, kid in state.owners.items()
        ):
            raise StorageError(f"{path} is damaged: restore it from a backup. Nothing was changed.")
        return state


class Keyring:
    """Encrypts and decrypts secrets with one data key per owner, each wrapped by the master key."""

    def __init__(self, manager: StorageManager, env: Mapping[str, str]) -> None:
        self._storage_dir = manager.path
        self._env = env
        self._store = manager.store(KEYRING_KEY, 1)
        self._master: MasterKey  # set by open(), which must run before any other method
        self._saved: Committed[_State]  # set by open(); served only once on disk
        self._unwrapped: dict[str, bytes] = {}
        self._registered: dict[str, set[tuple[str, str]]] = {}
        self._lock = asyncio.Lock()

    async def open(self) -> Keyring:
        """Load the master key and the keyring, creating both on a fresh install; returns self."""
        data = await self._store.load()
        state = None if data is None else _State.parse(data, self._store.path)
        fingerprint = None if state is None else state.master_fingerprint
        master = await asyncio.to_thread(resolve_master, self._storage_dir, self._env, fingerprint)
        if state is None:
            state = _State(master_fingerprint=master.fingerprint, owners={}, data_keys={})
            await self._store.save(state.model_dump())
        self._master = master
        self._saved = Committed(self._store, state, _State.model_dump)
        return self

    def master_key_forms(self) -> tuple[str, ...]:
        """The master key as text may spell it (hex, base64), so diagnostics can redact it."""
        import base64  # only a diagnostics download asks

        key = getattr(self, "_master", None)
        if key is None:
            return ()
        raw = key.key
        return (
            raw.hex(),
            raw.hex().upper(),
            base64.b64encode(raw).decode("ascii"),
            base64.urlsafe_b64encode(raw).decode("ascii"),
            base64.b64encode(raw).decode("ascii").rstrip("="),
            base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
        )

    @property
    def _state(self) -> _State:
        """The keyring on disk (or, after a refused forget, owed to it)."""
        return self._saved.value

    async def encrypt(self, owner_id: str, field: str, plaintext: str) -> str:
        """Return a token for ``plaintext``; the owner's data key is on disk before it returns."""
        self._remember(owner_id, field, plaintext)
        aad = _aad("hub/v1", owner_id, field)  # refuses a NUL before a data key is made
        key_id, data_key = await self._current_data_key(owner_id, field)
        sealed = _seal(data_key, plaintext.encode(), aad + b"\0" + key_id.encode())
        return f"{FORMAT_VERSION}:{key_id}:{b64encode(sealed)}"

    def decrypt(self, owner_id: str, field: str, token: str) -> str:
        """Return the plaintext of a token made by ``encrypt`` for the same owner and field."""
        version, _, rest = token.partition(":")
        key_id, _, body = rest.partition(":")
        blob = b64decode(body) if body else None
        record = self._state.data_keys.get(key_id)
        if version != FORMAT_VERSION or blob is None:
            problem = "it is not a hub secret token"
        elif record is None:
            problem = "its data key no longer exists"
        elif record.owner != owner_id:
            problem = "it belongs to another owner"
        else:
            data_key = self._data_key(key_id, record, field)
            plaintext = _unseal(data_key, blob, _aad("hub/v1", owner_id, field, key_id))
            if plaintext is not None:
                self._remember(owner_id, field, value := plaintext.decode())
                return value
            problem = "it was altered or belongs to another field"
        raise _undecryptable(owner_id, field, f"{problem}; enter it again")

    async def forget_owner(self, owner_id: str) -> None:
        """Delete the owner's data keys, so its tokens never decrypt again (crypto-shredding)."""
        # Never raises for the disk: the keys leave memory at once, and a save the disk refuses
        # is retried until it lands, so a full disk never undoes a removal already made.
        async with self._lock:
            doomed = {kid for kid, k in self._state.data_keys.items() if k.owner == owner_id}
            if doomed or owner_id in self._state.owners:
                forget = functools.partial(_without_owner, owner_id)
                try:
                    await self._saved.change(forget)
                except StorageError:
                    # Dropping a key early is safe (no token may outlive its key, not the reverse):
                    # served now, and saved by the store's retry once the disk takes writes.
                    self._saved.change_soon(forget)
                for key_id in doomed:
                    self._unwrapped.pop(key_id, None)
        for _field, value in self._registered.pop(owner_id, set()):
            SECRETS.discard(value)

    async def _current_data_key(self, owner_id: str, field: str) -> tuple[str, bytes]:
        async with self._lock:
            view = self._saved.view  # with new keys of concurrent encrypts still on their way
            key_id = view.owners.get(owner_id)
            if key_id is not None:
                data_key = self._data_key(key_id, view.data_keys[key_id], field)
                new = None
            else:
                key_id = secrets.token_hex(6)
                while key_id in view.data_keys:
                    key_id = secrets.token_hex(6)
                data_key = secrets.token_bytes(KEY_SIZE)
                record = _DataKey(
                    owner=owner_id,
                    wrapped=_wrap(self._master, owner_id, key_id, data_key),
                    created=datetime.now(UTC).isoformat(timespec="seconds"),
                )
                new = functools.partial(_with_key, owner_id, key_id, record)
        if key_id in self._state.data_keys:
            return key_id, data_key
        # A token must never outlive its data key: wait until the key is on disk. New keys of
        # concurrent encrypts share one write (group commit), so a burst of entries is cheap.
        if new is not None:
            await self._saved.change(new)
            self._unwrapped[key_id] = data_key
        else:
            await self._saved.commit()  # joins the write of the encrypt that made the key
        if key_id not in self._saved.view.data_keys:
            # The encrypt that made it was refused after this one joined a later write.
            return await self._current_data_key(owner_id, field)
        return key_id, data_key

    def _data_key(self, key_id: str, record: _DataKey, field: str | None) -> bytes:
        data_key = self._unwrapped.get(key_id)
        if data_key is None:
            blob = b64decode(record.wrapped)
            aad = _aad("hub/v1/wrap", record.owner, key_id)
            data_key = None if blob is None else _unseal(self._master.key, blob, aad)
            if data_key is None:
                damaged = f"its data key in {self._store.path} is damaged; restore it from a backup"
                raise _undecryptable(record.owner, field, damaged)
            self._unwrapped[key_id] = data_key
        return data_key

    def _remember(self, owner_id: str, field: str, value: str) -> None:
        seen = self._registered.setdefault(owner_id, set())
        if (field, value) not in seen:
            seen.add((field, value))
            SECRETS.add(value)

    async def _rotate(self) -> RotationResult:
        async with self._lock:
            old, state = self._master, self._state
            new = MasterKey(secrets.token_bytes(KEY_SIZE), old.source)
            keys: dict[str, _DataKey] = {}
            for kid, k in state.data_keys.items():
                wrapped = _wrap(new, k.owner, kid, self._data_key(kid, k, None))
                keys[kid] = k.model_copy(update={"wrapped": wrapped})
            pending = self._store.path.parent / PENDING_KEY_FILE
            await asyncio.to_thread(write_key_file, pending, new.key)
            # Never delete ``pending`` if this save fails: the keyring may have reached the disk
            # anyway, and ``open`` decides from the fingerprint which key file to keep.
            update = {"master_fingerprint": new.fingerprint, "data_keys": keys}
            await self._saved.change(lambda _: state.model_copy(update=update))
            self._master = new
            if new.source == "file":
                await asyncio.to_thread(promote, pending, pending.with_name(KEY_FILE))
            _LOGGER.info("Rotated master key %s to %s", old.key_id, new.key_id)
            left = pending if new.source == "env" else None
            return RotationResult(old.key_id, new.key_id, len(keys), left)


async def rotate_master_key(manager: StorageManager, env: Mapping[str, str]) -> RotationResult:
    """Re-wrap every data key under a new master key; tokens stay valid and untouched."""
    keyring = await Keyring(manager, env).open()
    return await keyring._rotate()


def _with_key(owner_id: str, key_id: str, record: _DataKey, state: _State) -> _State:
    owners = {**state.owners, owner_id: key_id}
    keys = {**state.data_keys, key_id: record}
    return state.model_copy(update={"owners": owners, "data_keys": keys})


def _without_owner(owner_id: str, state: _State) -> _State:
    doomed = {kid for kid, k in state.data_keys.items() if k.owner == owner_id}
    owners = {o: kid for o, kid in state.owners.items() if o != owner_id}
    keys = {kid: k for kid, k in state.data_keys.items() if kid not in doomed}
    return state.model_copy(update={"owners": owners, "data_keys": keys})


def _aad(*parts: str) -> bytes:
    # A NUL inside a part would make ("a\0b", "c") and ("a", "b\0c") the same associated data.
    if any("\0" in part for part in parts):
        raise ValueError("owner ids and field names cannot contain NUL")
    return b"\0".join(part.encode() for part in parts)


def _wrap(master: MasterKey, owner_id: str, key_id: str, data_key: bytes) -> str:
    return b64encode(_seal(master.key, data_key, _aad("hub/v1/wrap", owner_id, key_id)))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    # Imported here, not at the top: start-up on a Pi must stay under 0.5 s and 60 MB.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _unseal(key: bytes, blob: bytes, aad: bytes) -> bytes | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < _NONCE_SIZE + 16:  # shorter than a nonce and a tag: nothing to authenticate
        return None
    try:
        return AESGCM(key).decrypt(blob[:_NONCE_SIZE], blob[_NONCE_SIZE:], aad)
    except InvalidTag:
        return None


def _undecryptable(owner_id: str, field: str | None, reason: str) -> CryptoError:
    what = f"the secret {field!r} of {owner_id!r}" if field else f"the secrets of {owner_id!r}"
    return CryptoError(f"Cannot decrypt {what}: {reason}.", code=SECRET_UNDECRYPTABLE)


class EphemeralCipher:
    """AES-256-GCM under a key that lives only in this process: for secrets held briefly in memory.

    A flow's secrets wait here between wizard steps; a heap dump or a stray ``repr`` shows
    ciphertext, and nothing needs to survive a restart, so the key is never written anywhere.
    """

    def __init__(self) -> None:
        self._key = secrets.token_bytes(KEY_SIZE)

    def seal(self, context: str, field: str, plaintext: str) -> bytes:
        """Encrypt ``plaintext`` bound to ``context`` (e.g. a flow id) and ``field``."""
        return _seal(self._key, plaintext.encode(), _aad("hub/ephemeral", context, field))

    def open(self, context: str, field: str, sealed: bytes) -> str:
        """Decrypt what ``seal`` made for the same context and field."""
        plaintext = _unseal(self._key, sealed, _aad("hub/ephemeral", context, field))
        if plaintext is None:
            raise _undecryptable(context, field, "it was sealed for something else")
        return plaintext.decode()
