"""The files ``hub scaffold`` writes, as ``string.Template`` texts (``$domain``, ``$cls``, ``$name``).

Each text is a whole file or a piece that ``hub.ops.scaffold`` joins according to the options;
the result looks like the specification's own examples (seeds 000 and 001), so an author who
reads those recognises every line.
"""

from __future__ import annotations

from typing import Final

MANIFEST: Final = """\
domain: $domain
name: $name
version: "0.1.0"
integration_type: service
config_flow: true
single_instance: true
iot_class: $iot_class
codeowners:
  - "@you"
documentation: https://example.com/$domain
"""

URL_FIELD: Final = """\
    FieldDescriptor(
        name="base_url",
        label="field.base_url.label",
        type="text",
        required=True,
        placeholder="field.base_url.placeholder",
    ),
"""

KEY_FIELD: Final = """\
    FieldDescriptor(
        name="api_key",
        label="field.api_key.label",
        type="secret",
        required=True,
        description="field.api_key.description",
    ),
"""

SIMPLE_FLOW: Final = (
    '''\
"""The $name form: the service's address and an API key, in one step."""

from __future__ import annotations

from typing import Any

from hub.integrations.manifest import FieldDescriptor
from hub.integrations.simple_flow import SimpleConfigFlow

SCHEMA = [
'''
    + URL_FIELD
    + KEY_FIELD
    + '''\
]


class ${cls}ConfigFlow(SimpleConfigFlow):
    """One form; reconfigure comes with it. ``validate`` is where a connection test goes."""

    domain = "$domain"
    SCHEMA = SCHEMA
    TITLE_FIELD = "base_url"

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """The required checks, and an address that starts with http:// or https://."""
        errors = super().validate_fields(data)
        url = str(data.get("base_url") or "")
        if "base_url" not in errors and not url.startswith(("http://", "https://")):
            errors["base_url"] = "invalid_url"
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """Try the key against the service: an error key (``auth_failed``) or None when it works.

        Raising is fine: the person sees ``connection_failed``, never the exception's text.
        """
        return None
'''
)

MULTI_FLOW: Final = (
    '''\
"""The $name wizard: where the service is, then the key for it (two steps)."""

from __future__ import annotations

from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult
from hub.integrations.manifest import FieldDescriptor

USER_SCHEMA = [
'''
    + URL_FIELD
    + """\
]

CREDENTIALS_SCHEMA = [
"""
    + KEY_FIELD
    + '''\
]


class ${cls}ConfigFlow(ConfigFlow):
    """``user`` asks for the address, ``credentials`` for the key; reconfigure runs both again."""

    domain = "$domain"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The service's address; a submission goes on to the credentials step."""
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
        base_url = str(user_input.get("base_url") or "").strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base_url": "invalid_url"}
            )
        self._collected["base_url"] = base_url  # the next step reads it from here
        return self.async_show_form(step_id="credentials", data_schema=CREDENTIALS_SCHEMA)

    async def async_step_credentials(self, user_input: dict[str, Any] | None) -> FlowResult:
        """The API key; check it against the service here and return an error key if it fails."""
        if user_input is None:
            return self.async_show_form(step_id="credentials", data_schema=CREDENTIALS_SCHEMA)
        api_key = str(user_input.get("api_key") or "").strip()
        if not api_key:
            return self.async_show_form(
                step_id="credentials",
                data_schema=CREDENTIALS_SCHEMA,
                errors={"api_key": "required"},
            )
        base_url = str(self._collected.get("base_url") or "")
        return self.async_create_entry(
            title=base_url, data={"base_url": base_url, "api_key": api_key}
        )
'''
)

INIT_HEAD: Final = '''\
"""$name: $summary."""

from __future__ import annotations

from typing import Any

'''

INIT_CLASS: Final = '''\


class ${cls}Integration(Integration):
    """One config entry per account; every hook it does not override contributes nothing."""

    config_flow_cls = ${cls}ConfigFlow

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        """Set up one entry: keep what it needs in ``ctx.runtime_data``, return its toolsets."""
        return []

    async def async_unload_entry(self, ctx: SetupContext) -> None:
        """Release what ``async_setup_entry`` acquired for this entry."""
'''

INIT_ENTITY_TYPES: Final = '''
    def entity_types(self) -> dict[str, EntityStateTypeDescriptor]:
        """The entity types this integration produces, by key."""
        return dict(ENTITY_TYPES)
'''

INIT_SYNC: Final = '''
    async def async_sync_entities(self, ctx: SetupContext) -> EntityStateSyncResult:
        """Pull the entry's entities, on the hub's schedule and on ``POST …/sync``."""
        return EntityStateSyncResult(records=status_records(ctx), full=True, entity_types=(STATUS,))
'''

