"""The crash-safety loop's parts: killable hubs, the ledger of acknowledged writes, the checks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from hub.api.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.bench.startup import free_port, health_ok

REPO = Path(__file__).resolve().parents[2]
OWNER = {"username": "owner", "password": "owner-password-1"}
HEALTH_BOUND = 20.0
"""Seconds a restarted hub may take to answer ``/api/health`` (about 0.7 s on a 2-core box)."""
REQUEST_TIMEOUT = 15.0
SYNC_DOMAIN = "crash_sync"
SYNC_MANIFEST = f"""\
domain: {SYNC_DOMAIN}
name: Crash sync
iot_class: local_polling
"""
SYNC_INIT = """\
import json
from pathlib import Path

from hub.integrations.entities import (
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration

SOURCE = Path(__file__).with_name("source.json")
ITEM = EntityStateTypeDescriptor(key="item", name="Item")


def generation():
    try:
        return int(json.loads(SOURCE.read_text())["generation"])
    except FileNotFoundError:
        return 0


class CrashSync(Integration):
    def entity_types(self):
        return {"item": ITEM}

    async def async_sync_entities(self, ctx):
        g = generation()
        records = tuple(
            EntityStateRecord(entity_type="item", external_id=f"item{i}", name=f"Item {i}", state=g)
            for i in range(5 + g % 7)
        )
        return EntityStateSyncResult(records=records, full=True, entity_types=("item",))


INTEGRATION = CrashSync()
"""
NOT_ENVELOPES = frozenset({"master.key", "hub.lock"})
TMP_MARK = ".tmp-"
LOG_PROBLEM = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) |^Traceback|StorageError|DatabaseError")


def sync_items(generation: int) -> int:
    """How many entities the test integration's sync of ``generation`` holds (as ``SYNC_INIT``)."""
    return 5 + generation % 7


def install_sync_integration(external: Path) -> Path:
    """Write the test integration under ``external``; the file its sync reads its generation from."""
    folder = external / SYNC_DOMAIN
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(SYNC_MANIFEST)
    (folder / "__init__.py").write_text(SYNC_INIT)
    return folder / "source.json"


def write_generation(source: Path, generation: int) -> None:
    """Replace the sync source at once, so a sync reads the old or the new generation."""
    tmp = source.with_name("source.json.next")
    tmp.write_text(json.dumps({"generation": generation}))
    os.replace(tmp, source)


# The process


class HubProcesses:
    """Starts ``python -m hub run`` on one config dir, one process at a time; kills all on exit."""

    def __init__(self, config_dir: Path, logs: Path, external: Path) -> None:
        self.config_dir = config_dir
        self.logs = logs
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
        self.env.update(
            {
                "HUB__INTEGRATIONS__ALLOW_EXTERNAL": "true",
                "HUB__INTEGRATIONS__EXTERNAL_DIRS": f"[{external}]",
                "HUB__HTTP__WEBHOOK_RATE_PER_SECOND": "1000000",
                "HUB__HTTP__WEBHOOK_BURST": "1000000",
            }
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_path = logs / "none.log"
        self.url = ""

    @property
    def current(self) -> subprocess.Popen[bytes]:
        """The latest process."""
        return self.procs[-1]

    def start(self, name: str) -> float:
        """Start a hub and wait for ``/api/health``; the seconds it took (at most ``HEALTH_BOUND``)."""
        port = free_port()
        self.log_path = self.logs / f"{name}.log"
        command = [sys.executable, "-m", "hub", "run", "--config", str(self.config_dir)]
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(port)],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        self.url = f"http://127.0.0.1:{port}"
        while not health_ok(port):
            waited = time.monotonic() - started
            assert proc.poll() is None, f"the hub exited with {proc.returncode}:\n{self.log()}"
            assert waited < HEALTH_BOUND, f"no /api/health after {waited:.1f} s:\n{self.log()}"
            time.sleep(0.02)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the running hub and reap it."""
        proc = self.current
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM the running hub; its exit code (it is killed after 30 s)."""
        proc = self.current
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError(f"the hub did not stop on SIGTERM:\n{self.log()}") from None

    def reap_all(self) -> None:
        """Kill and wait for every process still running: no hub outlives the test."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)

    def log(self) -> str:
        """The current process's log."""
        return self.log_path.read_text("utf-8", errors="replace")

    def log_problems(self) -> list[str]:
        """Log lines of the current process that report an error."""
        return [line for line in self.log().splitlines() if LOG_PROBLEM.search(line)]


class Api:
    """The REST API as the owner; counts requests in flight, so a kill can be seen to land in them."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.headers: dict[str, str] = {}
        self.in_flight = 0

    async def sign_in(self) -> None:
        """Onboard on the first start, log in on every later one."""
        status, answer = await self.call("GET", "/api/onboarding")
        assert status == 200, answer
        path = "/api/onboarding" if answer["open"] else "/api/auth/login"
        status, tokens = await self.call("POST", path, OWNER)
        assert status == 200, tokens
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    async def call(
        self, method: str, path: str, body: Any = None, *, signed_with: str | None = None
    ) -> tuple[int, Any]:
        """The status and decoded answer; a dead hub raises ``aiohttp.ClientError`` or a timeout.

        ``signed_with`` signs the body as a webhook sender holding that signing secret does.
        """
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        if signed_with is not None and data is not None:
            stamp = str(int(time.time()))
            headers.update(
                {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(signed_with, stamp, data)}
            )
        self.in_flight += 1
        try:
            async with (
                asyncio.timeout(REQUEST_TIMEOUT),
                self.session.request(method, self.url + path, data=data, headers=headers) as resp,
            ):
                return resp.status, await resp.json()
        finally:
            self.in_flight -= 1


# What the test saw acknowledged


EntryStatus = Literal["live", "deleting", "deleted"]


@dataclass(slots=True)
class Known:
    """A value changed one request at a time: the last acknowledged, and any sent unanswered."""

    settled: Any
    possible: list[Any] = field(default_factory=list)
    retired: bool = False
    """No more changes this round: one went unanswered, so a later one could race it."""

    def allowed(self) -> list[Any]:
        """The values it may hold."""
        return [self.settled, *self.possible]

    def sent(self, value: Any) -> None:
        """A change to ``value`` is on its way."""
        self.possible.append(value)

    def answered(self, ok: bool, value: Any) -> None:
        """The hub answered the change to ``value``: it holds it, or (unknown) it may."""
        if ok:
            self.settled, self.possible = value, []
        else:
            self.retired = True

    def settle(self, value: Any) -> None:
        """The value read back after a restart is the one to build on."""
        self.settled, self.possible, self.retired = value, [], False


@dataclass(slots=True)
class Entry:
    """A config entry the test created (or found): what it is and what became of it."""

    entry_id: str
    domain: str
    status: EntryStatus = "live"
    webhook_path: str | None = None
    signing: Known = field(default_factory=lambda: Known(False))
    """Whether a webhook entry requires signed requests."""
    signing_secret: str | None = None


@dataclass(slots=True)
class Helper(Known):
    """A helper's entity: its known state and the values of actions sent without an answer."""

    entity_id: int = 0
    kind: str = ""


@dataclass(slots=True)
class Ledger:
    """Every acknowledged write, and what an unacknowledged one may have left."""

    entries: dict[str, Entry] = field(default_factory=dict)
    helpers: dict[str, Helper] = field(default_factory=dict)
    webhooks: dict[tuple[str, str], str] = field(default_factory=dict)
    sync_entry: str = ""
    sync_written: int = 0
    sync_acked: int = 0
    sync_seen: int = 0
    sync_interval: Known = field(default_factory=lambda: Known(None))
    acks: dict[str, int] = field(default_factory=dict)
    serial: int = 0

    def ack(self, kind: str) -> None:
        """Count an acknowledged write of ``kind``."""
        self.acks[kind] = self.acks.get(kind, 0) + 1

    def live(self, domain: str) -> list[Entry]:
        """Entries of ``domain`` known to exist."""
        return [e for e in self.entries.values() if e.domain == domain and e.status == "live"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The hub's state as one source tells it: entries (id to domain) and entity states."""

    entries: dict[str, str]
    entities: dict[tuple[str, str, str], Any]
    """``(entry_id, entity_type, external_id)`` to state."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per entry: whether webhooks must be signed, and its own sync interval."""
    entry_states: dict[str, str] = field(default_factory=dict)
    keyring_owners: frozenset[str] | None = None


def problems(snapshot: Snapshot, ledger: Ledger) -> list[str]:
    """Every acknowledged write ``snapshot`` lost, and every torn or impossible state in it."""
    found: list[str] = []
    for entry in ledger.entries.values():
        present = entry.entry_id in snapshot.entries
        if entry.status == "live" and not present:
            found.append(f"acknowledged entry {entry.entry_id} ({entry.domain}) is missing")
        if entry.status == "deleted" and present:
            found.append(f"entry {entry.entry_id} ({entry.domain}) came back after its deletion")
    live = {e.entry_id for e in ledger.entries.values() if e.status == "live"}
    for entry_id, helper in ledger.helpers.items():
        if entry_id not in live:
            continue
        states = [v for (e, _, _), v in snapshot.entities.items() if e == entry_id]
        if len(states) != 1 or states[0] not in helper.allowed():
            found.append(
                f"helper {entry_id} is {states}, expected one of {helper.allowed()} "
                "(its last acknowledged action, or one sent without an answer)"
            )
    for (entry_id, external_id), value in ledger.webhooks.items():
        if entry_id not in live:
            continue
        state = snapshot.entities.get((entry_id, "value", external_id), "<missing>")
        if state != value:
            found.append(f"webhook entity {entry_id}/{external_id} is {state!r}, acked {value!r}")
    for entry in ledger.entries.values():
        signed = snapshot.settings.get(entry.entry_id, {}).get("signed")
        if (
            entry.status == "live"
            and entry.domain == "webhook"
            and signed not in entry.signing.allowed()
        ):
            found.append(f"webhook {entry.entry_id} signed={signed}, acked {entry.signing}")
    if ledger.sync_entry in snapshot.entries:
        found += sync_problems(snapshot, ledger)
        interval = snapshot.settings[ledger.sync_entry]["sync_interval"]
        if interval not in ledger.sync_interval.allowed():
            found.append(f"sync interval {interval}, acked {ledger.sync_interval}")
    if snapshot.keyring_owners is not None:  # read from the files, which hold everything
        for entry_id in sorted(set(snapshot.entries) - snapshot.keyring_owners):
            found.append(f"entry {entry_id} has no data key in core.keyring: its tokens are lost")
        # Removal deletes entities before the entry, and creation stores the entry first, so
        # an entity of an entry that does not exist was written after its entry was removed.
        orphans = {e for e, _, _ in snapshot.entities} - set(snapshot.entries)
        for entry_id in sorted(orphans):
            known = ledger.entries.get(entry_id)
            status = "never acknowledged" if known is None else known.status
            found.append(f"entities of entry {entry_id}, which is not stored ({status})")
    return found


def sync_problems(snapshot: Snapshot, ledger: Ledger) -> list[str]:
    """The sync entry holds exactly one generation, whole, no older than the last acknowledged."""
    states = [v for (e, _, _), v in snapshot.entities.items() if e == ledger.sync_entry]
    generations = sorted(set(states))
    if not states:
        return [] if ledger.sync_acked == 0 else ["the synced entities are gone"]
    if len(generations) != 1:
        return [f"a torn sync: generations {generations[:8]} side by side"]
    generation = generations[0]
    found = []
    if len(states) != sync_items(generation):
        found.append(
            f"sync {generation} holds {len(states)} entities, not {sync_items(generation)}"
        )
    if not max(ledger.sync_acked, ledger.sync_seen) <= generation <= ledger.sync_written:
        found.append(
            f"synced generation {generation}, but {ledger.sync_acked} was acknowledged, "
            f"{ledger.sync_seen} seen before and {ledger.sync_written} the newest written"
        )
    return found


# Reading the files


def storage_problems(config_dir: Path) -> tuple[list[str], list[str]]:
    """Files in ``.storage/`` that are not whole envelopes, and the temporary files found there."""
    found: list[str] = []
    leftovers: list[str] = []
    for path in sorted((config_dir / ".storage").iterdir()):
        if TMP_MARK in path.name:
            leftovers.append(path.name)
            continue
        if path.name in NOT_ENVELOPES:
            continue
        try:
            envelope = json.loads(path.read_bytes())
        except ValueError as err:
            found.append(f"{path.name} is not JSON ({err}): {path.read_bytes()[:200]!r}")
            continue
        if not isinstance(envelope, dict) or not {"version", "key", "data"} <= envelope.keys():
            found.append(f"{path.name} is not an envelope: {str(envelope)[:200]}")
        elif envelope["key"] != path.name or type(envelope["version"]) is not int:
            found.append(
                f"{path.name} has key {envelope['key']!r}, version {envelope['version']!r}"
            )
    stray = [p.name for p in config_dir.iterdir() if TMP_MARK in p.name]
    found += [
        f"{name}: a temporary file outside .storage/, which no start removes" for name in stray
    ]
    return found, leftovers


def read_envelope_data(path: Path) -> Any:
    """The ``data`` of a storage file."""
    return json.loads(path.read_bytes())["data"]


def settings_of(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's settings, from its stored extra or its API view (which merges the extra in)."""
    extra = entry.get("extra", entry)
    signed = extra["webhook_signed"] if "webhook_signed" in extra else extra.get("webhook_signing")
    return {
        "signed": bool(signed),
        "sync_interval": extra.get("sync_interval"),
    }


def disk_snapshot(config_dir: Path, scratch: Path) -> tuple[Snapshot, str]:
    """The state a restart would find, read from the files; and ``PRAGMA integrity_check``'s word."""
    storage = config_dir / ".storage"
    entries_file, keyring_file = storage / "core.config_entries", storage / "core.keyring"
    entries = read_envelope_data(entries_file)["entries"] if entries_file.exists() else []
    keyring = read_envelope_data(keyring_file) if keyring_file.exists() else {"owners": {}}
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in ("hub.db", "hub.db-wal"):  # -shm is rebuilt from the WAL
        if (config_dir / name).exists():
            shutil.copyfile(config_dir / name, scratch / name)
    conn = sqlite3.connect(scratch / "hub.db")
    try:
        integrity = "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
        rows = conn.execute("SELECT entry_id, entity_type, external_id, state FROM entities")
        entities = {(e, t, x): None if s is None else json.loads(s) for e, t, x, s in rows}
    finally:
        conn.close()
    snapshot = Snapshot(
        entries={str(e["entry_id"]): str(e["domain"]) for e in entries},
        entities=entities,
        settings={str(e["entry_id"]): settings_of(e) for e in entries},
        keyring_owners=frozenset(keyring["owners"]),
    )
    return snapshot, integrity


async def api_snapshot(api: Api) -> Snapshot:
    """The state the restarted hub serves."""
    status, answer = await api.call("GET", "/api/config-entries")
    assert status == 200, answer
    entries = answer["entries"]
    rows: list[dict[str, Any]] = []
    for entry in entries:  # one entry at a time: the entities of all of them exceed one page
        path = f"/api/entities?entry_id={entry['entry_id']}&limit=10000"
        status, answer = await api.call("GET", path)
        assert status == 200, answer
        assert len(answer["entities"]) < 10_000, "more entities than one page"
        rows += answer["entities"]
    return Snapshot(
        entries={str(e["entry_id"]): str(e["domain"]) for e in entries},
        entities={(r["entry_id"], r["entity_type"], r["external_id"]): r["state"] for r in rows},
        settings={str(e["entry_id"]): settings_of(e) for e in entries},
        entry_states={str(e["entry_id"]): str(e["state"]) for e in entries},
    )
