"""Tests for envelope encryption of secrets: real files in a temporary config directory."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from hub.core.crypto import Keyring, RotationResult, rotate_master_key
from hub.core.errors import (
    MASTER_KEY_INVALID,
    MASTER_KEY_MISMATCH,
    MASTER_KEY_MISSING,
    SECRET_UNDECRYPTABLE,
    CryptoError,
    StorageError,
)
from hub.core.master_key import MasterKey, load_master_key
from hub.core.redact import SECRETS
from hub.core.storage import StorageManager, write_atomic

PASSWORD = "correct horse battery staple"
# Bytes chosen so that standard base64 has "+" and "/" and the urlsafe form has "-" and "_".
ODD_KEY = b"\xfb\xff\xbf" * 10 + b"\xfe\xff"


@pytest.fixture(autouse=True)
def _unmask_after_test() -> Iterator[None]:
    yield
    SECRETS.clear()


async def open_keyring(config_dir: Path, env: Mapping[str, str] | None = None) -> Keyring:
    manager = StorageManager(config_dir)
    manager.prepare()
    return await Keyring(manager, env or {}).open()


async def rotate(config_dir: Path, env: Mapping[str, str] | None = None) -> RotationResult:
    manager = StorageManager(config_dir)
    manager.prepare()
    return await rotate_master_key(manager, env or {})


def storage(config_dir: Path) -> Path:
    return config_dir / ".storage"


def snapshot(config_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the config directory with its bytes and mode, to prove nothing changed."""
    return {
        str(path.relative_to(config_dir)): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted(config_dir.rglob("*"))
        if path.is_file()
    }


def env_key(key: bytes) -> dict[str, str]:
    return {"HUB_MASTER_KEY": key.hex()}


def key_file_text(config_dir: Path) -> str:
    return (storage(config_dir) / "master.key").read_text()


def file_key_id(config_dir: Path) -> str:
    master = load_master_key(storage(config_dir), {})
    assert master is not None
    return master.key_id


def flip_byte(token: str, index: int) -> str:
    version, key_id, body = token.split(":")
    blob = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    blob[index] ^= 0x01
    return f"{version}:{key_id}:{base64.urlsafe_b64encode(blob).rstrip(b'=').decode()}"


async def test_fresh_install_creates_a_private_key_file_and_a_keyring(tmp_path: Path) -> None:
    await open_keyring(tmp_path)

    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in storage(tmp_path).iterdir()}
    assert files == {"master.key": 0o600, "core.keyring": 0o600}
    assert stat.S_IMODE(storage(tmp_path).stat().st_mode) == 0o700
    master = load_master_key(storage(tmp_path), {})
    assert master is not None
    assert master.source == "file"
    keyring = json.loads((storage(tmp_path) / "core.keyring").read_text())
    assert keyring["data"]["master_fingerprint"] == master.fingerprint


async def test_a_secret_round_trips_and_survives_a_restart(tmp_path: Path) -> None:
    keyring = await open_keyring(tmp_path)
    token = await keyring.encrypt("entry-a", "password", PASSWORD)

    assert token.startswith("v1:")
    assert PASSWORD not in token
    assert keyring.decrypt("entry-a", "password", token) == PASSWORD
    restarted = await open_keyring(tmp_path)
    assert restarted.decrypt("entry-a", "password", token) == PASSWORD


async def test_first_secrets_of_an_owner_written_at_once_share_one_data_key(
    tmp_path: Path,
) -> None:
    keyring = await open_keyring(tmp_path)
    tokens = await asyncio.gather(
        *(keyring.encrypt("entry-a", f"field{i}", f"value-{i}") for i in range(5))
    )

    assert len({token.split(":")[1] for token in tokens}) == 1
    restarted = await open_keyring(tmp_path)
    assert [restarted.decrypt("entry-a", f"field{i}", t) for i, t in enumerate(tokens)] == [
        f"value-{i}" for i in range(5)
    ]


