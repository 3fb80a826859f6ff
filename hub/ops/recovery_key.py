"""The recovery key: an X25519 key pair whose public half the hub keeps (``.storage/backup.recovery``)
and whose private half a person keeps, printed once as ``XXXX-XXXX-…`` (base32 with a checksum)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hub.core.errors import BadRequestError, StorageError
from hub.core.master_key import b64decode, b64encode
from hub.core.storage import STORAGE_DIR, readable_json, write_atomic

if TYPE_CHECKING:  # imported where used: the hub starts without cryptography
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

RECOVERY_FILE: Final = "backup.recovery"
_CHECK: Final = 3
"""Checksum bytes after the key: 35 bytes are exactly 56 base32 letters, so a typo is caught."""
_GROUP: Final = 4


@dataclass(frozen=True, slots=True)
class RecoveryPublicKey:
    """The public half the hub keeps; anyone may see it, it only encrypts."""

    raw: bytes
    created_at: str

    @property
    def fingerprint(self) -> str:
        """A short name for the key pair, written into each key slot it made."""
        return hashlib.sha256(self.raw).hexdigest()[:16]


def new_recovery_key() -> tuple[str, RecoveryPublicKey]:
    """A new key pair: the recovery key to show once, and the public half to keep."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    text = base64.b32encode(raw + hashlib.sha256(raw).digest()[:_CHECK]).decode()
    grouped = "-".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return grouped, RecoveryPublicKey(private.public_key().public_bytes_raw(), created)


def parse_recovery_key(text: str) -> X25519PrivateKey:
    """The private key a person typed (case, spaces and dashes do not matter)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    letters = "".join(ch for ch in text.upper() if ch.isalnum())
    try:
        decoded = base64.b32decode(letters)
    except ValueError:
        decoded = b""
    raw, check = decoded[:-_CHECK], decoded[-_CHECK:]
    if len(raw) != 32 or hashlib.sha256(raw).digest()[:_CHECK] != check:
        raise BadRequestError(
            "That is not a recovery key: check it for typos (it has 14 groups of 4 letters "
            "and digits).",
            key="errors.recovery_key_invalid",
        )
    return X25519PrivateKey.from_private_bytes(raw)


def recovery_path(config_dir: Path) -> Path:
    """Where the public half lives."""
    return config_dir / STORAGE_DIR / RECOVERY_FILE


def read_recovery_public(config_dir: Path) -> RecoveryPublicKey | None:
    """The kept public half, or ``None`` when no recovery key was made."""
    path = recovery_path(config_dir)
    try:
        envelope = json.loads(path.read_bytes())
        data = envelope["data"]
        raw = b64decode(str(data["public_key"]))
        created = str(data["created_at"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise StorageError(
            f"{path} is damaged ({type(err).__name__}): make a new recovery key."
        ) from None
    if raw is None or len(raw) != 32:
        raise StorageError(f"{path} is damaged: make a new recovery key.")
    return RecoveryPublicKey(raw, created)


def write_recovery_public(config_dir: Path, public: RecoveryPublicKey) -> None:
    """Keep ``public`` in a storage envelope, replacing any earlier one atomically."""
    envelope = {
        "version": 1,
        "minor_version": 1,
        "key": RECOVERY_FILE,
        "data": {
            "public_key": b64encode(public.raw),
            "fingerprint": public.fingerprint,
            "created_at": public.created_at,
        },
    }
    path = recovery_path(config_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, readable_json(envelope, ensure_ascii=True).encode())
