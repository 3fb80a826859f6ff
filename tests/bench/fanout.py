"""Websocket fan-out benchmark: a real ``hub run`` process, 20 subscribed clients, sequential actions.

Run: ``python -m tests.bench.fanout [--clients 20] [--changes 2000] [--pings 5000]
[--json FILE]``.
The hub starts on a fresh config directory with a small external integration whose ``set`` action
stores a number as an entity's state. A separate process on 127.0.0.1 opens the websocket clients
(each subscribed to ``entity.updated``), then changes the entity ``--changes`` times, one action
after another, through ``POST /api/entities/{id}/action``; it notes when each reply arrives and when
each client receives the matching event. Then one client sends ``--pings`` pings, one at a time.
Both processes share this machine's cores, so the hub's own CPU time (user and system) per delivery
and per ping is reported too: steadier than the rates when something else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import aiohttp

from tests.bench.hub_process import hub_process
from tests.bench.report import report

INIT = """
from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

DIAL = EntityStateTypeDescriptor(
    key="dial",
    name="Dial",
    actions=(
        EntityStateActionDescriptor(
            name="set", label="Set", fields=(FieldDescriptor(name="value", label="Value", type="number"),)
        ),
    ),
)


class Dial(Integration):
    def entity_types(self):
        return {"dial": DIAL}

    async def async_initial_entities(self, ctx):
        return [
            EntityStateRecord(entity_type="dial", external_id=f"d{n:02}", name=f"Dial {n}", state=-1)
            for n in range(17)
        ]

    async def async_call_action(self, ctx, *, entity_type, external_id, action, args, current):
        record = current.model_copy(update={"state": args["value"]})
        return EntityStateActionResult(records=(record,))


INTEGRATION = Dial()
"""

LOAD = """
import asyncio, json, os, sys, time
import aiohttp

def cpu(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

async def main(base, token, entity_ids, hub_pid, clients, changes, workers, pings):
    auth = {"Authorization": f"Bearer {token}"}
    received = [{} for _ in range(clients)]
    out_of_order = 0
    async with aiohttp.ClientSession() as session:
        sockets = []
        for _ in range(clients):
            ws = await session.ws_connect(base.replace("http", "ws") + "/api/websocket")
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "entity.updated"})
            assert (await ws.receive_json())["success"]
            sockets.append(ws)

        async def read(times, ws):
            nonlocal out_of_order
            last = {}
            async for msg in ws:
                now = time.perf_counter()
                data = json.loads(msg.data)["event"]["data"]
                key = (data["entity_id"], data["new_state"]["state"])
                if key[1] <= last.get(key[0], -1):
                    out_of_order += 1
                last[key[0]] = key[1]
                times[key] = now

        async def settle(expected):
            deadline = time.perf_counter() + 30
            while any(len(times) < expected for times in received) and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)

        async def change(entity_id, values, sent, replies):
            nonlocal errors
            url = f"{base}/api/entities/{entity_id}/action"
            for value in values:
                body = {"action": "set", "args": {"value": value}}
                sent[(entity_id, value)] = time.perf_counter()
                async with session.post(url, json=body, headers=auth) as resp:
                    await resp.read()
                    errors += resp.status != 200
                replies[(entity_id, value)] = time.perf_counter()

        readers = [asyncio.create_task(read(times, ws)) for times, ws in zip(received, sockets)]
        errors = 0
        cpu_started = cpu(hub_pid)
        # One after another: the latency from an action's reply to each client's receipt.
        sent, replies = {}, {}
        started = time.perf_counter()
        await change(entity_ids[0], range(changes), sent, replies)
        actions_elapsed = time.perf_counter() - started
        await settle(changes)
        serial = [dict(times) for times in received]
        serial_elapsed = max(t for times in serial for t in times.values()) - started
        # Several at once, each on its own entity: what the fan-out delivers when actions keep up.
        per = changes // workers
        started = time.perf_counter()
        await asyncio.gather(*(
            change(entity_id, range(per), {}, {}) for entity_id in entity_ids[1 : workers + 1]
        ))
        await settle(changes + per * workers)
        burst = [t for times in received for key, t in times.items() if key[0] != entity_ids[0]]
        burst_elapsed = max(burst) - started
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

        fanout_cpu = cpu(hub_pid) - cpu_started
        ping_ws = sockets[0]
        await ping_ws.send_json({"id": 2, "type": "unsubscribe_events", "subscription": 1})
        while json.loads(await ping_ws.receive_str()).get("id") != 2:
            pass
        ping_started = time.perf_counter()
        for n in range(pings):
            await ping_ws.send_str('{"id":%d,"type":"ping"}' % (n + 3))
            await ping_ws.receive_str()
        ping_elapsed = time.perf_counter() - ping_started
        ping_cpu = cpu(hub_pid) - cpu_started - fanout_cpu
        for ws in sockets:
            await ws.close()

    print(json.dumps({
        "after_reply": [t - replies[key] for times in serial for key, t in times.items()],
        "after_send": [t - sent[key] for times in serial for key, t in times.items()],
        "missing": clients * (changes + per * workers) - sum(len(times) for times in received),
        "out_of_order": out_of_order, "errors": errors,
        "serial_elapsed": serial_elapsed, "actions_elapsed": actions_elapsed,
        "burst_deliveries": len(burst), "burst_elapsed": burst_elapsed,
        "ping_elapsed": ping_elapsed, "fanout_cpu": fanout_cpu, "ping_cpu": ping_cpu,
    }))