@pytest.mark.parametrize("index", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
async def test_a_tampered_token_does_not_decrypt(tmp_path: Path, index: int) -> None:
    keyring = await open_keyring(tmp_path)
    token = await keyring.encrypt("entry-a", "password", PASSWORD)
    tampered = flip_byte(token, index)

    with pytest.raises(CryptoError) as caught:
        keyring.decrypt("entry-a", "password", tampered)

    assert caught.value.code == SECRET_UNDECRYPTABLE
    message = str(caught.value)
    assert "'entry-a'" in message
    assert "'password'" in message
    assert PASSWORD not in message
    assert tampered.split(":")[2] not in message


@pytest.mark.parametrize(
    ("owner", "field"), [("entry-b", "password"), ("entry-a", "api_key"), ("entry-c", "password")]
)
async def test_a_token_copied_to_another_owner_or_field_does_not_decrypt(
    tmp_path: Path, owner: str, field: str
) -> None:
    keyring = await open_keyring(tmp_path)
    token = await keyring.encrypt("entry-a", "password", PASSWORD)
    await keyring.encrypt("entry-b", "password", "entry b's own password")

    with pytest.raises(CryptoError) as caught:
        keyring.decrypt(owner, field, token)

    assert caught.value.code == SECRET_UNDECRYPTABLE
    assert f"{field!r} of {owner!r}" in str(caught.value)


@pytest.mark.parametrize(
    "token",
    [
        "hunter2-in-plain-text",
        "v1:only-two-parts",
        "v2:abcdef012345:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:abcdef012345:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:abcdef012345:not base64!",
        "",
    ],
)
async def test_something_that_is_not_a_token_is_refused_without_echoing_it(
    tmp_path: Path, token: str
) -> None:
    keyring = await open_keyring(tmp_path)
    await keyring.encrypt("entry-a", "password", PASSWORD)

    with pytest.raises(CryptoError) as caught:
        keyring.decrypt("entry-a", "password", token)

    assert caught.value.code == SECRET_UNDECRYPTABLE
    assert "'password' of 'entry-a'" in str(caught.value)
    if token:
        assert token not in str(caught.value)
        assert token.rpartition(":")[2] not in str(caught.value)


async def test_rotation_keeps_every_secret_readable_and_retires_the_old_key(
    tmp_path: Path,
) -> None:
    keyring = await open_keyring(tmp_path)
    secrets = {(f"entry-{n}", "password"): f"password number {n}" for n in range(3)}
    tokens = {where: await keyring.encrypt(*where, value) for where, value in secrets.items()}
    old_key = key_file_text(tmp_path)
    old_id = file_key_id(tmp_path)

    result = await rotate(tmp_path)

    assert (result.old_key_id, result.data_keys, result.pending_key_file) == (old_id, 3, None)
    assert result.new_key_id != old_id
    assert "Back up the new master.key" in result.message
    assert key_file_text(tmp_path) != old_key
    assert sorted(p.name for p in storage(tmp_path).iterdir()) == ["core.keyring", "master.key"]
    assert stat.S_IMODE((storage(tmp_path) / "master.key").stat().st_mode) == 0o600
    restarted = await open_keyring(tmp_path)
    for where, token in tokens.items():
        assert restarted.decrypt(*where, token) == secrets[where]

    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path, {"HUB_MASTER_KEY": old_key})
    assert caught.value.code == MASTER_KEY_MISMATCH
    assert result.old_key_id in str(caught.value)
    assert result.new_key_id in str(caught.value)


async def test_rotation_with_an_env_key_asks_for_the_new_key_in_the_variable(
    tmp_path: Path,
) -> None:
    old_env = env_key(ODD_KEY)
    keyring = await open_keyring(tmp_path, old_env)
    token = await keyring.encrypt("entry-a", "password", PASSWORD)
    assert not (storage(tmp_path) / "master.key").exists()

    result = await rotate(tmp_path, old_env)

    pending = storage(tmp_path) / "master.key.new"
    assert result.pending_key_file == pending
    assert f"Set HUB_MASTER_KEY to the contents of {pending}" in result.message
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert not (storage(tmp_path) / "master.key").exists()
    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path, old_env)
    assert caught.value.code == MASTER_KEY_MISMATCH
    assert "master.key.new" in str(caught.value)
    assert "Set HUB_MASTER_KEY" in str(caught.value)
    assert pending.exists()

    new_env = {"HUB_MASTER_KEY": pending.read_text()}
    restarted = await open_keyring(tmp_path, new_env)
    assert restarted.decrypt("entry-a", "password", token) == PASSWORD
    assert pending.exists(), "the file is the person's to delete once the variable is set"
    pending.unlink()
    restarted = await open_keyring(tmp_path, new_env)
    assert restarted.decrypt("entry-a", "password", token) == PASSWORD


