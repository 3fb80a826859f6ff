"""The archive format on its own: a payload of several chunks survives the round trip, and every way
of cutting, reordering or extending the chunks is caught and named."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable

import pytest

from hub.ops.backup_errors import BackupDamagedError, BackupPassphraseWrongError
from hub.ops.backup_format import (
    CHUNK_SIZE,
    ArchiveReader,
    ArchiveWriter,
    Header,
    Secret,
    passphrase_slot,
    read_header,
    unlock,
)

Change = Callable[[bytes, list[bytes]], bytes]
PAYLOAD = os.urandom(3 * CHUNK_SIZE + 1234)  # random: compression leaves four chunks


def _archive() -> bytes:
    key = os.urandom(32)
    header = Header(
        "0.1.0", 1, "2026-01-01T00:00:00+00:00", False, {}, (passphrase_slot(key, "pw"),)
    )
    out = io.BytesIO()
    writer = ArchiveWriter(out, header, key)
    writer.write(PAYLOAD)
    writer.close()
    return out.getvalue()


def _read(data: bytes, passphrase: str = "pw") -> bytes:
    source = io.BytesIO(data)
    header, raw = read_header(source)
    reader = ArchiveReader(source, raw, unlock(header, Secret(passphrase=passphrase)))
    payload = reader.read()
    reader.drain()
    return payload


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    """The archive's lead (mark and header) and its sealed chunks, each with its length."""
    (size,) = struct.unpack(">I", data[10:14])
    at = lead = 14 + size
    chunks = []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append(data[at : at + 4 + length])
        at += 4 + length
    return data[:lead], chunks


ARCHIVE = _archive()


def test_a_payload_of_several_chunks_round_trips() -> None:
    assert len(_chunks(ARCHIVE)[1]) == 4
    assert _read(ARCHIVE) == PAYLOAD


def test_a_wrong_passphrase_opens_nothing() -> None:
    with pytest.raises(BackupPassphraseWrongError):
        _read(ARCHIVE, "not it")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda lead, c: lead + c[1] + c[0] + c[2] + c[3], "chunk 0 does not decrypt"),
        (lambda lead, c: lead + c[0] + c[1] + c[2], "truncated (it ends before chunk 3)"),
        (lambda lead, c: lead + c[0] + c[1] + c[3], "chunk 2 does not decrypt"),
        (lambda lead, c: lead + c[0] + c[1] + c[2] + c[3] + b"x", "data after its final chunk"),
        (lambda lead, c: lead[:-3] + b"}}}" + b"".join(c), "header"),
        (lambda lead, c: b"NOTABACKUP" + lead[10:] + b"".join(c), "not a hub backup"),
    ],
    ids=["reordered", "final chunk dropped", "chunk dropped", "extended", "header", "mark"],
)
def test_every_change_is_caught(change: Change, words: str) -> None:
    lead, chunks = _chunks(ARCHIVE)
    changed = change(lead, chunks)
    with pytest.raises(BackupDamagedError, match=words.replace("(", r"\(").replace(")", r"\)")):
        _read(changed)
