"""A full or read-only disk: typed 507/503 answers, the previous state kept, reads on, then recovery."""

# How the faults are made, none of them by mocking the hub's own code:
#
# - JSON storage files: ``OsFaults`` replaces the ``os`` module that ``hub/core/storage.py`` sees
#   with one that answers like the OS of a read-only file system (``os.open`` of the temporary file
#   fails with ``EROFS``) or of a full disk (``os.fsync`` of the written file fails with ``ENOSPC``,
#   where a full disk reports at the latest), for files under the test's directory only.
# - SQLite: real states of the hub's own connection: ``PRAGMA max_page_count`` at the current size
#   gives a real ``SQLITE_FULL``; ``PRAGMA query_only`` a real ``SQLITE_READONLY``.
# - A real file system: a small tmpfs filled to the last byte, and a tmpfs remounted read-only, when
#   this process may mount (root with ``CAP_SYS_ADMIN``, e.g. a privileged container); otherwise
#   those two tests skip with the reason.

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

import hub.core.storage as storage_module
from hub.api.history import HISTORY
from hub.api.state import (
    AGENTS,
    AUTH,
    CHAT,
    CONFIG_ENTRIES,
    DATABASE,
    ENTITIES,
    KEYRING,
    REGISTRY,
    STORAGE,
    SURFACES,
)
from hub.app import create_app
from hub.auth.principal import Principal
from hub.config import HttpConfig, HubConfig, IntegrationsConfig
from hub.core.disk import StorageReadOnlyError
from hub.core.errors import STORAGE_FULL, STORAGE_READ_ONLY, StorageError
from hub.core.storage import StorageManager
from hub.entities.history import History
from hub.integrations.capabilities import SurfaceDescriptor
from hub.integrations.config_entries import ENTRIES_VERSION
from hub.integrations.entry import ConfigEntry, migrate_entries
from tests.api.conftest import STATION, VAULT_FLOW, VAULT_INIT, FakeStation
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration

FULL: Final = "full"
READ_ONLY: Final = "read_only"
ANSWERS: Final = {FULL: (507, STORAGE_FULL), READ_ONLY: (503, STORAGE_READ_ONLY)}
"""What a write refused by the disk answers: 507 Insufficient Storage, or 503 for a read-only one."""
ERRNOS: Final = {FULL: errno.ENOSPC, READ_ONLY: errno.EROFS}


# The faults


class OsFaults:
    """The ``os`` module as ``hub/core/storage.py`` sees it, refusing writes into one directory."""

    # Only the two calls where the OS reports these faults change; the rest is the real ``os``.
    # ``only`` narrows the fault to one storage key (its temporary file is ``.<key>.tmp-…``).

    def __init__(self, directory: Path) -> None:
        self._dir = f"{directory}{os.sep}"
        self._paths: dict[int, str] = {}
        self.fault: str | None = None
        self.only: str | None = None
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        """``os.open``: a read-only file system refuses to create the temporary file."""
        text = os.fspath(path)
        if self.fault == READ_ONLY and flags & os.O_CREAT and self._hit(text):
            self.refused += 1
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), text)
        fd = os.open(path, flags, mode, **kw)
        self._paths[fd] = text
        return fd

    def fsync(self, fd: int) -> None:
        """``os.fsync``: a full disk refuses the data of the temporary file."""
        path = self._paths.get(fd, "")
        if self.fault == FULL and self._hit(path):
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        os.fsync(fd)

    def _hit(self, path: str) -> bool:
        if not path.startswith(self._dir):
            return False
        return self.only is None or Path(path).name.startswith(f".{self.only}.tmp-")


class Disk:
    """Turns the faults of one hub's disk on and off: its storage files and its database."""

    def __init__(self, faults: OsFaults) -> None:
        self.files = faults
        self._app: web.Application | None = None
        self._database_fault: str | None = None
        self._max_pages = 0

    def attach(self, app: web.Application) -> None:
        """The hub whose database the SQLite faults apply to."""
        self._app = app

    def fail_files(self, kind: str, only: str | None = None) -> None:
        """Storage files are refused as on a full (``full``) or read-only (``read_only``) disk."""
        self.files.fault, self.files.only = kind, only

    async def fail_database(self, kind: str) -> None:
        """The database refuses writes: no page beyond its size (full), or ``query_only``."""
        conn = self._database().conn
        if kind == FULL:
            self._max_pages = await self._pragma("max_page_count")
            pages = await self._pragma("page_count")
            await conn.execute(f"PRAGMA max_page_count = {pages}")
        else:
            await conn.execute("PRAGMA query_only = ON")
        self._database_fault = kind

    async def fix(self) -> None:
        """Space is back and the file system is writable again."""
        self.files.fault = self.files.only = None
        kind, self._database_fault = self._database_fault, None
        if kind == FULL:
            await self._database().conn.execute(f"PRAGMA max_page_count = {self._max_pages}")
        elif kind == READ_ONLY:
            await self._database().conn.execute("PRAGMA query_only = OFF")

    def _database(self) -> Any:
        assert self._app is not None
        return self._app[DATABASE]

    async def _pragma(self, name: str) -> int:
        async with self._database().conn.execute(f"PRAGMA {name}") as cursor:
            row = await cursor.fetchone()
        return int(row[0])


# A hub to break