INIT_WEBHOOK: Final = '''
    async def async_handle_webhook(self, ctx: SetupContext, payload: Any) -> EntityStateSyncResult:
        """Apply one delivery to the entry's webhook URL; a body it cannot use is answered 400."""
        return EntityStateSyncResult(records=readings(payload), full=False, entity_types=(READING,))
'''

INIT_TAIL: Final = """

INTEGRATION = ${cls}Integration()
"""

STATUS_TYPE: Final = """\
    STATUS: EntityStateTypeDescriptor(
        key=STATUS,
        name="Status",
        translation_key=STATUS,
        attributes=(FieldDescriptor(name="base_url", label="Address"),),
    ),
"""

READING_TYPE: Final = """\
    READING: EntityStateTypeDescriptor(
        key=READING,
        name="Reading",
        translation_key=READING,
        state_class="measurement",
    ),
"""

STATUS_RECORDS: Final = '''

def status_records(ctx: SetupContext) -> tuple[EntityStateRecord, ...]:
    """The entry's status; ask the service here (with ``ctx.secrets``) instead of assuming."""
    base_url = str(ctx.data.get("base_url") or "")
    return (
        EntityStateRecord(
            entity_type=STATUS,
            external_id="status",
            name=base_url or ctx.domain,
            state="online",
            attributes={"base_url": base_url},
        ),
    )
'''

READINGS: Final = '''

def readings(payload: Any) -> tuple[EntityStateRecord, ...]:
    """``{"readings": [{"id": "kitchen", "value": 21.5, "name": "Kitchen"}]}``: one entity each."""
    items = payload.get("readings") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise WebhookPayloadError('expected {"readings": [{"id": ..., "value": ...}]}')
    records: list[EntityStateRecord] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise WebhookPayloadError(f"readings[{index}] needs an id (a string)")
        value = item.get("value")
        # bool is an int, and JSON's NaN is no reading a person could use.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise WebhookPayloadError(f"readings[{index}].value must be a number")
        name = item.get("name")
        records.append(
            EntityStateRecord(
                entity_type=READING,
                external_id=item["id"],
                name=name if isinstance(name, str) and name else item["id"],
                state=value,
            )
        )
    return tuple(records)
'''

TEST_HEAD: Final = '''\
"""$name loads through the hub's loader, and a person adds it through a real hub's HTTP API.

Run with the hub's environment: ``python -m pytest $domain/tests``. Each test starts a hub on a
fresh config directory over loopback, as the web UI talks to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.config import HubConfig
from hub.integrations.loader import LoadedIntegration, load, scan

FOLDER = Path(__file__).resolve().parents[1]
DOMAIN = "$domain"
OWNER = {"username": "owner", "password": "a long test passphrase"}
API_KEY = "test-key-0123456789"
GERMAN_INVALID_URL = "$de_invalid_url"

Client = TestClient[web.Request, web.Application]


def run_hub(tmp_path: Path, scenario: Callable[[Client], Awaitable[None]]) -> None:
    """Start a hub that scans this integration's folder, sign the owner in, run ``scenario``."""

    async def main() -> None:
        settings = {"external_dirs": [str(FOLDER.parent)], "allow_external": True}
        config = HubConfig.model_validate({"integrations": settings})
        app = create_app(tmp_path / "config", config, env={})  # no HUB_* variables of this shell
        async with TestClient(TestServer(app)) as client:
            resp = await client.post("/api/onboarding", json=OWNER)
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["access_token"]
            client.session.headers["Authorization"] = f"Bearer {token}"
            await scenario(client)

    asyncio.run(main())


async def call(client: Client, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request with a JSON body; the status and the decoded answer."""
    resp = await client.request(method, path, json=body)
    return resp.status, await resp.json()


async def submit(client: Client, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Submit the flow's current form, as the web UI does."""
    status, answer = await call(
        client, "POST", f"/api/config-flows/{flow_id}", {"user_input": user_input}
    )
    assert status == 200, answer
    return dict(answer)


def test_the_loader_loads_it() -> None:
    found = scan(FOLDER.parent)
    candidates = {candidate.domain: candidate for candidate in found.pending}
    assert DOMAIN in candidates, [(item.path, item.message) for item in found.skipped]
    loaded = load(candidates[DOMAIN], set())
    assert isinstance(loaded, LoadedIntegration), loaded
    assert loaded.integration.config_flow_cls is not None
    assert loaded.missing_requirements == ()
'''

