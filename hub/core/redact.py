"""The registry of secret values that must never appear in text the hub emits, and their redaction."""

from __future__ import annotations

import re
import threading
from base64 import b64encode
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 3
"""Shorter values are not masked: replacing every "ab" in every log line would hide more than it saves."""
MIN_ENCODED_CORE: Final = 8
"""A base64 core shorter than this (a secret under ~9 bytes) could turn up in unrelated base64 text."""
_BASE64_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


@dataclass(frozen=True, slots=True)
class _Form:
    """One spelling of a secret in text; ``encoded`` marks a base64 core that masks its whole run."""

    text: str
    encoded: bool = False


class SecretRegistry:
    """Secret values known to this process; ``redact`` replaces each with ``***``.

    Values are reference counted, so two entries that share a password keep it masked until both are
    gone. Each value is masked in the forms a client puts on the wire too: percent-encoded, and inside
    any base64 text such as ``Authorization: Basic base64(user:secret)`` (``Bearer <secret>`` is the
    value itself). Forms are indexed by their first ``MIN_SECRET_LENGTH`` characters, so adding one
    costs O(1) and redacting costs a dictionary look-up per character of the text, however many
    secrets there are. The registry is thread-safe because logging happens on worker threads too:
    writers hold the lock and replace buckets whole, so a reader never sees one change under it.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._forms: Counter[_Form] = Counter()
        self._index: dict[str, tuple[_Form, ...]] = {}
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Mask ``value`` (and its wire forms) from now on."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._counts[value] += 1
            if self._counts[value] == 1:
                for form in wire_forms(value):
                    self._forms[form] += 1
                    if self._forms[form] == 1:
                        self._insert(form)

    def discard(self, value: str) -> None:
        """Stop masking ``value`` once every registration of it is gone."""
        with self._lock:
            if value not in self._counts:
                return
            self._counts[value] -= 1
            if self._counts[value] > 0:
                return
            del self._counts[value]
            for form in wire_forms(value):
                self._forms[form] -= 1
                if self._forms[form] <= 0:
                    del self._forms[form]
                    self._remove(form)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._counts.clear()
            self._forms.clear()
            self._index = {}

    def __contains__(self, value: object) -> bool:
        return value in self._counts

    def __len__(self) -> int:
        return len(self._counts)

    def redact(self, text: str, mask: str = MASK) -> str:
        """Return ``text`` with every registered value, in any of its forms, replaced by ``mask``."""
        index = self._index
        if not index:
            return text
        lookup = index.get
        parts: list[str] = []
        start = 0  # where the text not yet copied to ``parts`` begins
        i, last = 0, len(text) - MIN_SECRET_LENGTH
        while i <= last:
            bucket = lookup(text[i : i + MIN_SECRET_LENGTH])
            form = _longest_at(bucket, text, i) if bucket else None
            if form is None:
                i += 1
                continue
            begin, end = i, i + len(form.text)
            if form.encoded:
                begin, end = _base64_run(text, begin, end, start)
            parts += (text[start:begin], mask)
            i = start = end
        if not parts:
            return text
        parts.append(text[start:])
        return "".join(parts)

    def _insert(self, form: _Form) -> None:
        key = form.text[:MIN_SECRET_LENGTH]
        bucket = (*self._index.get(key, ()), form)
        # Longest first, so a secret that contains another is masked whole.
        self._index[key] = tuple(sorted(bucket, key=lambda f: len(f.text), reverse=True))

    def _remove(self, form: _Form) -> None:
        key = form.text[:MIN_SECRET_LENGTH]
        bucket = tuple(f for f in self._index.get(key, ()) if f != form)
        if bucket:
            self._index[key] = bucket
        else:
            self._index.pop(key, None)


def wire_forms(value: str) -> list[_Form]:
    """``value`` as text may carry it: itself, percent-encoded, and its base64 cores."""
    forms = [_Form(value)]
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no wire form
        return forms
    quoted = quote(raw, safe="")
    if quoted != value:
        forms.append(_Form(quoted))
    forms.extend(_Form(core, encoded=True) for core in base64_cores(raw))
    return forms


def base64_cores(raw: bytes) -> list[str]:
    """The base64 characters that spell ``raw`` alone, for each of its three possible alignments.

    Whatever precedes the secret (``apikey:`` in a Basic header) only changes the characters at the
    edges, so these cores are found inside any base64 text that carries it.
    """
    cores = []
    for offset in range(3):
        encoded = b64encode(b"\0" * offset + raw).decode("ascii")
        head = 4 if offset else 0
        tail = 4 if (offset + len(raw)) % 3 else 0
        core = encoded[head : len(encoded) - tail]
        if len(core) >= MIN_ENCODED_CORE:
            cores.append(core)
    return cores


def _longest_at(bucket: tuple[_Form, ...], text: str, i: int) -> _Form | None:
    return next((form for form in bucket if text.startswith(form.text, i)), None)


def _base64_run(text: str, begin: int, end: int, floor: int) -> tuple[int, int]:
    # The edge characters mix the secret's first and last bytes with their neighbours: mask the whole
    # run, so not even those bits of the secret are left.
    while begin > floor and text[begin - 1] in _BASE64_CHARS:
        begin -= 1
    while end < len(text) and text[end] in _BASE64_CHARS:
        end += 1
    while end < len(text) and text[end] == "=":  # padding, only ever at the end
        end += 1
    return begin, end


SECRETS: Final = SecretRegistry()
"""The process-wide registry: the crypto layer adds every secret it decrypts or encrypts."""


def safe_text(err: BaseException, limit: int = 200) -> str:
    """An exception's text fit to store or show: secrets masked, its first line, at most ``limit``."""
    text = str(err)
    return SECRETS.redact(text).splitlines()[0][:limit] if text else ""