class DiskHub(HubClient):
    """A started hub, signed in as its owner, with the disk it writes to."""

    def __init__(
        self,
        client: TestClient[web.Request, web.Application],
        app: web.Application,
        config_dir: Path,
        disk: Disk,
        station: FakeStation,
        station_url: str,
    ) -> None:
        super().__init__(client, app)
        self.config_dir = config_dir
        self.disk = disk
        self.station = station
        self.station_url = station_url

    @property
    def storage_dir(self) -> Path:
        """``.storage/`` of the config directory."""
        return self.config_dir / ".storage"

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Any method, JSON in and out."""
        async with self.client.request(method, path, json=body) as resp:
            return resp.status, await resp.json()

    async def health(self) -> dict[str, Any]:
        """``GET /api/health``."""
        status, body = await self.get("/api/health")
        assert status == 200, body
        return dict(body)

    def files(self) -> dict[str, bytes]:
        """Every file in ``.storage/`` and its bytes."""
        return {p.name: p.read_bytes() for p in sorted(self.storage_dir.iterdir()) if p.is_file()}

    def leftovers(self) -> list[str]:
        """Temporary files of writes; an atomic write that failed leaves none."""
        return [p.name for p in self.storage_dir.glob(".*.tmp-*")]

    def stored(self, key: str) -> Any:
        """The data of a storage file, as on disk."""
        return json.loads((self.storage_dir / key).read_text())["data"]

    def integration_module(self, domain: str) -> ModuleType:
        """The module of a loaded integration (its ``SETUPS`` and ``UNLOADS`` lists)."""
        loaded = self.app[REGISTRY].get(domain)
        assert loaded is not None
        return sys.modules[type(loaded.integration).__module__]

    async def add_station(self) -> str:
        """A station entry (pulls, pushes, acts) on the fake station, its first sync done; its id."""
        entries = self.app[CONFIG_ENTRIES]
        entry = await entries.create(
            domain="station",
            title="Station",
            scope="global",
            owner=None,
            data={"url": self.station_url},
            secrets={},
            version=1,
        )
        # No sync, and no delayed save of what it noted on the entry, races the test's snapshots.
        await until(lambda: entries.require(entry.entry_id).last_sync is not None)
        await self.app[STORAGE].settle()
        return entry.entry_id

    async def entities(self, **query: str) -> list[dict[str, Any]]:
        """``GET /api/entities``: reads must work whatever the disk does."""
        status, body = await self.get("/api/entities", params=query)
        assert status == 200, body
        return list(body["entities"])


StartHub = Callable[..., Awaitable[DiskHub]]


@pytest.fixture
def os_faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OsFaults:
    """The storage module's ``os``, ready to refuse writes under ``tmp_path``."""
    faults = OsFaults(tmp_path)
    monkeypatch.setattr(storage_module, "os", faults)
    return faults


@pytest.fixture
async def start_hub(
    no_lingering_tasks: None,
    tmp_path: Path,
    os_faults: OsFaults,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
) -> AsyncIterator[StartHub]:
    """Start a hub (on ``tmp_path/config`` or a given directory) with test integrations."""
    bundled = tmp_path / "integrations"
    make_integration(
        bundled,
        "vault",
        init=VAULT_INIT,
        files={"config_flow.py": VAULT_FLOW},
        config_flow=True,
        single_instance=False,
    )
    make_integration(bundled, "lamp")  # no config flow: an entry at once
    make_integration(
        bundled, "station", init=STATION, single_instance=False, iot_class="local_polling"
    )
    station = FakeStation()
    station_url = str((await aiohttp_server(station.app())).make_url("/")).rstrip("/")
    disk = Disk(os_faults)

    async def start(config_dir: Path | None = None) -> DiskHub:
        config_dir = config_dir or tmp_path / "config"
        config = HubConfig(
            integrations=IntegrationsConfig(bundled_dir=bundled),
            http=HttpConfig(webhook_rate_per_second=1000, webhook_burst=1000),
        )
        app = create_app(config_dir, config, env={})
        app[STORAGE].retry_delays = (0.05, 0.1)  # seconds, not the minutes a real hub waits
        app[STORAGE].save_delay = 0.02
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        disk.attach(app)
        return DiskHub(client, app, config_dir, disk, station, station_url)

    yield start
    await disk.fix()  # the database must be writable again to close cleanly


@pytest.fixture
async def hub(start_hub: StartHub) -> DiskHub:
    """A started hub on ``tmp_path/config``."""
    return await start_hub()


def assert_refused(status: int, body: Any, kind: str, where: Path) -> None:
    """The answer of a write the disk refused: typed, in words a self-hoster acts on."""
    assert (status, body["error"]["code"]) == ANSWERS[kind], body
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "key", "params"}, "no correlation id"
    assert str(where) in body["error"]["params"]["where"], body
    message = body["error"]["message"]
    assert str(where) in message, message
    words = ("is full", "Free some space") if kind == FULL else ("read-only", "writable again")
    assert all(word in message for word in words), message
    assert "Traceback" not in message


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """A full disk is an expected state: no unexpected-error logs with a traceback."""
    bad = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert not bad, bad


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for a background effect (a retried save)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


KINDS = pytest.mark.parametrize("kind", [FULL, READ_ONLY])


# JSON storage files


