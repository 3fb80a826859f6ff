"""Password hashing with Argon2id (memory-hard), falling back to scrypt where Argon2 is missing."""

from __future__ import annotations

import base64
import hmac
import os
from typing import Final

ARGON2_MEMORY_KIB: Final = 19_456
"""19 MiB, two passes, one lane: OWASP's minimum for Argon2id, and affordable on a Pi."""
ARGON2_ITERATIONS: Final = 2
SCRYPT_N: Final = 2**15
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32


def hash_password(password: str) -> str:
    """A PHC-style string holding the algorithm, its parameters, the salt and the hash."""
    salt = os.urandom(SALT_BYTES)
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    except ImportError:  # pragma: no cover - cryptography builds without Argon2
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        digest = Scrypt(salt=salt, length=HASH_BYTES, n=SCRYPT_N, r=8, p=1).derive(
            password.encode()
        )
        return f"$scrypt$n={SCRYPT_N},r=8,p=1${_b64(salt)}${_b64(digest)}"
    kdf = Argon2id(
        salt=salt,
        length=HASH_BYTES,
        iterations=ARGON2_ITERATIONS,
        lanes=1,
        memory_cost=ARGON2_MEMORY_KIB,
    )
    digest = kdf.derive(password.encode())
    params = f"m={ARGON2_MEMORY_KIB},t={ARGON2_ITERATIONS},p=1"
    return f"$argon2id$v=19${params}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed ``stored`` never matches."""
    parts = stored.split("$")
    try:
        if parts[1] == "argon2id" and len(parts) == 6:
            from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

            params = dict(item.split("=") for item in parts[3].split(","))
            salt, expected = _unb64(parts[4]), _unb64(parts[5])
            kdf = Argon2id(
                salt=salt,
                length=len(expected),
                iterations=int(params["t"]),
                lanes=int(params["p"]),
                memory_cost=int(params["m"]),
            )
            return hmac.compare_digest(kdf.derive(password.encode()), expected)
        if parts[1] == "scrypt" and len(parts) == 5:
            from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

            params = dict(item.split("=") for item in parts[2].split(","))
            salt, expected = _unb64(parts[3]), _unb64(parts[4])
            kdf_s = Scrypt(
                salt=salt,
                length=len(expected),
                n=int(params["n"]),
                r=int(params["r"]),
                p=int(params["p"]),
            )
            return hmac.compare_digest(kdf_s.derive(password.encode()), expected)
    except (IndexError, KeyError, ValueError):
        return False
    return False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
