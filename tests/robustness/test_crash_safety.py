"""SIGKILL a real hub at random moments under real workloads: no acknowledged write is ever lost."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.robustness.crash_support import (
    HEALTH_BOUND,
    SYNC_DOMAIN,
    Api,
    Entry,
    Helper,
    HubProcesses,
    Known,
    Ledger,
    Snapshot,
    api_snapshot,
    disk_snapshot,
    install_sync_integration,
    problems,
    storage_problems,
    write_generation,
)

SLOW = os.environ.get("HUB_SLOW_TESTS") == "1"
ROUNDS = max(1, int(os.environ.get("HUB_CRASH_ROUNDS") or (60 if SLOW else 12)))
SEED = int(os.environ.get("HUB_CRASH_SEED") or random.randrange(1 << 30))
MAX_LIVE_ENTRIES = 40
TRANSPORT = (aiohttp.ClientError, TimeoutError, ValueError)
"""What a request to a hub that dies under it raises (a cut-off body does not decode)."""


@dataclass(slots=True)
class Report:
    """What the rounds did, printed at the end so a run can be judged (and a failure replayed)."""

    kill_delays: list[float] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)
    leftovers: int = 0
    resurrected: int = 0
    helpers_without_entity: int = 0

    def summary(self, ledger: Ledger, seconds: float) -> str:
        """One paragraph for the test's output."""
        return (
            f"crash safety: seed {SEED}, {len(self.kill_delays)} kills in {seconds:.1f} s; "
            f"kill at {min(self.kill_delays) * 1000:.0f}-{max(self.kill_delays) * 1000:.0f} ms "
            f"with {statistics.mean(self.in_flight):.1f} requests in flight on average "
            f"(max {max(self.in_flight)}, {sum(n >= 2 for n in self.in_flight)} kills with 2+); "
            f"restart to health {statistics.median(self.start_seconds):.2f} s median, "
            f"{max(self.start_seconds):.2f} s max; acknowledged {dict(sorted(ledger.acks.items()))}; "
            f"{self.leftovers} temporary files left by kills (removed at start); "
            f"{self.resurrected} deletions cut short, {self.helpers_without_entity} of them "
            "left a helper without its entity"
        )