ids = [int(i) for i in sys.argv[3].split(",")]
asyncio.run(main(sys.argv[1], sys.argv[2], ids, *(int(a) for a in sys.argv[4:9])))
"""


async def prepare(base: str) -> tuple[str, list[int]]:
    """Onboard an owner, add an entry of the bench integration; the token and the dials' ids."""
    async with aiohttp.ClientSession() as session:
        body = {"username": "bench", "password": "bench-password"}
        async with session.post(f"{base}/api/onboarding", json=body) as resp:
            token = str((await resp.json())["access_token"])
        auth = {"Authorization": f"Bearer {token}"}
        flow = {"domain": "bench_dial"}
        async with session.post(f"{base}/api/config-flows", json=flow, headers=auth) as resp:
            entry_id = (await resp.json())["entry_id"]
        query = {"entry_id": entry_id}
        async with session.get(f"{base}/api/entities", params=query, headers=auth) as resp:
            entities = (await resp.json())["entities"]
    dials = sorted(entities, key=lambda entity: str(entity["external_id"]))
    return token, [int(entity["id"]) for entity in dials]


def run(clients: int, changes: int, workers: int, pings: int) -> dict[str, dict[str, Any]]:
    """Start the hub, load it, stop it; returns the figures."""
    with hub_process("bench_dial", INIT) as base:
        token, entity_ids = asyncio.run(prepare(base))
        ids = ",".join(str(entity_id) for entity_id in entity_ids)
        numbers = (_hub_pid(), clients, changes, workers, pings)
        args = [base, token, ids, *(str(n) for n in numbers)]
        out = subprocess.run(
            [sys.executable, "-c", LOAD, *args], capture_output=True, text=True, check=True
        ).stdout
        result = json.loads(out)
    deliveries = clients * (changes + changes // workers * workers)
    fanout_cpu, ping_cpu = result["fanout_cpu"], result["ping_cpu"]
    after_reply = sorted(max(0.0, lag) for lag in result["after_reply"])
    after_send = sorted(result["after_send"])
    count = len(after_reply)
    return {
        "fanout.serial.deliveries_per_second": {
            "value": round(count / result["serial_elapsed"]),
            "unit": "events/s",
            "target": 20_000,
            "clients": clients,
            "changes": changes,
        },
        "fanout.serial.actions_per_second": {
            "value": round(changes / result["actions_elapsed"]),
            "unit": "actions/s",
        },
        "fanout.serial.reply_to_receipt_p99": {
            "value": round(_pick(after_reply, 0.99) * 1000, 2),
            "unit": "ms",
            "target": 10,
            "before_reply": sum(lag <= 0 for lag in result["after_reply"]),
            "of": count,
        },
        "fanout.serial.send_to_receipt_p50": {
            "value": round(_pick(after_send, 0.5) * 1000, 2),
            "unit": "ms",
        },
        "fanout.serial.send_to_receipt_p99": {
            "value": round(_pick(after_send, 0.99) * 1000, 2),
            "unit": "ms",
        },
        "fanout.concurrent.deliveries_per_second": {
            "value": round(result["burst_deliveries"] / result["burst_elapsed"]),
            "unit": "events/s",
            "target": 20_000,
            "workers": workers,
        },
        "fanout.missing_or_out_of_order": {
            "value": result["missing"] + result["out_of_order"],
            "unit": "events",
        },
        "fanout.action_errors": {"value": result["errors"], "unit": "responses"},
        "fanout.hub_cpu_per_delivery": {
            "value": round(fanout_cpu / deliveries * 1e6, 1),
            "unit": "µs",
            "note": "the action and its durable write included, shared by its deliveries",
        },
        "websocket.hub_cpu_per_ping": {
            "value": round(ping_cpu / pings * 1e6, 1),
            "unit": "µs",
        },
        "websocket.pings_per_second": {
            "value": round(pings / result["ping_elapsed"]),
            "unit": "round trips/s",
            "target": 5_000,
        },
    }


def _hub_pid() -> int:
    """The ``hub run`` this process started (``hub_process`` does not hand out its process)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and b"hub\0run" in command:
                return int(entry)
    raise RuntimeError("no hub process found")


def _pick(ordered: list[float], quantile: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8, help="concurrent actions, at most 16")
    parser.add_argument("--pings", type=int, default=5000)
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    workers = min(args.workers, 16)
    report(run(args.clients, args.changes, workers, args.pings), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