# Structured data: what diagnostics show

REDACTED: Final = "**REDACTED**"
SECRET_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "token",
        "secret",
        "apikey",
        "authorization",
        "auth",
        "cookie",
        "key",
        "credential",
        "credentials",
    }
)
"""A key with one of these words in its name (``api_key``, ``X-Api-Key``, ``accessToken``) is secret."""
MAX_DEPTH: Final = 40
"""Deeper data is cut: a diagnostics file is for reading, and recursion must stay bounded."""
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_WORD: Final = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def secret_key(key: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a value stored under ``key`` is a secret by its name (or named in ``extra``)."""
    words = [word.lower() for word in _WORD.findall(key)]
    joined = "".join(words)
    return (
        joined in extra
        or key.lower() in extra
        or joined in SECRET_WORDS
        or any(word in SECRET_WORDS for word in words)
    )


def _extra(keys: Iterable[str]) -> frozenset[str]:
    keys = list(keys)
    return frozenset(k.lower() for k in keys) | frozenset(
        "".join(w.lower() for w in _WORD.findall(k)) for k in keys
    )


def secret_values(data: Any, *, keys: Iterable[str] = ()) -> list[str]:
    """The text stored under secret keys in ``data`` (as ``redact`` judges them), at any depth:
    to be masked wherever else it turns up, such as a log line."""
    extra = _extra(keys)
    found: list[str] = []

    def walk(value: Any, secret: bool, depth: int) -> None:
        if depth >= MAX_DEPTH:
            return
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            if secret:
                found.append(str(value))
        elif isinstance(value, Mapping):
            for k in value:
                walk(value[k], secret or secret_key(str(k), extra), depth + 1)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, secret, depth + 1)

    walk(data, False, 0)
    return found


def redact(
    data: Any,
    *,
    keys: Iterable[str] = (),
    values: Iterable[str] = (),
    registry: SecretRegistry = SECRETS,
) -> Any:
    """A JSON-ready copy of ``data`` with every secret replaced by ``**REDACTED**``.

    Secret are: the values under keys whose names say so (``SECRET_WORDS``) or that ``keys`` names
    (secret fields, an integration's own list), e-mail addresses anywhere in text, every value the
    registry knows and every one of ``values`` (in their wire forms too: percent-encoded, base64).
    """
    extra = _extra(keys)
    local = SecretRegistry()
    for value in values:
        local.add(value)

    def text(value: str) -> str:
        masked = local.redact(registry.redact(value, REDACTED), REDACTED)
        return _EMAIL.sub(REDACTED, masked)

    def walk(value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return text(value)
        if depth >= MAX_DEPTH:
            return REDACTED
        if isinstance(value, Mapping):
            return {
                text(str(k)): REDACTED
                if secret_key(str(k), extra) and value[k] not in (None, "")
                else walk(value[k], depth + 1)
                for k in value
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [walk(item, depth + 1) for item in value]
        return text(str(value))

    return walk(data, 0)
