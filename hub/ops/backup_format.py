"""The backup archive: ``HUBBACKUP``, a JSON header with key slots, then a compressed payload sealed
in AES-256-GCM chunks whose nonce and associated data bind the chunk's index and a final flag.

A reordered, dropped or cut chunk fails to decrypt, and a stream that ends without its final chunk
is truncated; every chunk's associated data also carries the header's digest, so the header cannot
be changed either. The random file key is wrapped once per key slot: by a key derived from a
passphrase (scrypt) and by one agreed with the hub's recovery public key (X25519 + HKDF).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from hub.core.master_key import b64decode, b64encode
from hub.ops.backup_errors import BackupDamagedError, BackupPassphraseWrongError, BackupTooNewError
from hub.ops.recovery_key import RecoveryPublicKey, parse_recovery_key

# cryptography is imported where it is used: the hub starts without it (tests/test_imports.py).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC: Final = b"HUBBACKUP"
FORMAT_VERSION: Final = 1
CHUNK_SIZE: Final = 1 << 20
"""Plaintext bytes per sealed chunk: what one decryption step holds in memory."""
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
COMPRESS_LEVEL: Final = 1
"""zlib's fastest level: a database's pages shrink by half or more even so, at a fraction of the CPU."""
MAX_HEADER: Final = 64 * 1024
_TAG: Final = 16
_LENGTH: Final = struct.Struct(">I")
_SLOT_AAD: Final = b"hub backup key slot v1:"
_RECOVERY_INFO: Final = b"hub backup recovery slot v1"


@dataclass(frozen=True, slots=True)
class Header:
    """What a backup says about itself in the clear: enough to list it without a key."""

    hub_version: str
    schema_version: int
    created_at: str
    include_history: bool
    sizes: Mapping[str, int]
    slots: tuple[Mapping[str, Any], ...] = field(default=())

    def to_json(self) -> bytes:
        """The header as it is written (sorted keys: its digest is bound into every chunk)."""
        body = {
            "format": FORMAT_VERSION,
            "hub_version": self.hub_version,
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "include_history": self.include_history,
            "sizes": dict(self.sizes),
            "compression": "zlib",
            "slots": [dict(slot) for slot in self.slots],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        """Read a header; anything unexpected is a damaged archive."""
        try:
            body = json.loads(raw)
            header = cls(
                hub_version=str(body["hub_version"]),
                schema_version=_int(body["schema_version"]),
                created_at=str(body["created_at"]),
                include_history=bool(body["include_history"]),
                sizes={str(k): _int(v) for k, v in dict(body["sizes"]).items()},
                slots=tuple(dict(slot) for slot in body["slots"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackupDamagedError("its header cannot be read") from None
        if body.get("compression") != "zlib":
            raise BackupDamagedError("its header names an unknown compression")
        return header


@dataclass(frozen=True, slots=True)
class Secret:
    """What opens an archive: a passphrase, a recovery key, or both to try."""

    passphrase: str | None = None
    recovery_key: str | None = None

    def __repr__(self) -> str:
        return "Secret(**REDACTED**)"


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError("not an integer")
    return value


def passphrase_slot(file_key: bytes, passphrase: str) -> dict[str, Any]:
    """A key slot opened by ``passphrase`` (scrypt n=2**15, r=8, p=1)."""
    salt = secrets.token_bytes(16)
    kek = _scrypt(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    slot: dict[str, Any] = {
        "kind": "passphrase",
        "salt": b64encode(salt),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
    }
    return _seal_slot(slot, kek, file_key)


def recovery_slot(file_key: bytes, public: RecoveryPublicKey) -> dict[str, Any]:
    """A key slot opened by the private half of ``public``: the recovery key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public.raw))
    kek = _recovery_kek(shared, ephemeral_public, public.raw)
    slot: dict[str, Any] = {
        "kind": "recovery",
        "fingerprint": public.fingerprint,
        "ephemeral": b64encode(ephemeral_public),
    }
    return _seal_slot(slot, kek, file_key)


def _seal_slot(slot: dict[str, Any], kek: bytes, file_key: bytes) -> dict[str, Any]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    wrapped = AESGCM(kek).encrypt(nonce, file_key, _SLOT_AAD + slot["kind"].encode())
    return {**slot, "nonce": b64encode(nonce), "wrapped": b64encode(wrapped)}


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _recovery_kek(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_RECOVERY_INFO,
    )
    return hkdf.derive(shared)