@pytest.mark.parametrize("step", ["new key written", "keyring re-wrapped", "key file renamed"])
async def test_an_interrupted_rotation_recovers_on_the_next_start(
    tmp_path: Path, step: str
) -> None:
    keyring = await open_keyring(tmp_path)
    token = await keyring.encrypt("entry-a", "password", PASSWORD)
    key_file = storage(tmp_path) / "master.key"
    keyring_file = storage(tmp_path) / "core.keyring"
    old_key, old_keyring = key_file.read_bytes(), keyring_file.read_bytes()
    await rotate(tmp_path)
    new_key, new_keyring = key_file.read_bytes(), keyring_file.read_bytes()

    on_disk = {
        "new key written": (old_key, old_keyring, new_key),
        "keyring re-wrapped": (old_key, new_keyring, new_key),
        "key file renamed": (new_key, new_keyring, None),
    }[step]
    write_atomic(key_file, on_disk[0])
    write_atomic(keyring_file, on_disk[1])
    if on_disk[2] is not None:
        write_atomic(storage(tmp_path) / "master.key.new", on_disk[2])

    restarted = await open_keyring(tmp_path)

    assert restarted.decrypt("entry-a", "password", token) == PASSWORD
    assert sorted(p.name for p in storage(tmp_path).iterdir()) == ["core.keyring", "master.key"]
    expected_key = old_key if step == "new key written" else new_key
    assert key_file.read_bytes() == expected_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = await open_keyring(tmp_path)
    assert again.decrypt("entry-a", "password", token) == PASSWORD


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
async def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    keyring = await open_keyring(tmp_path)
    await keyring.encrypt("entry-a", "password", PASSWORD)
    key_file = storage(tmp_path) / "master.key"
    key_file.chmod(mode)
    before = snapshot(tmp_path)

    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path)

    assert caught.value.code == MASTER_KEY_INVALID
    assert f"chmod 600 {key_file}" in str(caught.value)
    assert key_file_text(tmp_path).strip() not in str(caught.value)
    assert snapshot(tmp_path) == before


async def test_a_missing_key_with_stored_secrets_is_refused_and_no_key_is_made(
    tmp_path: Path,
) -> None:
    keyring = await open_keyring(tmp_path)
    await keyring.encrypt("entry-a", "password", PASSWORD)
    (storage(tmp_path) / "master.key").unlink()
    before = snapshot(tmp_path)

    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path)

    assert caught.value.code == MASTER_KEY_MISSING
    assert "master.key" in str(caught.value)
    assert "HUB_MASTER_KEY" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert snapshot(tmp_path) == before


async def test_a_different_env_key_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    keyring = await open_keyring(tmp_path)
    await keyring.encrypt("entry-a", "password", PASSWORD)
    before = snapshot(tmp_path)
    wrong = env_key(ODD_KEY)

    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path, wrong)

    assert caught.value.code == MASTER_KEY_MISMATCH
    assert MasterKey(ODD_KEY, "env").key_id in str(caught.value)
    assert file_key_id(tmp_path) in str(caught.value)
    assert wrong["HUB_MASTER_KEY"] not in str(caught.value)
    assert snapshot(tmp_path) == before


