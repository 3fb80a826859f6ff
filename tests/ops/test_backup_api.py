"""Backups over HTTP: admins only, the recovery key shown once, downloads, scheduled backups with
their retention and repair, and the first page's restore, staged and applied at the next start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from hub.api.backups import BACKUPS
from hub.app import create_app
from hub.config import BackupsConfig, HubConfig
from hub.ops.backup_format import Secret
from hub.ops.backup_restore import RESTORE_DIR, staged_restore, verify_file
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.robustness.support_live_hub import hub_process

Client = TestClient[web.Request, web.Application]
StartApp = Callable[..., Awaitable[Client]]
NO_RESTART = {"HUB_RESTORE_NO_RESTART": "1"}


@pytest.fixture
def start_app(aiohttp_client: AiohttpClient) -> StartApp:
    """A hub app on ``config_dir`` with ``backups`` settings, served on loopback."""

    async def start(config_dir: Path, **backups: Any) -> Client:
        config = HubConfig(backups=BackupsConfig(**backups))
        return await aiohttp_client(create_app(config_dir, config, env=NO_RESTART))

    return start


async def _json(resp: aiohttp.ClientResponse) -> Any:
    return json.loads(await resp.read())


async def _member_token(client: Client) -> str:
    body = {"username": "kim", "password": "kims password 1"}
    assert (await client.post("/api/people", json=body)).status == 200
    resp = await client.post("/api/auth/login", json=body)
    return str((await _json(resp))["access_token"])


async def test_admins_make_download_and_delete_backups(start_app: StartApp, tmp_path: Path) -> None:
    client = await start_app(tmp_path / "config")
    await sign_in(client, OWNER, OWNER_PASSWORD)
    member = {"Authorization": f"Bearer {await _member_token(client)}"}
    for method, path in (
        ("GET", "/api/backups"),
        ("POST", "/api/backups"),
        ("POST", "/api/backups/recovery-key"),
        ("GET", "/api/backups/x.hubbackup"),
        ("DELETE", "/api/backups/x.hubbackup"),
    ):
        resp = await client.request(method, path, headers=member)
        assert resp.status == 403, (method, path)
        assert (await _json(resp))["error"]["code"] == "forbidden"

    status = await _json(await client.get("/api/backups"))
    assert status["backups"] == []
    assert status["recovery_key"] is None
    assert status["passphrase"] is False
    assert status["schedule"]["active"] is False
    refused = await client.post("/api/backups", json={})
    assert refused.status == 409
    assert (await _json(refused))["error"]["code"] == "backup_key_missing"

    made = await client.post("/api/backups/recovery-key")
    assert made.status == 201
    assert made.headers["Cache-Control"] == "no-store"
    key = (await _json(made))["recovery_key"]
    status_text = await (await client.get("/api/backups")).text()
    assert key not in status_text  # shown once: the hub keeps only the public half
    status = json.loads(status_text)
    assert status["recovery_key"]["fingerprint"]
    assert status["schedule"]["active"] is True
    for directory in (tmp_path / "config", tmp_path / "config" / ".storage"):
        for file in directory.iterdir():
            if file.is_file():
                assert key.encode() not in file.read_bytes(), file

    created = await client.post("/api/backups", json={"include_history": True})
    assert created.status == 201
    backup = await _json(created)
    assert backup["include_history"] is True
    assert backup["size"] > 0
    listed = (await _json(await client.get("/api/backups")))["backups"]
    assert [(b["name"], b["size"], b["automatic"]) for b in listed] == [
        (backup["name"], backup["size"], False)
    ]
    download = await client.get(f"/api/backups/{backup['name']}")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="{backup["name"]}"'
    archive = tmp_path / "downloaded.hubbackup"
    archive.write_bytes(await download.read())
    verified = verify_file(archive, Secret(recovery_key=key), schema_version=10_000)
    assert verified.header.include_history is True

    for name in ("../configuration.yaml", "nothing.hubbackup", ".storage"):
        missing = await client.get(f"/api/backups/{name}")
        assert missing.status == 404, name
    assert (await client.delete(f"/api/backups/{backup['name']}")).status == 204
    gone = await client.get(f"/api/backups/{backup['name']}")
    assert gone.status == 404
    assert (await _json(gone))["error"]["code"] == "backup_not_found"


async def test_scheduled_backups_keep_the_newest_and_raise_a_repair_when_failing(
    start_app: StartApp, tmp_path: Path
) -> None:
    client = await start_app(tmp_path / "config", keep=2)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    assert (await client.post("/api/backups/recovery-key")).status == 201
    manual = await _json(await client.post("/api/backups", json={}))
    backups = client.app[BACKUPS]
    for _ in range(3):
        await backups.run_scheduled()
    listed = (await _json(await client.get("/api/backups")))["backups"]
    automatic = [b["name"] for b in listed if b["automatic"]]
    assert len(automatic) == 2
    assert manual["name"] in [b["name"] for b in listed]  # made by hand: never deleted
    assert automatic[0] > automatic[1] or automatic[0].endswith("-3.hubbackup")

    blocker = backups.directory
    for path in blocker.iterdir():
        path.unlink()
    blocker.rmdir()
    blocker.write_text("a file where the backups should go")
    with pytest.raises(FileExistsError):
        await backups.run_scheduled()
    repairs = (await _json(await client.get("/api/repairs")))["repairs"]
    assert [r["key"] for r in repairs] == ["backup_failed"]
    blocker.unlink()
    await backups.run_scheduled()
    assert (await _json(await client.get("/api/repairs")))["repairs"] == []


async def _archive(start_app: StartApp, tmp_path: Path) -> tuple[Path, str]:
    """A backup of a hub whose owner is ``OWNER``, made over HTTP, and its recovery key."""
    client = await start_app(tmp_path / "source")
    await sign_in(client, OWNER, OWNER_PASSWORD)
    key = (await _json(await client.post("/api/backups/recovery-key")))["recovery_key"]
    name = (await _json(await client.post("/api/backups", json={})))["name"]
    archive = tmp_path / name
    archive.write_bytes(await (await client.get(f"/api/backups/{name}")).read())
    return archive, key


def _form(archive: Path, **fields: str) -> FormData:
    form = FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", archive.read_bytes(), filename=archive.name)
    return form


async def test_the_first_page_restores_a_backup_at_the_next_start(
    start_app: StartApp, tmp_path: Path
) -> None:
    archive, key = await _archive(start_app, tmp_path)
    fresh = tmp_path / "fresh" / "config"
    client = await start_app(fresh)
    wrong = await client.post("/api/backups/restore", data=_form(archive, passphrase="guess"))
    assert wrong.status == 400
    assert (await _json(wrong))["error"]["code"] == "backup_passphrase_wrong"
    nothing = await client.post("/api/backups/restore", data=_form(archive))
    assert nothing.status == 400
    assert (await _json(nothing))["error"]["code"] == "bad_request"
    damaged = tmp_path / "damaged.hubbackup"
    damaged.write_bytes(archive.read_bytes()[:-20])
    cut = await client.post("/api/backups/restore", data=_form(damaged, recovery_key=key))
    assert (await _json(cut))["error"]["code"] == "backup_damaged"
    assert not (fresh / RESTORE_DIR).exists()

    staged = await client.post("/api/backups/restore", data=_form(archive, recovery_key=key))
    assert staged.status == 202, await staged.text()
    assert await _json(staged) == {"restarting": False}  # HUB_RESTORE_NO_RESTART=1
    assert staged_restore(fresh) is not None
    assert [p.name for p in fresh.iterdir() if p.name.startswith(".restore-upload")] == []
    await client.close()

    # The next start applies it before anything opens: the backup's owner signs in.
    async with hub_process(tmp_path / "fresh") as hub, aiohttp.ClientSession() as session:
        login = {"username": OWNER, "password": OWNER_PASSWORD}
        async with session.post(f"{hub.url}/api/auth/login", json=login) as resp:
            assert resp.status == 200, await resp.text()
        assert "Restored the backup of" in hub.log_text()
    assert not (fresh / RESTORE_DIR).exists()
    asides = list(fresh.parent.glob("config.before-restore-*"))
    assert len(asides) == 1
    assert (asides[0] / "hub.db").exists()


async def test_a_restore_is_refused_once_someone_uses_the_hub(
    start_app: StartApp, tmp_path: Path
) -> None:
    archive, key = await _archive(start_app, tmp_path)
    client = await start_app(tmp_path / "used")
    await sign_in(client, "someone", "someones password 1")
    client.session.headers.pop("Authorization")
    refused = await client.post("/api/backups/restore", data=_form(archive, recovery_key=key))
    assert refused.status == 403
    assert (await _json(refused))["error"]["code"] == "onboarding_closed"
    assert not (tmp_path / "used" / RESTORE_DIR).exists()


async def test_a_running_hub_restarts_itself_into_the_restored_backup(
    start_app: StartApp, tmp_path: Path
) -> None:
    archive, key = await _archive(start_app, tmp_path)
    async with hub_process(tmp_path / "new") as hub, aiohttp.ClientSession() as session:
        form = _form(archive, recovery_key=key)
        async with session.post(f"{hub.url}/api/backups/restore", data=form) as resp:
            assert resp.status == 202, await resp.text()
            assert await resp.json() == {"restarting": True}
        login = {"username": OWNER, "password": OWNER_PASSWORD}
        async with asyncio.timeout(60):
            while True:  # the same process, started again by its own command line
                try:
                    async with session.post(f"{hub.url}/api/auth/login", json=login) as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        assert hub.proc.returncode is None
        assert "Restarting to apply the restored backup" in hub.log_text()