def unlock(header: Header, secret: Secret) -> bytes:
    """The file key from the first slot ``secret`` opens; ``BackupPassphraseWrongError`` if none."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    private = None if secret.recovery_key is None else parse_recovery_key(secret.recovery_key)
    for slot in header.slots:
        try:
            if slot.get("kind") == "passphrase" and secret.passphrase is not None:
                n, r, p = _int(slot["n"]), _int(slot["r"]), _int(slot["p"])
                if not (2**10 <= n <= 2**20 and 1 <= r <= 16 and 1 <= p <= 4):
                    continue  # a header asking for absurd work is not followed
                kek = _scrypt(secret.passphrase, _bytes(slot["salt"]), n, r, p)
            elif slot.get("kind") == "recovery" and private is not None:
                ephemeral = _bytes(slot["ephemeral"])
                shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
                kek = _recovery_kek(shared, ephemeral, private.public_key().public_bytes_raw())
            else:
                continue
            aad = _SLOT_AAD + str(slot["kind"]).encode()
            key = AESGCM(kek).decrypt(_bytes(slot["nonce"]), _bytes(slot["wrapped"]), aad)
        except (InvalidTag, KeyError, ValueError, TypeError):
            continue
        if len(key) == 32:
            return key
    kinds = sorted({str(slot.get("kind")) for slot in header.slots})
    raise BackupPassphraseWrongError(
        "The passphrase or recovery key does not open this backup "
        f"(it can be opened with: {', '.join(kinds) or 'nothing'})."
    )


def _bytes(value: Any) -> bytes:
    decoded = b64decode(str(value))
    if decoded is None:
        raise ValueError("not base64")
    return decoded


def _aesgcm(key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class ArchiveWriter:
    """A write-only stream: what is written is compressed, cut into chunks and sealed to ``out``."""

    def __init__(self, out: BinaryIO, header: Header, file_key: bytes) -> None:
        raw = header.to_json()
        out.write(MAGIC + bytes([FORMAT_VERSION]) + _LENGTH.pack(len(raw)) + raw)
        self._out = out
        self._aead = _aesgcm(file_key)
        self._digest = hashlib.sha256(raw).digest()
        self._zlib = zlib.compressobj(COMPRESS_LEVEL)
        self._buffer = bytearray()
        self._index = 0
        self.plain_bytes = 0

    def write(self, data: bytes) -> int:
        """Take ``data`` (tarfile's stream interface)."""
        self.plain_bytes += len(data)
        self._buffer += self._zlib.compress(data)
        while len(self._buffer) > CHUNK_SIZE:  # keep one back: the last chunk must be marked final
            self._seal(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def close(self) -> None:
        """Seal what is left as the final chunk (an empty payload still gets one)."""
        self._buffer += self._zlib.flush()
        while len(self._buffer) > CHUNK_SIZE:
            self._seal(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _seal(self, plain: bytes, *, final: bool) -> None:
        aad = self._digest + self._index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
        sealed = self._aead.encrypt(_nonce(self._index, final), plain, aad)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1


def read_header(source: BinaryIO) -> tuple[Header, bytes]:
    """The header and its raw bytes, from the start of ``source``."""
    lead = source.read(len(MAGIC) + 1 + _LENGTH.size)
    if len(lead) < len(MAGIC) + 1 + _LENGTH.size or not lead.startswith(MAGIC):
        raise BackupDamagedError("it is not a hub backup (no HUBBACKUP mark)")
    version = lead[len(MAGIC)]
    if version > FORMAT_VERSION:
        raise BackupTooNewError(
            f"The backup's format (version {version}) is newer than this hub reads "
            f"({FORMAT_VERSION}): it was made by a newer hub. Update the hub, then restore it."
        )
    (size,) = _LENGTH.unpack(lead[len(MAGIC) + 1 :])
    if size > MAX_HEADER:
        raise BackupDamagedError("its header is too large")
    raw = source.read(size)
    if len(raw) < size:
        raise BackupDamagedError("it is truncated (inside the header)")
    return Header.parse(raw), raw


class ArchiveReader:
    """A read-only stream of the payload: each chunk checked, opened and decompressed in turn."""

    def __init__(self, source: BinaryIO, header_raw: bytes, file_key: bytes) -> None:
        self._source = source
        self._aead = _aesgcm(file_key)
        self._digest = hashlib.sha256(header_raw).digest()
        self._zlib = zlib.decompressobj()
        self._buffer = bytearray()
        self._index = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the payload (tarfile's stream interface)."""
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._next_chunk()
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def drain(self) -> None:
        """Read to the end: every chunk is checked even where the tar stream stopped early."""
        while not self._done:
            self._next_chunk()
            self._buffer.clear()

    def _next_chunk(self) -> None:
        lead = self._source.read(_LENGTH.size)
        if len(lead) < _LENGTH.size:
            raise BackupDamagedError(f"it is truncated (it ends before chunk {self._index})")
        (size,) = _LENGTH.unpack(lead)
        if not _TAG <= size <= CHUNK_SIZE + _TAG:
            raise BackupDamagedError(f"chunk {self._index} has an impossible length")
        sealed = self._source.read(size)
        if len(sealed) < size:
            raise BackupDamagedError(f"it is truncated (inside chunk {self._index})")
        plain = self._open(sealed)
        try:
            self._buffer += self._zlib.decompress(plain)
            if self._done:
                self._buffer += self._zlib.flush()
        except zlib.error:
            raise BackupDamagedError("its payload does not decompress") from None
        if self._done and self._source.read(1):
            raise BackupDamagedError("it has data after its final chunk")

    def _open(self, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        index = self._index
        for final in (False, True):
            aad = self._digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")
            try:
                plain = self._aead.decrypt(_nonce(index, final), sealed, aad)
            except InvalidTag:
                continue
            self._index += 1
            self._done = final
            return plain
        raise BackupDamagedError(
            f"chunk {index} does not decrypt: the file was changed or its chunks reordered"
        )
