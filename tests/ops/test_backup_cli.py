"""``hub backup create|verify|restore`` on real config directories: what works, and every refusal
with its message, leaving everything as it was."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from hub.ops.recovery_key import new_recovery_key
from tests.ops.backup_support import PASSPHRASE, hub_cli, listing
from tests.robustness.support_live_hub import OWNER, hub_process

ENV = {"HUB_BACKUP_PASSPHRASE": PASSPHRASE}


@pytest.fixture
async def stopped_hub(tmp_path: Path) -> Path:
    """The config directory of a hub that ran once (an owner signed up) and stopped."""
    async with (
        hub_process(tmp_path / "hub") as hub,
        aiohttp.ClientSession() as session,
        session.post(f"{hub.url}/api/onboarding", json=OWNER) as resp,
    ):
        assert resp.status == 200
    return tmp_path / "hub" / "config"


async def _backup(config: Path, output: Path, env: dict[str, str] = ENV) -> None:
    made = await hub_cli(
        "backup", "create", "--config", str(config), "--output", str(output), env=env
    )
    assert made.code == 0, made


async def test_verify_passes_and_each_refusal_changes_nothing(
    stopped_hub: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "a.hubbackup"
    await _backup(stopped_hub, archive)
    checked = await hub_cli("backup", "verify", str(archive), env=ENV)
    assert checked.code == 0, checked
    assert checked.out.startswith(f"Backup OK: {archive}")

    new = tmp_path / "new"
    wrong = await hub_cli(
        "backup", "restore", str(archive), "--config", str(new),
        env={"HUB_BACKUP_PASSPHRASE": "not the passphrase"},
    )  # fmt: skip
    assert wrong.code == 1
    assert "does not open this backup" in wrong.err
    assert not new.exists()

    data = archive.read_bytes()
    truncated, flipped = tmp_path / "cut.hubbackup", tmp_path / "flipped.hubbackup"
    truncated.write_bytes(data[: len(data) - 100])
    middle = len(data) // 2
    flipped.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])
    for bad, words in ((truncated, "truncated"), (flipped, "does not decrypt")):
        for action in (("verify", str(bad)), ("restore", str(bad), "--config", str(new))):
            refused = await hub_cli("backup", *action, env=ENV)
            assert refused.code == 1, refused
            assert "The backup is damaged" in refused.err
            assert words in refused.err, refused.err
            assert not new.exists()

    before = listing(stopped_hub)
    async with hub_process(stopped_hub.parent) as hub:
        running = await hub_cli(
            "backup", "restore", str(archive), "--config", str(stopped_hub), env=ENV
        )
        assert running.code == 1
        assert f"A hub is running on {stopped_hub}: stop it first" in running.err
        assert hub.proc.returncode is None
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "shopping.txt").write_text("milk")
    busy = await hub_cli("backup", "restore", str(archive), "--config", str(notes), env=ENV)
    assert busy.code == 1
    assert "is not empty and holds no hub" in busy.err
    assert listing(notes) == {"shopping.txt": b"milk"}

    stopped_before = listing(stopped_hub)
    assert set(before) <= set(stopped_before)  # the run in between only added to it
    done = await hub_cli("backup", "restore", str(archive), "--config", str(stopped_hub), env=ENV)
    assert done.code == 0, done
    aside = Path(re.findall(r"kept in (\S+)", done.out)[0])
    assert aside.name.startswith("config.before-restore-")
    assert listing(aside) == stopped_before  # the replaced directory is kept whole


async def test_a_backup_of_a_newer_hub_is_refused(stopped_hub: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    shutil.copytree(stopped_hub, newer)
    conn = sqlite3.connect(newer / "hub.db")
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.execute(f"PRAGMA user_version = {version + 1}")
    conn.close()
    archive = tmp_path / "newer.hubbackup"
    await _backup(newer, archive)
    target = tmp_path / "target"
    for action in (("verify", str(archive)), ("restore", str(archive), "--config", str(target))):
        refused = await hub_cli("backup", *action, env=ENV)
        assert refused.code == 1, refused
        assert "The backup was made by a newer hub" in refused.err
    assert not target.exists()


async def test_the_recovery_key_opens_backups_made_without_a_passphrase(
    stopped_hub: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first.hubbackup"
    made = await hub_cli("backup", "create", "--config", str(stopped_hub), "--output", str(first))
    assert made.code == 0, made
    (key,) = re.findall(r"^recovery key: ([A-Z2-7-]+)$", made.out, re.MULTILINE)
    assert len(key.split("-")) == 14
    assert key not in (stopped_hub / ".storage" / "backup.recovery").read_text()

    second = tmp_path / "second.hubbackup"
    again = await hub_cli("backup", "create", "--config", str(stopped_hub), "--output", str(second))
    assert again.code == 0
    assert "recovery key" not in again.out

    for archive in (first, second):
        opened = await hub_cli("backup", "verify", str(archive), "--recovery-key", key.lower())
        assert opened.code == 0, opened
    other, _ = new_recovery_key()
    wrong = await hub_cli("backup", "verify", str(first), "--recovery-key", other)
    assert wrong.code == 1
    assert "does not open this backup" in wrong.err
    typo = key[:-1] + ("A" if key[-1] != "A" else "B")
    mistyped = await hub_cli("backup", "verify", str(first), "--recovery-key", typo)
    assert mistyped.code == 1
    assert "not a recovery key" in mistyped.err
    nothing = await hub_cli("backup", "verify", str(first))
    assert nothing.code == 1
    assert "--recovery-key" in nothing.err
    target = tmp_path / "restored"
    done = await hub_cli(
        "backup", "restore", str(first), "--config", str(target), "--recovery-key", key
    )
    assert done.code == 0, done
    assert (target / ".storage" / "master.key").read_bytes() == (
        stopped_hub / ".storage" / "master.key"
    ).read_bytes()