TEST_ADD_SIMPLE: Final = '''

async def add_entry(client: Client, language: str = "en") -> dict[str, Any]:
    """Start the flow, submit a wrong address (a field error), then a right one: the entry."""
    status, form = await call(
        client, "POST", "/api/config-flows", {"domain": DOMAIN, "language": language}
    )
    assert status == 200, form
    assert form["type"] == "form", form
    assert [field["name"] for field in form["data_schema"]] == ["base_url", "api_key"]
    wrong = await submit(client, form["flow_id"], {"base_url": "example.com", "api_key": API_KEY})
    assert wrong["error_keys"] == {"base_url": "invalid_url"}
    done = await submit(
        client, form["flow_id"], {"base_url": " https://example.com/ ", "api_key": API_KEY}
    )
    assert done["type"] == "create_entry", done
    assert done["title"] == "https://example.com"
    return done
'''

TEST_ADD_MULTI: Final = '''

async def add_entry(client: Client, language: str = "en") -> dict[str, Any]:
    """The address (a wrong one first: a field error), then the key: the entry."""
    status, form = await call(
        client, "POST", "/api/config-flows", {"domain": DOMAIN, "language": language}
    )
    assert status == 200, form
    assert (form["type"], form["step_id"]) == ("form", "user"), form
    wrong = await submit(client, form["flow_id"], {"base_url": "example.com"})
    assert wrong["error_keys"] == {"base_url": "invalid_url"}
    form = await submit(client, form["flow_id"], {"base_url": "https://example.com/"})
    assert (form["type"], form["step_id"]) == ("form", "credentials"), form
    assert [field["name"] for field in form["data_schema"]] == ["api_key"]
    done = await submit(client, form["flow_id"], {"api_key": API_KEY})
    assert done["type"] == "create_entry", done
    assert done["title"] == "https://example.com"
    return done
'''

TEST_FLOW: Final = """

def test_a_person_adds_it_and_the_key_stays_secret(tmp_path: Path) -> None:
    async def scenario(client: Client) -> None:
        done = await add_entry(client)
        status, entry = await call(client, "GET", f"/api/config-entries/{done['entry_id']}")
        assert status == 200, entry
        assert entry["state"] == "loaded", entry
        assert entry["data"] == {"base_url": "https://example.com"}
        assert entry["secret_fields"] == ["api_key"]
        assert API_KEY not in json.dumps(entry)

    run_hub(tmp_path, scenario)


def test_the_form_speaks_german(tmp_path: Path) -> None:
    async def scenario(client: Client) -> None:
        status, form = await call(
            client, "POST", "/api/config-flows", {"domain": DOMAIN, "language": "de"}
        )
        assert status == 200, form
        assert form["data_schema"][0]["label"] == "$de_url_label"
        wrong = await submit(client, form["flow_id"], {"base_url": "example.com"})
        assert wrong["errors"]["base_url"] == GERMAN_INVALID_URL

    run_hub(tmp_path, scenario)
"""

TEST_SYNC: Final = """

def test_a_sync_pulls_the_status(tmp_path: Path) -> None:
    async def scenario(client: Client) -> None:
        done = await add_entry(client)
        entry_id = done["entry_id"]
        status, answer = await call(client, "POST", f"/api/config-entries/{entry_id}/sync")
        assert status == 200, answer
        resp = await client.get(
            "/api/entities", params={"entry_id": entry_id, "entity_type": "status"}
        )
        [entity] = (await resp.json())["entities"]
        assert entity["state"] == "online"
        assert entity["attributes"] == {"base_url": "https://example.com"}

    run_hub(tmp_path, scenario)
"""

TEST_WEBHOOK: Final = """

def test_a_delivery_to_the_webhook_becomes_readings(tmp_path: Path) -> None:
    async def scenario(client: Client) -> None:
        done = await add_entry(client)
        entry_id = done["entry_id"]
        status, hook = await call(client, "GET", f"/api/config-entries/{entry_id}/webhook")
        assert status == 200, hook
        body = {"readings": [{"id": "kitchen", "value": 21.5, "name": "Kitchen"}]}
        resp = await client.post(hook["path"], json=body)
        assert resp.status == 200, await resp.text()
        resp = await client.get(
            "/api/entities", params={"entry_id": entry_id, "entity_type": "reading"}
        )
        [entity] = (await resp.json())["entities"]
        assert (entity["name"], entity["state"]) == ("Kitchen", 21.5)
        resp = await client.post(hook["path"], json={"readings": [{"id": "x"}]})
        assert resp.status == 400, await resp.text()

    run_hub(tmp_path, scenario)
"""

README: Final = """\
# $name

Made by `hub scaffold`: a config flow ($flow_kind), translations in English and German$extras,
and a test that loads it through the hub's loader and adds it through a real hub.

- `python -m pytest $domain/tests` (from this folder's parent, with the hub's environment) runs the test.
- `hub validate .` checks the manifest, the translations (every key the code uses is in `en.json`,
  `de.json` has exactly the same keys), the flow and the descriptors.
- The hub loads integrations from outside its own folder only when `configuration.yaml` says so:
  `integrations: {external_dirs: [/absolute/path/to/this/folder's/parent], allow_external: true}`.
"""
