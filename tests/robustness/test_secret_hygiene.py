"""Secret hygiene end to end: a real hub with debug logging, fakes for the outside, every output scanned.

Entries, models, webhooks and chat runs are created with known, distinctive secret values and driven
through syncs, tool calls and failures (refused keys, reauth, bad signatures). Then the config
directory (``.storage/*``, ``hub.db`` and its WAL), the process log, every HTTP response (status
line, headers, body), every websocket frame and the event log are searched for each secret in plain
text and in the encodings a careless log line or error would use. What the hub sends to the fakes
carries the keys by design and is not scanned; the fakes only check that the right key arrived.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, quote_plus

import aiohttp
import pytest

from hub.entities.event_log import read_row_data
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openproject import FakeOpenProject
from tests.robustness.support_live_hub import (
    Api,
    HubProcess,
    Received,
    Recorder,
    Socket,
    external_integration,
    hub_process,
    served,
    stop,
)

MASK: Final = "••••"
MASKS: Final = (MASK.encode(), json.dumps(MASK)[1:-1].encode())
"""The mask as written, and as JSON escapes it."""
VISIBLE: Final = 4
"""How many trailing characters of a stored password a reconfigure form may show."""
WINDOW: Final = 10
"""Any run of this many characters of a secret counts as a leak: long enough never to occur by chance
in random text, shorter than any secret, longer than the mask's visible suffix."""
ENV_KEY_VARIABLE: Final = "ROBUSTNESS_ENV_MODEL_KEY"