@KINDS
async def test_an_entry_a_flow_creates_is_not_half_created_and_the_same_submit_succeeds_later(
    hub: DiskHub, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    setups = hub.integration_module("vault").SETUPS
    form = await hub.start_flow("vault")
    before, setups_before = hub.files(), list(setups)
    user_input = {"name": "home", "token": "vault-token-123", "mode": "safe"}

    hub.disk.fail_files(kind)
    status, body = await hub.post(
        f"/api/config-flows/{form['flow_id']}", {"user_input": user_input}
    )

    assert_refused(status, body, kind, hub.config_dir)
    assert hub.disk.files.refused > 0
    assert hub.files() == before, "every file is the previous version"
    assert hub.leftovers() == [], "the temporary file of the failed write is gone"
    status, listed = await hub.get("/api/config-entries")
    assert status == 200
    assert listed["entries"] == [], "not listed: nothing half-created"
    assert setups == setups_before, "no runtime setup of an entry that is not stored"
    assert (await hub.health())["storage"] == kind

    hub.disk.files.fault = None
    done = await hub.submit(form["flow_id"], user_input)  # the same flow, the same answer

    assert done["type"] == "create_entry", done
    entry_id = done["entry_id"]
    assert [e["entry_id"] for e in hub.stored("core.config_entries")["entries"]] == [entry_id]
    owners = hub.stored("core.keyring")["owners"]
    assert set(owners) == set(before_owners(before)) | {entry_id}, "no data key left dangling"
    assert entry_id in setups
    assert (await hub.health())["storage"] == "ok"
    no_tracebacks(caplog)


def before_owners(files: dict[str, bytes]) -> list[str]:
    """The keyring's owners in a snapshot of ``.storage/``."""
    return list(json.loads(files["core.keyring"])["data"]["owners"])


async def test_a_data_key_made_for_an_entry_the_disk_refused_is_destroyed(hub: DiskHub) -> None:
    """The keyring's write lands, the entries file's does not: the new data key goes again."""
    form = await hub.start_flow("vault")
    owners = before_owners(hub.files())
    writes = hub.app[KEYRING]._store.write_count

    hub.disk.fail_files(FULL, only="core.config_entries")
    user_input = {"name": "home", "token": "vault-token-123", "mode": "safe"}
    status, body = await hub.post(
        f"/api/config-flows/{form['flow_id']}", {"user_input": user_input}
    )

    assert_refused(status, body, FULL, hub.config_dir)
    assert hub.app[KEYRING]._store.write_count == writes + 2, "the key was stored, then removed"
    assert sorted(hub.stored("core.keyring")["owners"]) == sorted(owners)
    assert not (await hub.get("/api/config-entries"))[1]["entries"]
    assert hub.leftovers() == []


@KINDS
async def test_deleting_or_disabling_an_entry_keeps_it_loaded_when_the_disk_refuses(
    hub: DiskHub, kind: str
) -> None:
    module = hub.integration_module("vault")
    form = await hub.start_flow("vault")
    entry_id = (await hub.submit(form["flow_id"], {"name": "home", "mode": "safe"}))["entry_id"]
    before, unloads = hub.files(), list(module.UNLOADS)

    hub.disk.fail_files(kind)
    for method, path in (
        ("DELETE", f"/api/config-entries/{entry_id}"),
        ("POST", f"/api/config-entries/{entry_id}/disable"),
    ):
        status, body = await hub.call(method, path)
        assert_refused(status, body, kind, hub.config_dir)
        status, entry = await hub.get(f"/api/config-entries/{entry_id}")
        assert status == 200, entry
        assert (entry["state"], entry["disabled"]) == ("loaded", False), entry
    assert unloads == module.UNLOADS, "never unloaded for a change that did not happen"
    assert hub.files() == before
    assert hub.leftovers() == []

    await hub.disk.fix()
    status, body = await hub.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200, body
    status, body = await hub.call("DELETE", f"/api/config-entries/{entry_id}")
    assert status == 200, body
    assert hub.stored("core.config_entries")["entries"] == []
    assert entry_id not in hub.stored("core.keyring")["owners"]


@KINDS
async def test_an_admin_catalog_change_is_refused_and_the_catalog_stays(
    hub: DiskHub, kind: str
) -> None:
    before = hub.files()
    hub.disk.fail_files(kind)
    status, body = await hub.call("PATCH", "/api/integrations/vault", {"enabled": False})
    assert_refused(status, body, kind, hub.config_dir)
    status, listed = await hub.get("/api/integrations")
    assert status == 200
    vault = next(i for i in listed["integrations"] if i["domain"] == "vault")
    assert vault["enabled"] is True
    form = await hub.start_flow("vault")  # still enabled for real: a flow starts
    assert form["type"] == "form"
    assert hub.files() == before

    await hub.disk.fix()
    status, body = await hub.call("PATCH", "/api/integrations/vault", {"enabled": False})
    assert status == 200, body
    assert hub.stored("core.integrations")["integrations"]["vault"]["enabled"] is False


@KINDS
async def test_a_refused_write_is_explained_in_the_persons_language(
    hub: DiskHub, kind: str
) -> None:
    status, me = await hub.get("/api/auth/current_user")
    assert status == 200, me
    status, body = await hub.call("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    assert status == 200, body
    hub.disk.fail_files(kind)
    status, body = await hub.call("PATCH", "/api/integrations/vault", {"enabled": False})
    assert (status, body["error"]["code"]) == ANSWERS[kind], body
    message = body["error"]["message"]
    assert str(hub.config_dir) in message, message
    words = (
        ("ist voll", "Schaffe etwas Platz")
        if kind == FULL
        else ("schreibgeschützt", "beschreibbar")
    )
    assert all(word in message for word in words), message


@KINDS
async def test_a_person_and_a_token_are_not_half_created(hub: DiskHub, kind: str) -> None:
    before = hub.files()
    hub.disk.fail_files(kind)
    person = {"username": "bob", "password": "bob-password-1"}
    status, body = await hub.post("/api/people", person)
    assert_refused(status, body, kind, hub.config_dir)
    status, body = await hub.post("/api/auth/tokens", {"name": "backup script"})
    assert_refused(status, body, kind, hub.config_dir)

    _, people = await hub.get("/api/people")
    assert [p["username"] for p in people["people"]] == [OWNER]
    _, tokens = await hub.get("/api/auth/tokens")
    assert "backup script" not in {t["name"] for t in tokens["tokens"]}
    assert hub.files() == before

    await hub.disk.fix()
    status, body = await hub.post("/api/people", person)
    assert status == 200, body
    status, body = await hub.post("/api/auth/tokens", {"name": "backup script"})
    assert status == 200, body
    stored = hub.stored("auth")
    assert {p["username"] for p in stored["people"]} == {OWNER, "bob"}
    assert "backup script" in {t["name"] for t in stored["tokens"]}


@KINDS
async def test_a_dashboard_and_a_model_are_not_half_created(hub: DiskHub, kind: str) -> None:
    before = hub.files()
    keyring_owners = before_owners(before)
    hub.disk.fail_files(kind)
    dashboard = {"name": "Kitchen", "config": {"views": [{"cards": []}]}}
    status, body = await hub.post("/api/surfaces", dashboard)
    assert_refused(status, body, kind, hub.config_dir)
    model = {
        "name": "local",
        "base_url": "http://127.0.0.1:11434/v1",
        "model": "llama3.1",
        "api_key": "model-api-key-1",
    }
    status, body = await hub.post("/api/models", model)
    assert_refused(status, body, kind, hub.config_dir)

    _, surfaces = await hub.get("/api/surfaces")
    assert "Kitchen" not in {s["name"] for s in surfaces["surfaces"]}
    _, models = await hub.get("/api/models")
    assert models["models"] == []
    assert hub.files() == before
    assert hub.leftovers() == []

    await hub.disk.fix()
    status, body = await hub.post("/api/surfaces", dashboard)
    assert status == 200, body
    status, body = await hub.post("/api/models", model)
    assert status == 201, body
    owners = hub.stored("core.keyring")["owners"]
    assert set(owners) == {*keyring_owners, "model:local"}, "one data key: the stored model's"
    assert [m["name"] for m in hub.stored("core.models")["models"]] == ["local"]


@KINDS
async def test_a_refused_preference_or_dashboard_deletion_changes_nothing(
    hub: DiskHub, kind: str
) -> None:
    dashboard = {"name": "Hall", "config": {"views": [{"cards": []}]}}
    status, created = await hub.post("/api/surfaces", dashboard)
    assert status == 200, created
    before = hub.files()
    hub.disk.fail_files(kind)
    resp = await hub.client.patch("/api/agent/preferences", json={"allow_local_fetch": True})
    assert_refused(resp.status, await resp.json(), kind, hub.config_dir)
    resp = await hub.client.delete(f"/api/surfaces/{created['slug']}")
    assert_refused(resp.status, await resp.json(), kind, hub.config_dir)
    assert (await hub.get("/api/agent/preferences"))[1] == {"allow_local_fetch": False}
    assert (await hub.get(f"/api/surfaces/{created['slug']}"))[0] == 200
    assert hub.files() == before
    await hub.disk.fix()
    resp = await hub.client.patch("/api/agent/preferences", json={"allow_local_fetch": True})
    assert (await resp.json()) == {"allow_local_fetch": True}


async def test_only_the_model_refused_leaves_no_data_key(hub: DiskHub) -> None:
    """The keyring's write lands, the models file's does not: its new data key goes again."""
    owners = before_owners(hub.files())
    hub.disk.fail_files(READ_ONLY, only="core.models")
    model = {
        "name": "hosted",
        "base_url": "https://api.example/v1",
        "model": "m",
        "api_key": "k" * 20,
    }
    status, body = await hub.post("/api/models", model)
    assert_refused(status, body, READ_ONLY, hub.config_dir)
    assert sorted(hub.stored("core.keyring")["owners"]) == sorted(owners)
    assert hub.app[KEYRING]._state.owners.keys() == set(owners)


# Delayed saves and shutdown


def state_of(manager: StorageManager) -> str:
    """What the manager's write health says now (a call, so checks do not narrow each other)."""
    return manager.health.state


async def test_a_delayed_save_is_retried_logged_once_and_keeps_the_newest_state(
    tmp_path: Path, os_faults: OsFaults, caplog: pytest.LogCaptureFixture
) -> None:
    manager = StorageManager(tmp_path / "config", save_delay=0.01)
    manager.retry_delays = (0.02, 0.04)
    manager.prepare()
    store = manager.store("core.counter", 1)
    state = {"n": 0}
    await store.save(dict(state))
    caplog.set_level(logging.DEBUG, logger="hub.core")

    os_faults.fault = FULL
    for n in range(1, 4):
        state["n"] = n
        store.schedule_save(lambda: dict(state))
        await asyncio.sleep(0.03)
    await until(lambda: os_faults.refused >= 5, seconds=5)
    state["n"] = 4  # the newest change, made during the failure episode
    store.schedule_save(lambda: dict(state))

    assert json.loads(store.path.read_text())["data"] == {"n": 0}, "the previous version stays"
    assert state_of(manager) == FULL
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([r for r in warnings if "core.counter not saved" in r.getMessage()]) == 1
    assert len([r for r in warnings if r.levelno == logging.ERROR]) == 1, "one line an episode"
    assert not [r for r in warnings if r.exc_info], "an expected state: no traceback"

    written = store.write_count
    os_faults.fault = None
    await until(lambda: store.write_count > written)  # the next retry, with no new change
    assert not store.has_pending_save
    assert json.loads(store.path.read_text())["data"] == {"n": 4}, "the newest state, not lost"
    assert state_of(manager) == "ok"
    assert any("saved after" in r.getMessage() for r in caplog.records)
    assert any("writes reach the disk again" in r.getMessage() for r in caplog.records)
    await manager.flush()


async def test_a_shutdown_flush_the_disk_refuses_is_logged_and_returns(
    hub: DiskHub, caplog: pytest.LogCaptureFixture
) -> None:
    entries = hub.app[CONFIG_ENTRIES]
    entry_id = (await hub.start_flow("lamp"))["entry_id"]
    hub.disk.fail_files(READ_ONLY)
    entries.note(entry_id, entities_seeded=False)  # changed just before shutdown

    started = time.monotonic()
    await hub.client.close()  # the app's shutdown and cleanup

    assert time.monotonic() - started < 5
    lost = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and "not saved on shutdown" in r.getMessage()
    ]
    assert len(lost) == 1, lost
    assert "core.config_entries" in lost[0]
    assert "read-only" in lost[0]
    no_tracebacks(caplog)


async def test_a_shutdown_flush_on_a_hanging_disk_gives_up_after_its_timeout(
    tmp_path: Path, os_faults: OsFaults, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = StorageManager(tmp_path / "config", save_delay=60)
    manager.flush_timeout = 0.2
    manager.prepare()
    store = manager.store("core.slow", 1)
    store.schedule_save(lambda: {"n": 1})

    def hang(fd: int) -> None:  # a disk that stops answering (a dying SD card, a lost NFS server)
        time.sleep(0.5)

    monkeypatch.setattr(os_faults, "fsync", hang)
    started = time.monotonic()
    await manager.flush()
    assert time.monotonic() - started < 0.45, "the flush gave up instead of hanging"
    await asyncio.sleep(1.2)  # let the stuck write's thread finish before the loop closes


# SQLite


def big_reading(name: str) -> dict[str, Any]:
    """A webhook body whose entity needs new database pages (a long name), and so does its log
    row: random, so deflating the logged body does not make it fit the free pages."""
    return {
        "id": name,
        "name": name + base64.b64encode(os.urandom(15_000)).decode(),
        "celsius": 20.5,
    }


@KINDS
async def test_a_webhook_the_database_refuses_answers_typed_and_reads_go_on(
    hub: DiskHub, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry_id = await hub.add_station()
    _, info = await hub.get(f"/api/config-entries/{entry_id}/webhook")
    path = info["path"]
    before = await hub.entities()
    [switch] = [e for e in before if e["entity_type"] == "switch"]

    await hub.disk.fail_database(kind)
    answers = await asyncio.gather(
        *(hub.client.post(path, json=big_reading(f"pool{i}")) for i in range(5))
    )  # concurrent: several share one transaction of the entity writer

    for resp in answers:
        assert_refused(resp.status, await resp.json(), kind, hub.config_dir / "hub.db")
    assert await hub.entities() == before, "the transaction was rolled back"
    status, history = await hub.get(f"/api/entities/{switch['id']}/history")
    assert status == 200, history
    ws = await hub.client.ws_connect("/api/websocket")
    await ws.receive_json(timeout=5)
    token = hub.client.session.headers["Authorization"].removeprefix("Bearer ")
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=5))["type"] == "auth_ok"
    await ws.send_json({"id": 1, "type": "entities/list", "entry_id": entry_id})
    listed = await ws.receive_json(timeout=5)
    assert listed["success"], listed
    assert len(listed["result"]["entities"]) == len(before)
    await ws.close()
    assert (await hub.health())["storage"] == kind

    await hub.disk.fix()
    resp = await hub.client.post(path, json=big_reading("pool0"))
    assert resp.status == 200, await resp.text()
    assert "pool0" in {e["external_id"] for e in await hub.entities()}, "the writer still runs"
    assert (await hub.health())["storage"] == "ok"
    no_tracebacks(caplog)


async def test_removing_an_entry_whose_entities_the_database_keeps_keeps_the_entry(
    hub: DiskHub,
) -> None:
    """Entities go before their entry (no orphans after a crash): if they cannot, neither does it."""
    entry_id = await hub.add_station()
    entities = await hub.entities(entry_id=entry_id)

    await hub.disk.fail_database(READ_ONLY)
    status, body = await hub.call("DELETE", f"/api/config-entries/{entry_id}")
    assert_refused(status, body, READ_ONLY, hub.config_dir / "hub.db")
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["state"] == "loaded", "set up again after the refused removal"
    assert await hub.entities(entry_id=entry_id) == entities
    assert [e["entry_id"] for e in hub.stored("core.config_entries")["entries"]] == [entry_id]

    await hub.disk.fix()
    status, body = await hub.call("DELETE", f"/api/config-entries/{entry_id}")
    assert status == 200, body
    assert await hub.entities() == []


async def test_an_action_the_database_refuses_leaves_the_entity_as_it_was(hub: DiskHub) -> None:
    await hub.add_station()
    [switch] = await hub.entities(entity_type="switch")

    await hub.disk.fail_database(READ_ONLY)
    status, body = await hub.post(f"/api/entities/{switch['id']}/action", {"action": "toggle"})
    assert_refused(status, body, READ_ONLY, hub.config_dir / "hub.db")
    assert (await hub.entities(entity_type="switch"))[0]["state"] == "off"

    await hub.disk.fix()
    status, body = await hub.post(f"/api/entities/{switch['id']}/action", {"action": "toggle"})
    assert (status, body["entity"]["state"]) == (200, "on"), body


@KINDS
async def test_a_sync_asked_for_answers_typed_and_is_recorded(hub: DiskHub, kind: str) -> None:
    entry_id = await hub.add_station()
    hub.station.readings = [{"id": "attic", "name": "attic" * 4000, "celsius": 30.0}]

    await hub.disk.fail_database(kind)
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert_refused(status, body, kind, hub.config_dir / "hub.db")
    assert "attic" not in {e["external_id"] for e in await hub.entities()}
    _, entry = await hub.get(f"/api/config-entries/{entry_id}")
    assert entry["last_sync"]["error"] == body["error"]["message"], "the entry says why"

    await hub.disk.fix()
    status, body = await hub.post(f"/api/config-entries/{entry_id}/sync")
    assert (status, body["sync"]["created"]) == (200, 1), body


async def test_a_history_purge_the_database_refuses_keeps_the_rows(hub: DiskHub) -> None:
    await hub.add_station()
    [switch] = await hub.entities(entity_type="switch")
    history: History = hub.app[HISTORY]
    later = time.time() + 400 * 86400  # every row is past any retention by then

    await hub.disk.fail_database(READ_ONLY)
    with pytest.raises(StorageReadOnlyError):
        await history.purge(now=later)
    status, rows = await hub.get(f"/api/entities/{switch['id']}/history")
    assert status == 200
    assert rows["history"], "the rows are still there"

    await hub.disk.fix()
    assert await history.purge(now=later) > 0


async def test_a_conversation_the_database_refuses_is_not_created(hub: DiskHub) -> None:
    """Read-only: a small row may still fit a page of a full database, as on a real disk."""
    await hub.disk.fail_database(READ_ONLY)
    status, body = await hub.post("/api/conversations", {"title": "Chat"})
    assert_refused(status, body, READ_ONLY, hub.config_dir / "hub.db")
    _, listed = await hub.get("/api/conversations")
    assert listed["conversations"] == []
    await hub.disk.fix()
    status, body = await hub.post("/api/conversations", {"title": "Chat"})
    assert status == 201, body


async def test_the_entity_writer_fails_only_the_batch_the_disk_refused(hub: DiskHub) -> None:
    entry_id = await hub.add_station()
    service = hub.app[ENTITIES]
    await hub.disk.fail_database(FULL)
    path = (await hub.get(f"/api/config-entries/{entry_id}/webhook"))[1]["path"]
    refused = await hub.client.post(path, json=big_reading("deep"))
    assert refused.status == 507
    await hub.disk.fix()
    accepted = await asyncio.gather(
        *(hub.client.post(path, json={"id": f"p{i}", "celsius": i}) for i in range(5))
    )
    assert [r.status for r in accepted] == [200] * 5
    assert service._writer is not None
    assert not service._writer.done()


# Real file systems (need permission to mount)


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"mount {' '.join(args)}: {done.stderr.strip()}"


@contextlib.contextmanager
def tmpfs(path: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` mounted on ``path``, or a skip saying why it cannot be."""
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs Linux and mount(8)")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kib}k,mode=0700"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        pytest.skip(f"cannot mount a tmpfs here ({reason}); it needs root with CAP_SYS_ADMIN")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> Path:
    """Write a file until the file system has no byte left; the file, to free the space again."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while handle.write(b"\0" * 4096):
                pass
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
    return filler


async def test_a_real_full_disk_refuses_writes_restarts_serving_reads_and_recovers(
    start_hub: StartHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with tmpfs(tmp_path / "config", size_kib=8192) as config_dir:
        hub = await start_hub(config_dir)
        try:
            entry_id = await hub.add_station()
            path = (await hub.get(f"/api/config-entries/{entry_id}/webhook"))[1]["path"]
            entities, form = await hub.entities(), await hub.start_flow("vault")
            before = hub.files()
            filler = fill(config_dir)

            user_input = {"user_input": {"name": "x", "mode": "safe"}}
            status, body = await hub.post(f"/api/config-flows/{form['flow_id']}", user_input)
            assert_refused(status, body, FULL, config_dir)
            assert hub.files() == before
            assert hub.leftovers() == []
            resp = await hub.client.post(path, json=big_reading("pool"))
            assert_refused(resp.status, await resp.json(), FULL, config_dir)
            assert await hub.entities() == entities
            assert (await hub.health())["storage"] == FULL

            await hub.client.close()  # a shutdown on a full disk logs what it lost and ends
            hub = await start_hub(config_dir)  # a start on it signs in and serves reads
            assert await hub.entities() == entities
            assert [e["entry_id"] for e in (await hub.get("/api/config-entries"))[1]["entries"]]
            assert (await hub.health())["storage"] == FULL

            filler.unlink()
            form = await hub.start_flow("vault")
            done = await hub.submit(form["flow_id"], {"name": "x", "mode": "safe"})
            assert done["type"] == "create_entry", done
            resp = await hub.client.post(path, json=big_reading("pool"))
            assert resp.status == 200, await resp.text()
            await until(lambda: hub.app[STORAGE].health.state == "ok")
            assert (await hub.health())["storage"] == "ok"
        finally:
            await hub.client.close()  # before the file system goes away
    no_tracebacks(caplog)


async def test_a_real_read_only_file_system_refuses_writes_and_recovers(
    start_hub: StartHub, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    # Only .storage is its own file system: Linux refuses to remount one with files open for
    # writing, and hub.db stays open; .storage's files are only open while being written.
    with tmpfs(config_dir / ".storage", size_kib=4096) as storage_dir:
        hub = await start_hub(config_dir)
        before = hub.files()
        form = await hub.start_flow("vault")
        _mount("-o", "remount,ro", str(storage_dir))
        try:
            status, body = await hub.post(
                f"/api/config-flows/{form['flow_id']}",
                {"user_input": {"name": "x", "mode": "safe"}},
            )
            assert_refused(status, body, READ_ONLY, config_dir)
            status, body = await hub.post("/api/people", {"username": "cy", "password": "c" * 12})
            assert_refused(status, body, READ_ONLY, config_dir)
            assert (await hub.get("/api/config-entries"))[1]["entries"] == []
            assert (await hub.health())["storage"] == READ_ONLY
        finally:
            _mount("-o", "remount,rw", str(storage_dir))
        assert hub.files() == before
        done = await hub.submit(form["flow_id"], {"name": "x", "mode": "safe"})
        assert done["type"] == "create_entry", done
        await hub.client.close()


# Entry changes: build the next entry, commit it, swap it in


async def _refused_change(hub: DiskHub, change: str, entry_id: str) -> None:
    """Ask ``ConfigEntries`` for one kind of change to ``entry_id``; the disk refuses it."""
    entries = hub.app[CONFIG_ENTRIES]
    if change == "update":
        await entries.update(
            entry_id, title="renamed", data={"name": "away"}, secret_changes={"token": "new-456"}
        )
    elif change == "clear_secret":
        await entries.update(entry_id, secret_changes={"token": ""})
    elif change in ("disable", "enable"):
        await entries.set_disabled(entry_id, change == "disable")
    elif change == "signing":
        sealed = await hub.app[KEYRING].encrypt(entry_id, "webhook_signing", "signing-secret")
        await entries.set_settings(entry_id, webhook_signing=sealed)
    elif change == "unsign":
        await entries.set_settings(entry_id, webhook_signing=None)
    elif change == "required_tier":
        await entries.set_settings(entry_id, required_tier="unregulated")
    elif change == "sync_interval":
        await entries.set_settings(entry_id, sync_interval=None)
    elif change == "transfer":
        await entries.transfer(entry_id, "someone-else")
    else:
        assert change == "remove"
        await entries.remove(entry_id)


CHANGES = pytest.mark.parametrize(
    "change",
    [
        "update",
        "clear_secret",
        "disable",
        "enable",
        "signing",
        "unsign",
        "required_tier",
        "sync_interval",
        "transfer",
        "remove",
    ],
)


@CHANGES
async def test_a_refused_entry_change_leaves_every_field_as_it_was(
    hub: DiskHub, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    entries = hub.app[CONFIG_ENTRIES]
    form = await hub.start_flow("vault")
    user_input = {"name": "home", "token": "vault-token-123", "mode": "safe"}
    status, created = await hub.post(
        f"/api/config-flows/{form['flow_id']}", {"user_input": user_input}
    )
    assert status == 200, created
    entry_id = created["entry_id"]
    # Every setting is set first, so that each kind of change has something to lose.
    signing = {"enabled": True}
    assert (await hub.post(f"/api/config-entries/{entry_id}/webhook/signing", signing))[0] == 200
    tier = {"required_tier": "internal"}
    assert (await hub.post(f"/api/config-entries/{entry_id}/required-tier", tier))[0] == 200
    await entries.set_settings(entry_id, sync_interval=600)
    if change == "enable":
        await entries.set_disabled(entry_id, True)
    if change == "transfer":  # only a person's own entry is handed over
        await entries.transfer(entry_id, "first-owner")
    await entries.update(entry_id, secret_changes={"other": "kept-secret"}, reload=False)
    await hub.app[STORAGE].flush()
    before = entries.require(entry_id)
    stored_before, shown_before = before.to_json(), before.as_public()
    secrets_before = entries.secrets_of(before)
    # Timestamps have whole seconds: the next one differs, so a change that kept it would show.
    await asyncio.sleep(1.05)

    hub.disk.fail_files(FULL, only="core.config_entries")
    with pytest.raises(StorageError):
        await _refused_change(hub, change, entry_id)

    after = entries.require(entry_id)
    assert after.to_json() == stored_before
    assert after.as_public() == shown_before
    assert entries.secrets_of(after) == secrets_before
    assert [e.entry_id for e in entries.entries()] == [entry_id]
    # The retried save writes what memory serves, never the change the disk refused.
    await hub.disk.fix()
    await hub.app[STORAGE].flush()
    assert hub.stored("core.config_entries")["entries"] == [stored_before]
    no_tracebacks(caplog)


async def test_an_entries_file_of_the_old_format_loads_with_every_value(
    start_hub: StartHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub()
    entry_id = await hub.add_station()
    status, answer = await hub.post(
        f"/api/config-entries/{entry_id}/webhook/signing", {"enabled": True}
    )
    assert status == 200, answer
    tier = {"required_tier": "regulated"}
    assert (await hub.post(f"/api/config-entries/{entry_id}/required-tier", tier))[0] == 200
    interval = {"seconds": 900}
    assert (await hub.post(f"/api/config-entries/{entry_id}/sync-interval", interval))[0] == 200
    config_dir = hub.config_dir
    await hub.client.close()
    path = config_dir / ".storage" / "core.config_entries"
    written = json.loads(path.read_text())
    (stored,) = written["data"]["entries"]
    assert stored["last_sync"] is not None
    assert stored["initial_entities_seeded"] is True

    # What the hub before typed entries wrote: version 1, hub-owned state in one ``extra`` bag.
    typed = ("sync_interval", "required_tier", "webhook_signing", "health", "last_sync")
    old = {key: value for key, value in stored.items() if key not in typed}
    extra = {key: stored[key] for key in typed if stored[key] is not None}
    extra["initial_entities_seeded"] = old.pop("initial_entities_seeded")
    old["extra"] = extra
    path.write_text(json.dumps({**written, "version": 1, "data": {"entries": [old]}}))

    loaded = (
        await StorageManager(config_dir)
        .store("core.config_entries", ENTRIES_VERSION, migrate=migrate_entries)
        .load()
    )
    assert loaded is not None
    (entry,) = [ConfigEntry.from_json(item) for item in loaded["entries"]]
    assert entry.to_json() == stored
    assert (entry.sync_interval, entry.required_tier) == (900, "regulated")
    assert entry.webhook_signing == stored["webhook_signing"]
    assert entry.entities_seeded

    hub = await start_hub(config_dir)
    status, shown = await hub.get(f"/api/config-entries/{entry_id}")
    assert status == 200, shown
    assert (shown["sync_interval"], shown["required_tier"]) == (900, "regulated")
    assert shown["webhook_signed"] is True
    assert "webhook_signing" not in shown
    assert shown["initial_entities_seeded"] is True
    assert "extra" not in shown
    # The signing requirement read from the old file is enforced: an unsigned post is refused.
    token = hub.app[CONFIG_ENTRIES].webhook_token(hub.app[CONFIG_ENTRIES].require(entry_id))
    resp = await hub.client.post(f"/webhooks/integration/{entry_id}?token={token}", json={})
    assert resp.status == 401
    no_tracebacks(caplog)


# Every committed state: a refused change is never served, and the retry writes the old state

AGENT_FILE: Final = {
    "version": 1,
    "minor_version": 1,
    "key": "core.agents",
    "data": {
        "agents": [
            {
                "slug": "helper-research",
                "key": "research",
                "name": "Researcher",
                "description": "Looks things up",
                "instructions": "Be brief.",
                "tool_config": {},
                "required_tools": [],
                "requires_surface": None,
                "owner": None,
                "source_domain": "helper",
                "enabled": True,
                "updated_at": 1.0,
            }
        ]
    },
}

STATE_CHANGES: Final = {
    "model_add": "core.models",
    "model_update": "core.models",
    "model_delete": "core.models",
    "model_default": "core.models",
    "person_create": "auth",
    "person_update": "auth",
    "person_password": "auth",
    "person_delete": "auth",
    "token_create": "auth",
    "token_revoke": "auth",
    "preference": "core.agent_preferences",
    "surface_create": "core.surfaces",
    "surface_replace": "core.surfaces",
    "surface_delete": "core.surfaces",
    "agent_switch": "core.agents",
}


async def _memory(hub: DiskHub, owner: Principal) -> dict[str, Any]:
    """Everything the services touched here serve, field by field (secrets as ciphertext)."""
    chat = await hub.app[CHAT].get()
    auth = hub.app[AUTH]
    people = auth.people()
    return {
        "models": [chat.models.get(m.name) for m in chat.models.all()],
        "models_view": chat.models.views(),
        "people": people,
        "tokens": {p.person_id: auth.tokens_of(p.person_id) for p in people},
        "preferences": chat.preferences.of(owner.person_id),
        "surfaces": hub.app[SURFACES].visible(owner.person_id),
        "agents": hub.app[AGENTS].visible(owner.person_id),
        "keyring_owners": dict(hub.app[KEYRING]._state.owners),
    }


async def _refused_state_change(hub: DiskHub, change: str, owner: Principal, ids: Any) -> None:
    chat = await hub.app[CHAT].get()
    auth, models, surfaces = hub.app[AUTH], chat.models, hub.app[SURFACES]
    kitchen = SurfaceDescriptor(name="Kitchen", config={"views": [{"cards": []}]})
    if change == "model_add":
        await models.add(
            name="second",
            base_url="http://127.0.0.1:1/v1",
            model="m",
            tier="regulated",
            api_key="second-api-key",
            is_default=True,
        )
    elif change == "model_update":
        await models.update(
            "first",
            {"base_url": "http://127.0.0.1:2/v1", "api_key": "new-key-1", "tier": "internal"},
        )
    elif change == "model_delete":
        await models.remove("first")
    elif change == "model_default":
        await models.update("first", {"is_default": False})
    elif change == "person_create":
        await auth.create_person("carol", "carol-password-1", is_admin=True)
    elif change == "person_update":
        await auth.update_person(ids["bob"], display_name="Robert", language="de", is_admin=True)
    elif change == "person_password":
        await auth.update_person(ids["bob"], password="bob-new-password")
    elif change == "person_delete":
        await auth.delete_person(ids["bob"])
    elif change == "token_create":
        await auth.create_long_lived(owner, "another script")
    elif change == "token_revoke":
        await auth.revoke(ids["token"])
    elif change == "preference":
        await chat.preferences.update(owner.person_id, allow_local_fetch=False)
    elif change == "surface_create":
        await surfaces.create(kitchen, owner=owner.person_id)
    elif change == "surface_replace":
        await surfaces.replace(ids["surface"], kitchen, owner.person_id, admin=True)
    elif change == "surface_delete":
        await surfaces.delete(ids["surface"], owner.person_id, admin=True)
    else:
        assert change == "agent_switch"
        await hub.app[AGENTS].set_enabled("helper-research", False, owner.person_id, admin=True)


@pytest.mark.parametrize("change", list(STATE_CHANGES))
async def test_a_refused_change_of_any_stored_state_leaves_every_field_as_it_was(
    start_hub: StartHub, tmp_path: Path, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    config_dir = tmp_path / "config"
    (config_dir / ".storage").mkdir(parents=True)
    (config_dir / ".storage" / "core.agents").write_text(json.dumps(AGENT_FILE))
    hub = await start_hub(config_dir)
    auth = hub.app[AUTH]
    (person,) = auth.people()
    owner = Principal(
        person_id=person.person_id,
        username=person.username,
        display_name=person.display_name,
        is_admin=True,
        language=None,
        token_id="",
        expires_at=None,
    )
    chat = await hub.app[CHAT].get()
    # Something of every kind, so that each change has something to lose.
    await chat.models.add(
        name="first",
        base_url="http://127.0.0.1:3/v1",
        model="m",
        tier="unregulated",
        api_key="first-api-key",
        is_default=True,
    )
    bob = await auth.create_person("bob", "bob-password-1", display_name="Bob")
    await auth.login("bob", "bob-password-1", "203.0.113.9")
    token, _ = await auth.create_long_lived(owner, "backup script")
    await chat.preferences.update(owner.person_id, allow_local_fetch=True)
    surface = await hub.app[SURFACES].create(
        SurfaceDescriptor(name="Hall", config={"views": [{"cards": []}]}), owner=owner.person_id
    )
    ids = {"bob": bob.person_id, "token": token.token_id, "surface": surface.slug}
    await hub.app[STORAGE].flush()
    key = STATE_CHANGES[change]
    stored_before = hub.stored(key)
    before = await _memory(hub, owner)

    hub.disk.fail_files(FULL, only=key)
    with pytest.raises(StorageError):
        await _refused_state_change(hub, change, owner, ids)

    assert await _memory(hub, owner) == before
    # The retried save writes what memory serves, never the change the disk refused.
    await hub.disk.fix()
    await hub.app[STORAGE].flush()
    assert hub.stored(key) == stored_before
    assert await _memory(hub, owner) == before
    no_tracebacks(caplog)