class Workload:
    """Clients of one hub: config flows, webhooks, actions and syncs, until the hub is killed."""

    def __init__(self, api: Api, ledger: Ledger, round_no: int, source: Path) -> None:
        self.api = api
        self.ledger = ledger
        self.round_no = round_no
        self.source = source
        self.busy: set[str] = set()
        # Some rounds leave quiet stretches between writes of the entries file: a kill then lands
        # while state saved lazily (a flag set after a create) is not yet carried to disk by the
        # next commit.
        self.pause = self.rng("pace").choice([0.0, 0.0, 0.05, 0.3, 1.0])
        self.quiet = self.pause >= 0.3

    def rng(self, worker: str) -> random.Random:
        """A generator per worker, so a seed replays each worker's choices."""
        return random.Random(f"{SEED}-{self.round_no}-{worker}")

    def unique(self) -> int:
        """A number no other write of this run uses."""
        self.ledger.serial += 1
        return self.ledger.serial

    def start(self) -> list[asyncio.Task[None]]:
        """Start every worker."""
        workers = [self.flows("flows-a"), self.flows("flows-b"), self.syncs(), self.signers()]
        workers += [self.webhooks(f"hooks-{n}") for n in range(3)]
        workers += [self.actions(f"act-{n}") for n in range(3)]
        loop = asyncio.get_running_loop()
        return [loop.create_task(worker) for worker in workers]

    async def forever(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` again and again; a dead hub just fails the request in flight."""
        while True:
            try:
                await step()
            except TRANSPORT:
                await asyncio.sleep(0.01)

    # Config flows

    async def flows(self, worker: str) -> None:
        """Create helper and webhook entries, and delete some."""
        rng = self.rng(worker)
        steps = 0

        async def step() -> None:
            nonlocal steps
            steps += 1
            live = [e for e in self.ledger.entries.values() if e.status == "live"]
            # A quiet round starts with a new helper, which the actions then change at once.
            roll = 0.0 if self.quiet and steps == 1 else rng.random()
            if roll < 0.3 and len(live) < MAX_LIVE_ENTRIES:
                await self.create_helper(rng)
            elif roll < 0.6 and len(live) < MAX_LIVE_ENTRIES:
                await self.create_webhook()
            else:
                await self.delete_entry(rng)
            await asyncio.sleep(self.pause)

        await self.forever(step)

    async def create(self, domain: str, user_input: dict[str, Any]) -> str | None:
        """Run a one-form flow; the entry's id once the hub acknowledged it."""
        status, form = await self.api.call("POST", "/api/config-flows", {"domain": domain})
        if status != 200:
            return None
        body = {"user_input": user_input}
        status, done = await self.api.call("POST", f"/api/config-flows/{form['flow_id']}", body)
        if status != 200:
            return None
        assert done["type"] == "create_entry", done
        entry_id = str(done["entry_id"])
        self.ledger.entries[entry_id] = Entry(entry_id, domain)
        self.ledger.ack("entry")
        return entry_id

    async def create_helper(self, rng: random.Random) -> None:
        """A number (most often) or a toggle helper, and its entity."""
        kind = rng.choice(["number", "number", "toggle"])
        user_input: dict[str, Any] = {"name": f"helper {self.unique()}", "kind": kind}
        if kind == "number":
            user_input.update({"min": 0, "max": 1_000_000_000, "step": 1})
        entry_id = await self.create("helpers", user_input)
        if entry_id is not None:
            await adopt_helper(self.api, self.ledger, entry_id)

    async def create_webhook(self) -> None:
        """A webhook entry, and its URL as the sender is given it."""
        entry_id = await self.create("webhook", {"name": f"sender {self.unique()}"})
        if entry_id is not None:
            await adopt_webhook(self.api, self.ledger.entries[entry_id])

    async def delete_entry(self, rng: random.Random) -> None:
        """Delete a helper or webhook entry, never the last few."""
        doomed = [
            e
            for e in self.ledger.entries.values()
            if e.status == "live" and e.domain in ("helpers", "webhook")
        ]
        if len(doomed) < 4:
            await asyncio.sleep(0.005)
            return
        entry = rng.choice(doomed)
        entry.status = "deleting"
        deleted, raced = await asyncio.gather(
            self.api.call("DELETE", f"/api/config-entries/{entry.entry_id}"),
            self.race(entry, rng),
            return_exceptions=True,
        )
        for outcome in (raced, deleted):
            if isinstance(outcome, BaseException):
                raise outcome
        assert not isinstance(deleted, BaseException)
        if deleted[0] == 200:
            entry.status = "deleted"
            self.ledger.ack("deletion")

    async def race(self, entry: Entry, rng: random.Random) -> None:
        """Write to an entry while it is deleted, like a sender or a dashboard not yet told."""
        await asyncio.sleep(rng.uniform(0, 0.01))
        helper = self.ledger.helpers.get(entry.entry_id)
        if entry.webhook_path is not None:
            await self.post_webhook(entry, "race", rng)
        elif helper is not None and not helper.retired and entry.entry_id not in self.busy:
            await self.act(entry.entry_id, helper, rng)

    # Pushes, actions and pulls

    async def webhooks(self, worker: str) -> None:
        """Keep posting to webhook entries, as outside senders do."""
        rng = self.rng(worker)

        async def step() -> None:
            targets = [e for e in self.ledger.live("webhook") if e.webhook_path]
            if not targets:
                await asyncio.sleep(0.005)
                return
            await self.post_webhook(rng.choice(targets), worker, rng)

        await self.forever(step)

    async def post_webhook(self, entry: Entry, worker: str, rng: random.Random) -> None:
        """Post one to three entities, each with a new id and value, signed if the entry says so."""
        assert entry.webhook_path is not None
        posted = {
            f"{worker}-{self.unique()}": f"v{self.unique()}" for _ in range(rng.randint(1, 3))
        }
        body = {"entities": [{"id": k, "state": v} for k, v in posted.items()]}
        path, secret = entry.webhook_path, entry.signing_secret
        status, answer = await self.api.call("POST", path, body, signed_with=secret)
        if status == 200 and answer.get("ok") is True:
            for external_id, value in posted.items():
                self.ledger.webhooks[(entry.entry_id, external_id)] = value
            self.ledger.ack("webhook")

    async def actions(self, worker: str) -> None:
        """Set a helper to a new value; one action per helper at a time, so order is known."""
        rng = self.rng(worker)

        async def step() -> None:
            idle = [
                (entry_id, helper)
                for entry_id, helper in self.ledger.helpers.items()
                if not helper.retired
                and entry_id not in self.busy
                and self.ledger.entries[entry_id].status == "live"
            ]
            if not idle:
                await asyncio.sleep(0.005)
                return
            await self.act(*rng.choice(idle), rng)

        await self.forever(step)

    async def act(self, entry_id: str, helper: Helper, rng: random.Random) -> None:
        """Set a number to a new value, or turn a toggle on or off; the answer shows the result."""
        if helper.kind == "number":
            wanted: Any = self.unique()
            body: dict[str, Any] = {"action": "set_value", "args": {"value": wanted}}
        else:
            wanted = rng.choice(["on", "off"])
            body = {"action": f"turn_{wanted}", "args": {}}
        path = f"/api/entities/{helper.entity_id}/action"
        answer = await self.change(entry_id, helper, wanted, path, body)
        if answer is not None:
            assert answer["entity"]["state"] == wanted, answer
            self.ledger.ack("action")

    async def signers(self) -> None:
        """Require signed webhooks on an entry, or stop requiring them; senders follow suit."""
        rng = self.rng("signer")

        async def step() -> None:
            idle = [
                e
                for e in self.ledger.live("webhook")
                if not self.quiet
                and not e.signing.retired
                and f"sign-{e.entry_id}" not in self.busy
            ]
            if not idle:
                await asyncio.sleep(0.005)
                return
            entry = rng.choice(idle)
            enabled = not entry.signing.settled
            path = f"/api/config-entries/{entry.entry_id}/webhook/signing"
            body = {"enabled": enabled}
            answer = await self.change(f"sign-{entry.entry_id}", entry.signing, enabled, path, body)
            if answer is not None:
                assert answer["signed"] is enabled, answer
                entry.signing_secret = answer.get("signing_secret")
                self.ledger.ack("signing")
            await asyncio.sleep(rng.uniform(0.01, 0.05))

        await self.forever(step)

    async def change(
        self, key: str, known: Known, value: Any, path: str, body: dict[str, Any]
    ) -> Any | None:
        """POST one change of ``known`` (one at a time per ``key``); the answer if acknowledged."""
        known.sent(value)
        self.busy.add(key)
        try:
            status, answer = await self.api.call("POST", path, body)
        except BaseException:
            known.answered(False, value)  # it may still land, even after a later one
            raise
        finally:
            self.busy.discard(key)
        known.answered(status == 200, value)
        return answer if status == 200 else None

    async def syncs(self) -> None:
        """Publish a new generation, then pull it on demand."""
        ledger, rng = self.ledger, self.rng("sync")

        async def step() -> None:
            if rng.random() < 0.2 and not ledger.sync_interval.retired and not self.quiet:
                seconds = 3600 + self.unique()
                path = f"/api/config-entries/{ledger.sync_entry}/sync-interval"
                body = {"seconds": seconds}
                answer = await self.change("interval", ledger.sync_interval, seconds, path, body)
                if answer is not None:
                    assert answer["sync_interval"] == seconds, answer
                    ledger.ack("setting")
                return
            ledger.sync_written += 1
            generation = ledger.sync_written
            write_generation(self.source, generation)
            path = f"/api/config-entries/{ledger.sync_entry}/sync"
            status, answer = await self.api.call("POST", path, None)
            record = answer.get("sync", {}) if status == 200 else {}
            if status == 200 and "error" not in record and "skipped" not in record:
                ledger.sync_acked = max(ledger.sync_acked, generation)
                ledger.ack("sync")

        await self.forever(step)


async def adopt_helper(api: Api, ledger: Ledger, entry_id: str) -> bool:
    """Learn a helper entry's entity; ``False`` if it has none."""
    status, answer = await api.call("GET", f"/api/entities?entry_id={entry_id}")
    assert status == 200, answer
    if len(answer["entities"]) != 1:
        return False
    [entity] = answer["entities"]
    ledger.helpers[entry_id] = Helper(
        entity["state"], entity_id=int(entity["id"]), kind=entity["entity_type"]
    )
    return True


async def adopt_webhook(api: Api, entry: Entry) -> None:
    """Learn a webhook entry's URL from the admin-only route, as its sender would be given it."""
    status, answer = await api.call("GET", f"/api/config-entries/{entry.entry_id}/webhook")
    if status == 200:
        entry.webhook_path = str(answer["path"])


async def settle(api: Api, ledger: Ledger, snapshot: Snapshot, report: Report) -> None:
    """After a check, what the hub holds is known: fold it into the ledger for the next round."""
    for entry in ledger.entries.values():
        if entry.status == "deleting":
            entry.status = "live" if entry.entry_id in snapshot.entries else "deleted"
            if entry.status == "live":  # its entities may be gone with the deletion's first half
                report.resurrected += 1
                ledger.helpers.pop(entry.entry_id, None)
                for key in [k for k in ledger.webhooks if k[0] == entry.entry_id]:
                    del ledger.webhooks[key]
    for entry_id, domain in snapshot.entries.items():
        ledger.entries.setdefault(entry_id, Entry(entry_id, domain))  # a create cut short
    for entry_id in [e for e, entry in ledger.entries.items() if entry.status == "deleted"]:
        ledger.helpers.pop(entry_id, None)
    for entry_id, helper in ledger.helpers.items():
        helper.settle(snapshot.entities[(entry_id, helper.kind, "value")])
    for entry in ledger.live("webhook"):
        entry.signing.settle(snapshot.settings[entry.entry_id]["signed"])
        if entry.signing.settled and entry.signing_secret is None:  # an enable cut short
            path = f"/api/config-entries/{entry.entry_id}/webhook/signing"
            status, answer = await api.call("POST", path, {"enabled": False})
            assert status == 200, answer
            entry.signing.settle(False)
    ledger.sync_interval.settle(snapshot.settings[ledger.sync_entry]["sync_interval"])
    for entry in ledger.live("helpers"):
        if entry.entry_id not in ledger.helpers and not await adopt_helper(
            api, ledger, entry.entry_id
        ):
            # A deletion cut short after its entities went: nothing can act on it, so finish it.
            report.helpers_without_entity += 1
            status, answer = await api.call("DELETE", f"/api/config-entries/{entry.entry_id}")
            assert status == 200, answer
            entry.status = "deleted"
    for entry in ledger.live("webhook"):
        if entry.webhook_path is None:
            await adopt_webhook(api, entry)
    synced = {v for (e, _, _), v in snapshot.entities.items() if e == ledger.sync_entry}
    ledger.sync_seen = max(synced, default=ledger.sync_seen)


def check_disk(hubs: HubProcesses, ledger: Ledger, scratch: Path, report: Report) -> list[str]:
    """Read the config dir the killed hub left: whole files, and every acknowledged write in them."""
    torn, leftovers = storage_problems(hubs.config_dir)
    assert not torn, f"torn storage files: {torn}"
    report.leftovers += len(leftovers)
    snapshot, integrity = disk_snapshot(hubs.config_dir, scratch)
    assert integrity == "ok", f"PRAGMA integrity_check on a copy of hub.db: {integrity}"
    lost = problems(snapshot, ledger)
    assert not lost, f"on disk after SIGKILL: {lost}"
    return leftovers


async def check_restarted(
    api: Api, hubs: HubProcesses, ledger: Ledger, leftovers: list[str]
) -> Snapshot:
    """The restarted hub set every entry up, serves every acknowledged write, removed leftovers."""
    deadline = time.monotonic() + HEALTH_BOUND
    snapshot = await api_snapshot(api)
    while any(state != "loaded" for state in snapshot.entry_states.values()):
        bad = {e: s for e, s in snapshot.entry_states.items() if s != "loaded"}
        assert time.monotonic() < deadline, f"entries not set up after a restart: {bad}"
        await asyncio.sleep(0.1)
        snapshot = await api_snapshot(api)
    lost = problems(snapshot, ledger)
    assert not lost, f"served after the restart: {lost}"
    storage = hubs.config_dir / ".storage"
    kept = [name for name in leftovers if (storage / name).exists()]
    assert not kept, f"temporary files of the killed hub survived the next start: {kept}"
    assert not hubs.log_problems(), f"the restarted hub logged: {hubs.log_problems()}"
    return snapshot


async def first_start(api: Api, ledger: Ledger, source: Path) -> None:
    """Onboard, and create what every round builds on: the syncing entry, helpers, a webhook."""
    write_generation(source, 0)
    status, answer = await api.call("POST", "/api/config-flows", {"domain": SYNC_DOMAIN})
    assert status == 200, answer
    assert answer["type"] == "create_entry", answer
    ledger.sync_entry = str(answer["entry_id"])
    ledger.entries[ledger.sync_entry] = Entry(ledger.sync_entry, SYNC_DOMAIN)
    workload = Workload(api, ledger, 0, source)
    rng = workload.rng("first")
    for _ in range(3):
        await workload.create_helper(rng)
    for _ in range(2):
        await workload.create_webhook()
    assert len(ledger.helpers) == 3
    assert len(ledger.live("webhook")) == 2


async def kill_during_workload(
    api: Api, hubs: HubProcesses, ledger: Ledger, round_no: int, source: Path, report: Report
) -> None:
    """Start every workload, SIGKILL the hub at a random moment, and end the clients."""
    rng = random.Random(f"{SEED}-{round_no}-kill")
    # A fifth of the kills land in the first requests, most anywhere in a busy stretch, and some
    # after the first delayed saves (one second after a change) have started to be written.
    roll = rng.random()
    if roll < 0.2:
        delay = rng.uniform(0, 0.02)
    elif roll < 0.8:
        delay = rng.uniform(0.02, 0.4)
    else:
        delay = rng.uniform(0.9, 1.5)
    tasks = Workload(api, ledger, round_no, source).start()
    try:
        await asyncio.sleep(delay)
        report.in_flight.append(api.in_flight)
        hubs.kill()
        report.kill_delays.append(delay)
    finally:
        for task in tasks:
            task.cancel()
        done, pending = await asyncio.wait(tasks, timeout=30)
        assert not pending, "a client did not stop"
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error


@pytest.mark.slow
async def test_sigkill_under_real_workloads_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Dozens of SIGKILLs mid-flow, mid-webhook, mid-action, mid-sync: every restart is whole."""
    external = tmp_path / "external"
    source = install_sync_integration(external)
    logs = tmp_path / "logs"
    logs.mkdir()
    hubs = HubProcesses(tmp_path / "config", logs, external)
    ledger = Ledger()
    report = Report()
    began = time.monotonic()
    print(f"crash safety: seed {SEED}, {ROUNDS} rounds (replay: HUB_CRASH_SEED={SEED})")
    try:
        async with aiohttp.ClientSession() as session:
            for round_no in range(ROUNDS + 1):
                try:
                    leftovers: list[str] = []
                    if round_no > 0:
                        leftovers = check_disk(hubs, ledger, tmp_path / "scratch", report)
                    report.start_seconds.append(hubs.start(f"round-{round_no:03d}"))
                    api = Api(session, hubs.url)
                    await api.sign_in()
                    if round_no == 0:
                        await first_start(api, ledger, source)
                    else:
                        snapshot = await check_restarted(api, hubs, ledger, leftovers)
                        await settle(api, ledger, snapshot, report)
                    if round_no == ROUNDS:
                        code = hubs.stop()
                        assert code == 0, f"exit {code} on SIGTERM:\n{hubs.log()}"
                        assert not hubs.log_problems(), f"logged: {hubs.log_problems()}"
                        assert check_disk(hubs, ledger, tmp_path / "scratch", report) == []
                    else:
                        await kill_during_workload(api, hubs, ledger, round_no, source, report)
                        assert not hubs.log_problems(), f"logged: {hubs.log_problems()}"
                except Exception as err:
                    raise AssertionError(
                        f"round {round_no} of {ROUNDS}, seed {SEED} (replay with "
                        f"HUB_CRASH_SEED={SEED} HUB_CRASH_ROUNDS={ROUNDS}): "
                        f"{type(err).__name__}: {err}"
                    ) from err
    finally:
        hubs.reap_all()
    print(report.summary(ledger, time.monotonic() - began))
    assert sum(report.in_flight) > 0, f"no kill landed while a request was in flight (seed {SEED})"


@pytest.mark.slow
@pytest.mark.parametrize("change", ["new helper's value", "signing", "sync interval"])
async def test_a_change_acknowledged_just_before_a_sigkill_survives(
    tmp_path: Path, change: str
) -> None:
    """Killed at once after the answer, when nothing else has written the entries file since."""
    external = tmp_path / "external"
    source = install_sync_integration(external)
    logs = tmp_path / "logs"
    logs.mkdir()
    hubs = HubProcesses(tmp_path / "config", logs, external)
    ledger = Ledger()
    try:
        async with aiohttp.ClientSession() as session:
            hubs.start("first")
            api = Api(session, hubs.url)
            await api.sign_in()
            workload = Workload(api, ledger, 1, source)
            if change == "new helper's value":
                number = {"name": "fresh", "kind": "number", "min": 0, "max": 10**9, "step": 1}
                entry_id = await workload.create("helpers", number)
                assert entry_id is not None
                assert await adopt_helper(api, ledger, entry_id)
                await workload.act(entry_id, ledger.helpers[entry_id], workload.rng("act"))
                assert ledger.acks == {"entry": 1, "action": 1}
            elif change == "signing":
                await workload.create_webhook()
                [webhook] = ledger.live("webhook")
                path = f"/api/config-entries/{webhook.entry_id}/webhook/signing"
                assert await workload.change("sign", webhook.signing, True, path, {"enabled": True})
            else:
                write_generation(source, 0)
                status, answer = await api.call(
                    "POST", "/api/config-flows", {"domain": SYNC_DOMAIN}
                )
                assert status == 200, answer
                ledger.sync_entry = str(answer["entry_id"])
                ledger.entries[ledger.sync_entry] = Entry(ledger.sync_entry, SYNC_DOMAIN)
                path = f"/api/config-entries/{ledger.sync_entry}/sync-interval"
                interval = ledger.sync_interval
                assert await workload.change("interval", interval, 4321, path, {"seconds": 4321})
            hubs.kill()
            leftovers = check_disk(hubs, ledger, tmp_path / "scratch", Report())
            hubs.start("second")
            api = Api(session, hubs.url)
            await api.sign_in()
            await check_restarted(api, hubs, ledger, leftovers)
    finally:
        hubs.reap_all()