VAULT_MANIFEST: Final = "domain: vault\nname: Vault\nconfig_flow: true\n"
VAULT_INIT: Final = '''
"""A careless integration: its password in debug lines and in an exception, as happens."""
import logging

from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow

_LOGGER = logging.getLogger(__name__)


class VaultFlow(SimpleConfigFlow):
    domain = "vault"
    TITLE_FIELD = "username"
    SCHEMA = [
        FieldDescriptor(name="username", label="Username", required=True),
        FieldDescriptor(name="password", label="Password", type="password", required=True),
    ]

    async def validate(self, data):
        _LOGGER.debug("validating %s with password %s", data["username"], data["password"])
        return None


class Vault(Integration):
    config_flow_cls = VaultFlow

    async def async_setup_entry(self, ctx):
        _LOGGER.debug("vault %s unlocked with %r", ctx.entry_id, ctx.secrets["password"])
        _LOGGER.debug("all of its secrets: %r %s", ctx.secrets, dict(ctx.secrets))
        return []

    async def async_handle_webhook(self, ctx, payload):
        raise RuntimeError(f"the vault refused {ctx.secrets['password']!r}")


INTEGRATION = Vault()
'''


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that must not appear in anything the hub writes or answers."""

    name: str
    value: str
    maskable: bool = False
    """A password whose last ``VISIBLE`` characters a reconfigure form may show after ``MASK``."""


def _hex() -> str:
    return secrets.token_hex(16)


def needles(value: str) -> dict[str, bytes]:
    """The byte strings that would give ``value`` away: itself, its encodings, and every long window."""
    raw = value.encode()
    forms: dict[str, bytes] = {
        "plain": raw,
        "json-escaped": json.dumps(value)[1:-1].encode(),
        "url-encoded": quote(value, safe="").encode(),
        "form-encoded": quote_plus(value).encode(),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "basic-auth apikey:<key>": base64.b64encode(b"apikey:" + raw),
    }
    # Base64 of the value inside a longer text depends on where it starts within a 3-byte group:
    # encode each alignment and keep the middle, which no neighbouring byte can change.
    for offset in range(3):
        padded = b"\0" * offset + raw
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            forms[f"{name}@{offset}"] = encode(padded)[4 if offset else 0 : -4]
    for start in range(len(raw) - WINDOW + 1):
        forms[f"plain[{start}:{start + WINDOW}]"] = raw[start : start + WINDOW]
    unique: dict[bytes, str] = {}
    for form, needle in forms.items():
        if len(needle) >= WINDOW:
            unique.setdefault(needle, form)
    return {form: needle for needle, form in unique.items()}


def find_leaks(items: Iterable[Received], known: Iterable[Secret]) -> list[str]:
    """Every place a secret (or a revealing encoding, or too much after a mask) shows up."""
    table = [(secret, needles(secret.value)) for secret in known]
    leaks: list[str] = []
    for item in items:
        for secret, forms in table:
            if secret.name in item.may_hold:
                continue
            for form, needle in forms.items():
                at = item.data.find(needle)
                if at >= 0:
                    context = item.data[max(0, at - 60) : at + len(needle) + 60]
                    leaks.append(f"{secret.name} ({form}) in {item.where}: {context!r}")
                    break
            value = secret.value
            # A password of 8 or more may show its last VISIBLE; four characters is the shortest
            # run checked otherwise, so a mask that happens to precede one common letter is no leak.
            shown = VISIBLE + 1 if secret.maskable and len(value) >= 8 else VISIBLE
            for count in range(shown, len(value) + 1):
                tail = value[-count:]
                tails = (tail.encode(), json.dumps(tail)[1:-1].encode())
                if any(mask + end in item.data for mask in MASKS for end in tails):
                    leaks.append(f"{secret.name}: {MASK} then {count} characters in {item.where}")
                    break
    return leaks


def files_under(root: Path, label: str) -> list[Received]:
    """Every file below ``root`` (``.storage/*``, ``hub.db``, its WAL and SHM, logs) as read now."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # SQLite removed its -shm or -wal meanwhile
                continue
            found.append(Received(f"{label}:{path.relative_to(root)}", data))
            if path.name == "hub.db":
                where = f"{label}:{path.relative_to(root)} event_log inflated"
                found.append(Received(where, _inflated_event_log(path)))
    return found


def _inflated_event_log(path: Path) -> bytes:
    """The event log's rows as text: stored deflated, where a scan of the bytes sees no secret."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT data FROM event_log").fetchall()
    except sqlite3.Error:
        return b""
    return "\n".join("".join(read_row_data(data)) for (data,) in rows).encode()


def test_the_scanner_finds_each_encoding_and_an_overlong_mask() -> None:
    secret = Secret("key", f"op-key-{_hex()}")
    value = secret.value
    carriers = {
        "plain": f"GET /?key={value} 200",
        "json": json.dumps({"k": value + "\u00fc"}),
        "url": "q=" + quote(value + "/+ ", safe=""),
        "basic": "Authorization: Basic " + base64.b64encode(f"apikey:{value}".encode()).decode(),
        "base64 at an odd offset": base64.b64encode(b"xy" + value.encode() + b"z").decode(),
        "window": f"...{value[7:19]}...",
        "hex": value.encode().hex(),
        "mask": f"{MASK}{value[-5:]}",
        "mask in JSON": json.dumps({"masked": MASK + value[-6:]}),
    }
    for name, text in carriers.items():
        assert find_leaks([Received(name, text.encode())], [secret]), name
    password = Secret("pw", f"pw {_hex()}", maskable=True)
    allowed = Received("form", f'"masked": "{MASK}{password.value[-4:]}"'.encode())
    assert find_leaks([allowed], [password]) == []
    assert find_leaks([allowed], [Secret("key", password.value)]), "a secret field shows nothing"
    held = Received("the one answer that reveals it", value.encode(), frozenset({"key"}))
    assert find_leaks([held], [secret]) == []


# The end-to-end run


@dataclass(slots=True)
class Outside:
    """The fakes the hub talks to, and their URLs."""

    openproject: FakeOpenProject
    openproject_url: str
    model: FakeOpenAI
    model_url: str
    env_model: FakeOpenAI
    env_model_url: str


@dataclass(slots=True)
class Run:
    """What one end-to-end run learned: the secrets, and everything received from the hub."""

    hub: HubProcess
    api: Api
    sock: Socket
    recorder: Recorder
    known: dict[str, Secret]
    garage: str = ""
    """The webhook entry's URL path with its token."""

    def learn(self, name: str, value: str) -> None:
        """Add a secret the hub generated (a webhook token, a signing secret)."""
        self.known[name] = Secret(name, value)


async def _fakes(stack: AsyncExitStack, keys: Mapping[str, str]) -> Outside:
    openproject = FakeOpenProject(keys["op_key"])
    household = openproject.add_project("household", "Household")
    openproject.add_work_package(household, "Fix the boiler", assignee_id=1)
    model = FakeOpenAI(api_key=keys["model_key"])
    env_model = FakeOpenAI(api_key=keys["env_key"])
    return Outside(
        openproject,
        await stack.enter_async_context(served(openproject.app())),
        model,
        await stack.enter_async_context(served(model.app())) + "/v1",
        env_model,
        await stack.enter_async_context(served(env_model.app())) + "/v1",
    )


def _configuration(outside: Outside) -> str:
    return f"""
logger:
  default: debug
  logs:
    aiohttp.access: debug
    apscheduler: debug
models:
  - name: envmodel
    base_url: {outside.env_model_url}
    model: fake-model
    tier: internal
    api_key_env: {ENV_KEY_VARIABLE}
"""


async def _flow(run: Run, domain: str, user_input: Mapping[str, Any]) -> dict[str, Any]:
    form = await run.api.call("POST", "/api/config-flows", {"domain": domain})
    answer: dict[str, Any] = await run.api.call(
        "POST", f"/api/config-flows/{form['flow_id']}", {"user_input": dict(user_input)}
    )
    return answer


async def _chat(run: Run, conversation_id: str, text: str) -> list[dict[str, Any]]:
    """Send a message over the websocket; the run's events up to ``done``."""
    msg_id = await run.sock.send("chat/send", conversation_id=conversation_id, text=text)
    messages = await run.sock.until(
        lambda m: (
            m.get("id") == msg_id and m.get("type") == "event" and m["event"].get("kind") == "done"
        ),
        seconds=60,
    )
    return [m["event"] for m in messages if m.get("id") == msg_id and m.get("type") == "event"]


def _status(events: list[dict[str, Any]]) -> str:
    return str(events[-1]["status"])


def _kinds(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["kind"] == kind]


def _signed(secret: str, body: bytes, stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Hub-Timestamp": stamp,
        "X-Hub-Signature": f"sha256={digest}",
    }


async def _openproject(run: Run, outside: Outside) -> str:
    """Add OpenProject (a refused key first), sync it, and check the key reached the fake."""
    keys = run.known
    form = await run.api.call("POST", "/api/config-flows", {"domain": "openproject"})
    flow = f"/api/config-flows/{form['flow_id']}"
    no_url = {"base_url": "openproject.lan", "api_key": keys["op_key"].value}
    refused = await run.api.call("POST", flow, {"user_input": no_url})
    assert refused["error_keys"] == {"base_url": "invalid_url"}, refused
    wrong = {"base_url": outside.openproject_url, "api_key": keys["op_wrong"].value}
    refused = await run.api.call("POST", flow, {"user_input": wrong})
    assert refused["error_keys"] == {"base": "auth_failed"}, refused
    right = {**wrong, "api_key": keys["op_key"].value}
    done = await run.api.call("POST", flow, {"user_input": right})
    assert done["type"] == "create_entry", done
    entry_id = str(done["entry_id"])
    synced = await run.api.call("POST", f"/api/config-entries/{entry_id}/sync")
    assert "error" not in synced["sync"], synced
    entities = await run.api.call("GET", f"/api/entities?entry_id={entry_id}")
    names = {entity["name"] for entity in entities["entities"]}
    assert {"Household", "Fix the boiler"} <= names, names  # only the right key gets these
    return entry_id


async def _webhooks(run: Run, openproject_entry: str) -> None:
    """A signed webhook entry: good, bad and missing signatures, a wrong token; OpenProject's too."""
    done = await _flow(run, "webhook", {"name": "Garage"})
    entry_id = done["entry_id"]
    info = await run.api.call(
        "GET", f"/api/config-entries/{entry_id}/webhook", may_hold=frozenset({"webhook_token"})
    )
    run.learn("webhook_token", info["path"].split("token=")[1])
    run.garage = info["path"]
    signing = await run.api.call(
        "POST",
        f"/api/config-entries/{entry_id}/webhook/signing",
        {"enabled": True},
        may_hold=frozenset({"signing_secret"}),
    )
    run.learn("signing_secret", signing["signing_secret"])
    secret = signing["signing_secret"]
    body = json.dumps({"id": "garage_door", "state": "open"}).encode()
    path = info["path"]
    await run.api.call("POST", path, data=body, headers=_signed(secret, body))
    bad = _signed("not-the-secret", body)
    await run.api.call("POST", path, data=body, headers=bad, status=401)
    replayed = _signed(secret, body, stamp=str(int(time.time()) - 1))
    await run.api.call("POST", path, data=body, headers=replayed)
    await run.api.call("POST", path, data=body, headers=replayed, status=401)
    stale = _signed(secret, body, stamp=str(int(time.time()) - 3600))
    await run.api.call("POST", path, data=body, headers=stale, status=401)
    plain = {"Content-Type": "application/json"}
    await run.api.call("POST", path, data=body, headers=plain, status=401)
    wrong_token = path.replace(run.known["webhook_token"].value, "x" * 43)
    await run.api.call("POST", wrong_token, data=body, headers=plain, status=404)
    await run.api.call("POST", path + "x", data=b"{not json", headers=plain, status=404)

    op_info = await run.api.call(
        "GET",
        f"/api/config-entries/{openproject_entry}/webhook",
        may_hold=frozenset({"op_webhook_token"}),
    )
    run.learn("op_webhook_token", op_info["path"].split("token=")[1])
    update = json.dumps({"action": "work_package:updated"}).encode()
    await run.api.call("POST", op_info["path"], data=update, headers=plain)
    await run.api.call("POST", op_info["path"], data=b"[1, 2]", headers=plain, status=400)


async def _chats(run: Run, outside: Outside) -> tuple[str, str]:
    """A UI model with a stored key runs an OpenProject tool; a configuration model answers too."""
    keys = run.known
    model = {
        "name": "keyed",
        "base_url": outside.model_url,
        "model": "fake-model",
        "tier": "internal",
        "api_key": keys["model_key"].value,
    }
    # Refused input that carries the key: the error names the problem, never the value.
    for bad in ({"tier": "secret-tier"}, {"name": "no/slashes"}, {"api_key": "k" * 5000}):
        await run.api.call("POST", "/api/models", {**model, **bad}, status=400)
    await run.api.call("POST", "/api/models", model, status=201)
    await run.api.call("POST", "/api/models", model, status=409)
    key_only = {"api_key": keys["model_key"].value}
    await run.api.call("PATCH", "/api/models/envmodel", key_only, status=400)
    listed = await run.api.call("GET", "/api/models")
    assert {m["name"]: m["has_api_key"] for m in listed["models"]} == {
        "envmodel": False,
        "keyed": True,
    }
    keyed = await run.api.call(
        "POST",
        "/api/conversations",
        {"model": "keyed", "integrations": ["openproject"]},
        status=201,
    )
    outside.model.reply_tool_call("openproject_list_projects", {})
    events = await _chat(run, keyed["id"], "Which projects are there?")
    assert _status(events) == "completed", events
    [result] = _kinds(events, "tool_result")
    assert "Household" in json.dumps(result), result  # the tool ran with the decrypted key
    assert set(outside.model.auth_headers) == {f"Bearer {keys['model_key'].value}"}

    by_env = await run.api.call("POST", "/api/conversations", {"model": "envmodel"}, status=201)
    outside.env_model.reply_text("Hello from the configured model.")
    events = await _chat(run, by_env["id"], "Hello?")
    assert _status(events) == "completed", events
    assert set(outside.env_model.auth_headers) == {f"Bearer {keys['env_key'].value}"}
    return keyed["id"], by_env["id"]


async def _failures(
    run: Run, outside: Outside, openproject_entry: str, chats: tuple[str, str]
) -> None:
    """Keys refused by the fakes: in a tool, a sync, a webhook, a chat; reconfigure and reauth."""
    keys = run.known
    keyed, by_env = chats
    entry_path = f"/api/config-entries/{openproject_entry}"

    # OpenProject stops accepting the stored key: the tool, the sync and the webhook fail.
    outside.openproject.key = keys["op_key2"].value
    outside.model.reply_tool_call("openproject_list_projects", {})
    events = await _chat(run, keyed, "And now?")
    assert _status(events) == "completed", events
    [failed] = _kinds(events, "tool_result")
    assert "Household" not in json.dumps(failed), failed
    op_hook = run.known["op_webhook_token"].value
    hook = f"/webhooks/integration/{openproject_entry}?token={op_hook}"
    synced = await run.api.call("POST", f"{entry_path}/sync")
    assert "refused" in synced["sync"]["error"], synced
    entry = await run.api.call("GET", entry_path)
    assert entry["state"] == "reauth_required", entry
    assert "refused" in entry["reason"], entry
    await run.api.call("POST", hook, {"action": "work_package:updated"}, status=503)

    # Reconfigure shows that a key is stored, never any of it; abandoning it changes nothing.
    form = await run.api.call("POST", f"{entry_path}/reconfigure")
    fields = {item["name"]: item for item in form["data_schema"]}
    assert fields["api_key"].get("has_value") is True, fields
    assert "masked" not in fields["api_key"], fields
    await run.api.call("DELETE", f"/api/config-flows/{form['flow_id']}")

    # Reauth: a wrong key is refused, the new one is taken, and syncs work again.
    form = await run.api.call("POST", f"{entry_path}/reauth")
    flow = f"/api/config-flows/{form['flow_id']}"
    refused = await run.api.call("POST", flow, {"user_input": {"api_key": keys["op_wrong"].value}})
    assert refused.get("error_keys") == {"base": "auth_failed"}, refused
    done = await run.api.call("POST", flow, {"user_input": {"api_key": keys["op_key2"].value}})
    assert done["type"] in ("create_entry", "abort"), done
    synced = await run.api.call("POST", f"{entry_path}/sync")
    assert "error" not in synced["sync"], synced
    assert "skipped" not in synced["sync"], synced

    # The model provider rejects the key: the chat shows an error; a new key stored fixes it.
    outside.model.api_key = keys["model_key2"].value
    events = await _chat(run, keyed, "Still there?")
    assert _status(events) == "failed", events
    [error] = _kinds(events, "error")
    assert "refused the API key" in error["message"], error
    await run.api.call("PATCH", "/api/models/keyed", {"api_key": keys["model_key2"].value})
    outside.model.reply_text("Back again.")
    assert _status(await _chat(run, keyed, "Now?")) == "completed"
    assert outside.model.auth_headers[-1] == f"Bearer {keys['model_key2'].value}"
    outside.env_model.api_key = "rotated-at-the-provider"
    events = await _chat(run, by_env, "Hello again?")
    assert _status(events) == "failed", events


async def _vault(run: Run) -> None:
    """A password field: stored encrypted, logged carelessly by its integration, masked on edit."""
    password = run.known["vault_password"].value
    done = await _flow(run, "vault", {"username": "vaultuser", "password": password})
    assert done["type"] == "create_entry", done
    form = await run.api.call("POST", f"/api/config-entries/{done['entry_id']}/reconfigure")
    fields = {item["name"]: item for item in form["data_schema"]}
    assert fields["password"]["masked"] == MASK + password[-VISIBLE:], fields
    assert fields["username"]["default"] == "vaultuser"
    await run.api.call("DELETE", f"/api/config-flows/{form['flow_id']}")
    # Its webhook fails with the password in the exception: a 502, and a traceback in the log.
    info = await run.api.call(
        "GET",
        f"/api/config-entries/{done['entry_id']}/webhook",
        may_hold=frozenset({"vault_webhook_token"}),
    )
    run.learn("vault_webhook_token", info["path"].split("token=")[1])
    failed = await run.api.call("POST", info["path"], {"open": True}, status=502)
    assert failed["error"]["code"] == "webhook_failed", failed


async def _read_everything(run: Run, chats: tuple[str, str]) -> None:
    """Read back what a person or an admin can: entries, jobs, events, conversations, entities."""
    for path in (
        "/api/config-entries",
        "/api/jobs",
        "/api/database",
        "/api/entities",
        "/api/integrations",
        "/api/models",
        "/api/conversations",
        "/api/auth/tokens",
        f"/api/conversations/{chats[0]}",
        f"/api/conversations/{chats[1]}",
    ):
        await run.api.call("GET", path)
    events = await run.api.call("GET", "/api/events?limit=1000")
    kinds = {event["event_type"] for event in events["events"]}
    assert {"webhook.received", "config_entry.created", "entity.created"} <= kinds, kinds


async def _sign_in(api: Api, password: str) -> None:
    tokens = await api.call("POST", "/api/auth/login", {"username": "owner", "password": password})
    api.token = str(tokens["access_token"])


async def _disable_the_webhook(run: Run) -> None:
    """Disable the webhook entry; its sender keeps posting with the (still valid) token."""
    entry_id = run.garage.split("/")[3].split("?")[0]
    await run.api.call("POST", f"/api/config-entries/{entry_id}/disable")
    body = json.dumps({"id": "garage_door", "state": "closed"}).encode()
    plain = {"Content-Type": "application/json"}
    await run.api.call("POST", run.garage, data=body, headers=plain, status=404)


async def _after_restart(run: Run, outside: Outside, chats: tuple[str, str]) -> None:
    """Webhooks to the disabled entry and a chat on the stored key, right after a restart."""
    body = json.dumps({"id": "garage_door", "state": "closed"}).encode()
    plain = {"Content-Type": "application/json"}
    await run.api.call("POST", run.garage, data=body, headers=plain, status=404)
    outside.model.reply_text("Still here after a restart.")
    events = await _chat(run, chats[0], "After the restart?")
    assert _status(events) == "completed", events
    assert outside.model.auth_headers[-1] == f"Bearer {run.known['model_key2'].value}"


@pytest.fixture
async def outside_and_keys() -> AsyncIterator[tuple[Outside, dict[str, Secret]]]:
    """The secrets of one run, and the fakes that accept them."""
    # A fixed part shorter than WINDOW, so only the random part can match anything by chance.
    known = {
        secret.name: secret
        for secret in (
            Secret("op_key", f"op-key-{_hex()}"),
            Secret("op_key2", f"op-key2-{_hex()}"),
            Secret("op_wrong", f"op-bad-{_hex()}"),
            # Characters that URL, form and JSON encoding all change.
            Secret("model_key", f"sk+{_hex()}/{_hex()[:8]}="),
            Secret("model_key2", f"sk2+{_hex()}/="),
            Secret("env_key", f"sk-env-{_hex()}"),
            Secret("vault_password", f"pw ü&= {_hex()}", maskable=True),
            Secret("owner_password", f"owner {_hex()}"),
            Secret("wrong_password", f"wrong {_hex()}"),
        )
    }
    async with AsyncExitStack() as stack:
        values = {name: secret.value for name, secret in known.items()}
        yield await _fakes(stack, values), known


async def test_no_secret_reaches_disk_logs_responses_websocket_or_events(
    tmp_path: Path,
    outside_and_keys: tuple[Outside, dict[str, Secret]],
    no_lingering_tasks: None,
) -> None:
    outside, known = outside_and_keys
    external = external_integration(tmp_path / "external", "vault", VAULT_MANIFEST, VAULT_INIT)
    env = {
        "HUB__LOGGER__DEFAULT": "debug",
        "HUB__INTEGRATIONS__ALLOW_EXTERNAL": "true",
        "HUB__INTEGRATIONS__EXTERNAL_DIRS": f"[{external}]",
        ENV_KEY_VARIABLE: known["env_key"].value,
    }
    recorder = Recorder()
    configuration = _configuration(outside)
    async with (
        hub_process(tmp_path, env, configuration=configuration) as hub,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, hub.url, recorder)
        await api.onboard("owner", known["owner_password"].value)
        wrong_login = {"username": "owner", "password": known["wrong_password"].value}
        await api.call("POST", "/api/auth/login", wrong_login, status=401)
        sock = await Socket.open(session, hub.url, api.token, recorder)
        run = Run(hub, api, sock, recorder, known)
        try:
            await sock.send("subscribe_events", event_type="*")
            await sock.send("subscribe_entities")
            openproject_entry = await _openproject(run, outside)
            await _webhooks(run, openproject_entry)
            chats = await _chats(run, outside)
            await _failures(run, outside, openproject_entry, chats)
            await _vault(run)
            await _read_everything(run, chats)
            await _disable_the_webhook(run)
        finally:
            await sock.close()
        first_run = files_under(hub.config_dir, "running")
        assert await stop(hub) == 0, hub.log_text()[-3000:]
    # Started again, the hub knows its secrets only as ciphertext until it decrypts each one.
    async with (
        hub_process(tmp_path, env, log_name="hub-restarted.log") as again,
        aiohttp.ClientSession() as session,
    ):
        run.api = api = Api(session, again.url, recorder)
        await _sign_in(api, known["owner_password"].value)
        run.sock = sock = await Socket.open(session, again.url, api.token, recorder)
        try:
            await _after_restart(run, outside, chats)
            await _read_everything(run, chats)
        finally:
            await sock.close()
        second_run = files_under(again.config_dir, "restarted")
        assert await stop(again) == 0, again.log_text()[-3000:]
    assert any(item.where == "running:hub.db-wal" for item in first_run), "the WAL was read"
    log = hub.log_text()
    assert "unlocked with '***'" in log, "the careless integration's line was written, masked"
    assert "tool openproject_list_projects of " in log, "the entry runtime logged the failure"
    assert "RuntimeError: the vault refused '***'" in log, "the traceback was logged, masked"
    scanned = [
        *recorder.items,
        *first_run,
        *second_run,
        *files_under(tmp_path, "stopped"),  # the config directory and both process logs
    ]
    assert len(recorder.items) > 100
    shown = known["vault_password"].value[-VISIBLE:].encode()
    assert any(mask + shown in item.data for item in recorder.items for mask in MASKS)
    leaks = find_leaks(scanned, run.known.values())
    assert leaks == [], "\n".join(leaks)