async def test_an_env_key_on_a_fresh_install_writes_no_key_file(tmp_path: Path) -> None:
    keyring = await open_keyring(tmp_path, env_key(ODD_KEY))
    token = await keyring.encrypt("entry-a", "password", PASSWORD)

    assert sorted(p.name for p in storage(tmp_path).iterdir()) == ["core.keyring"]
    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path)
    assert caught.value.code == MASTER_KEY_MISSING
    restarted = await open_keyring(tmp_path, env_key(ODD_KEY))
    assert restarted.decrypt("entry-a", "password", token) == PASSWORD


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(ODD_KEY).decode(),
        base64.b64encode(ODD_KEY).decode().rstrip("="),
        base64.urlsafe_b64encode(ODD_KEY).decode(),
        base64.urlsafe_b64encode(ODD_KEY).decode().rstrip("="),
        ODD_KEY.hex(),
        ODD_KEY.hex().upper(),
        f"  {ODD_KEY.hex()}\n",
    ],
    ids=["base64", "base64-unpadded", "urlsafe", "urlsafe-unpadded", "hex", "HEX", "whitespace"],
)
async def test_every_documented_env_key_format_opens_the_same_secrets(
    tmp_path: Path, value: str
) -> None:
    assert {"+", "/"} <= set(base64.b64encode(ODD_KEY).decode())
    assert {"-", "_"} <= set(base64.urlsafe_b64encode(ODD_KEY).decode())
    keyring = await open_keyring(tmp_path, env_key(ODD_KEY))
    token = await keyring.encrypt("entry-a", "password", PASSWORD)

    restarted = await open_keyring(tmp_path, {"HUB_MASTER_KEY": value})

    assert restarted.decrypt("entry-a", "password", token) == PASSWORD
    assert load_master_key(storage(tmp_path), {"HUB_MASTER_KEY": value}) == MasterKey(
        ODD_KEY, "env"
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-key-at-all",
        base64.b64encode(ODD_KEY[:31]).decode(),
        base64.b64encode(ODD_KEY + b"!").decode(),
        ODD_KEY.hex()[:63],
        ODD_KEY.hex() + "00",
        base64.b64encode(ODD_KEY).decode()[:20] + "!" + base64.b64encode(ODD_KEY).decode()[21:],
        "é" * 44,
    ],
)
async def test_a_malformed_env_key_is_refused_without_echoing_it(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(CryptoError) as caught:
        await open_keyring(tmp_path, {"HUB_MASTER_KEY": value})

    assert caught.value.code == MASTER_KEY_INVALID
    assert "HUB_MASTER_KEY" in str(caught.value)
    if value:
        assert value not in str(caught.value)
    assert snapshot(tmp_path) == {}


async def test_a_damaged_keyring_file_stops_start_up_and_is_kept(tmp_path: Path) -> None:
    keyring = await open_keyring(tmp_path)
    await keyring.encrypt("entry-a", "password", PASSWORD)
    path = storage(tmp_path) / "core.keyring"
    envelope = json.loads(path.read_text())
    envelope["data"]["owners"]["entry-a"] = "no-such-key"
    write_atomic(path, json.dumps(envelope).encode())
    before = snapshot(tmp_path)

    with pytest.raises(StorageError, match=r"core\.keyring is damaged"):
        await open_keyring(tmp_path)

    assert snapshot(tmp_path) == before


async def test_no_file_ever_holds_a_secret_in_plain_text(tmp_path: Path) -> None:
    keyring = await open_keyring(tmp_path)
    values = [PASSWORD, "pässwörd-ünïcode", "sk-live-0123456789abcdef"]
    for n, value in enumerate(values):
        await keyring.encrypt(f"entry-{n}", "password", value)
    await keyring.forget_owner("entry-0")
    await rotate(tmp_path)

    for name, (content, _mode) in snapshot(tmp_path).items():
        for value in values:
            assert value.encode() not in content, name
            assert json.dumps(value).encode() not in content, name


async def test_forgetting_an_owner_shreds_only_its_secrets(tmp_path: Path) -> None:
    keyring = await open_keyring(tmp_path)
    gone = await keyring.encrypt("entry-a", "password", PASSWORD)
    kept = await keyring.encrypt("entry-b", "password", "entry b's password")

    await keyring.forget_owner("entry-a")

    with pytest.raises(CryptoError) as caught:
        keyring.decrypt("entry-a", "password", gone)
    assert caught.value.code == SECRET_UNDECRYPTABLE
    assert keyring.decrypt("entry-b", "password", kept) == "entry b's password"
    restarted = await open_keyring(tmp_path)
    with pytest.raises(CryptoError):
        restarted.decrypt("entry-a", "password", gone)
    assert restarted.decrypt("entry-b", "password", kept) == "entry b's password"
    assert "entry-a" not in (storage(tmp_path) / "core.keyring").read_text()


async def test_secrets_are_masked_in_log_text_until_their_owner_is_forgotten(
    tmp_path: Path,
) -> None:
    keyring = await open_keyring(tmp_path)
    token = await keyring.encrypt("entry-a", "password", PASSWORD)
    shared_a = await keyring.encrypt("entry-a", "backup_password", "shared-secret")
    shared_b = await keyring.encrypt("entry-b", "password", "shared-secret")
    assert SECRETS.redact(f"login with {PASSWORD}") == "login with ***"
    SECRETS.clear()  # as after a restart: nothing has been decrypted yet
    restarted = await open_keyring(tmp_path)
    assert SECRETS.redact(PASSWORD) == PASSWORD

    for _ in range(2):
        restarted.decrypt("entry-a", "password", token)
        restarted.decrypt("entry-a", "backup_password", shared_a)
    restarted.decrypt("entry-b", "password", shared_b)

    assert SECRETS.redact(f"login with {PASSWORD}") == "login with ***"
    await restarted.forget_owner("entry-a")
    assert SECRETS.redact(f"login with {PASSWORD}") == f"login with {PASSWORD}"
    assert SECRETS.redact("shared-secret") == "***", "entry-b still uses it"


def test_a_master_key_never_shows_itself_in_a_repr() -> None:
    key = MasterKey(ODD_KEY, "env")

    text = f"{key!r} {key} {[key]}"

    assert key.key_id in text
    for form in (ODD_KEY.hex(), repr(ODD_KEY), base64.b64encode(ODD_KEY).decode()):
        assert form not in text


def test_importing_the_module_does_not_load_cryptography() -> None:
    code = "import sys, hub.core.crypto; sys.exit('cryptography' in sys.modules)"
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


async def test_many_new_owners_at_once_cost_a_few_keyring_writes_and_all_survive(
    tmp_path: Path,
) -> None:
    keyring = await open_keyring(tmp_path)
    owners = [f"entry-{i}" for i in range(300)]
    tokens = await asyncio.gather(*(keyring.encrypt(o, "api_key", f"key of {o}") for o in owners))
    store_writes = keyring._store.write_count
    assert store_writes <= 6, f"{store_writes} keyring writes for 300 new owners"
    reopened = await open_keyring(tmp_path)
    assert [reopened.decrypt(o, "api_key", t) for o, t in zip(owners, tokens, strict=True)] == [
        f"key of {o}" for o in owners
    ]
