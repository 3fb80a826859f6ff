"""A real hub application over loopback, with integrations the tests write into a temporary folder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from hub.app import create_app
from hub.config import HttpConfig, HubConfig, IntegrationsConfig, SchedulerConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.fakes.signal import FakeSignal
from tests.hub_client import HubClient
from tests.integrations.helpers import make_integration
from tests.integrations.spec_examples import (
    PNG,
    FakeOpenProject,
    write_openproject,
    write_signal,
)

VAULT_FLOW = """
import asyncio
from typing import Any, ClassVar

from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow


class VaultFlow(SimpleConfigFlow):
    domain = "vault"
    TITLE_FIELD = "name"
    VALIDATE_TIMEOUT = 0.5
    SCHEMA: ClassVar[list[FieldDescriptor]] = [
        FieldDescriptor(name="name", label="field.name.label"),
        FieldDescriptor(name="token", label="field.token.label", type="secret", required=False),
        FieldDescriptor(name="pin", label="field.pin.label", type="password", required=False),
        FieldDescriptor(
            name="mode",
            label="field.mode.label",
            type="select",
            default="safe",
            options=(
                SelectOption(value="safe", label="field.mode.safe"),
                SelectOption(value="fast", label="field.mode.fast"),
            ),
        ),
    ]

    async def validate(self, data: dict[str, Any]) -> str | None:
        if data["name"] == "slow":
            await asyncio.sleep(5)
        if data["name"] == "explode":
            raise RuntimeError(f"upstream said no to {data.get('token')}")
        return None
"""

VAULT_INIT = """
from typing import Any

from hub.integrations.integration import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    Integration,
    SetupContext,
)

from .config_flow import VaultFlow

SETUPS: list[str] = []
UNLOADS: list[str] = []


class Vault(Integration):
    config_flow_cls = VaultFlow

    async def async_setup_entry(self, ctx: SetupContext) -> list[Any]:
        SETUPS.append(ctx.entry_id)
        name = ctx.data.get("name")
        if ctx.secrets.get("token") == "expired-token":
            raise ConfigEntryAuthFailed("the vault refused the token")
        if name == "flaky":
            raise ConfigEntryNotReady("vault is starting")
        if name == "broken":
            raise RuntimeError(f"bug while using {ctx.secrets.get('token')}")
        return []

    async def async_unload_entry(self, ctx: SetupContext) -> None:
        UNLOADS.append(ctx.entry_id)

    async def async_migrate_entry(self, ctx: SetupContext, from_version: int) -> dict[str, Any]:
        if ctx.data.get("name") == "unmigratable":
            raise ValueError("cannot migrate")
        return {**ctx.data, "migrated_from": from_version}


INTEGRATION = Vault()
"""

STEP_BOMB = """
from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult
from hub.integrations.integration import Integration
from hub.integrations.manifest import FieldDescriptor

FIELDS = [FieldDescriptor(name="answer", label="field.answer.label")]


class Flow(ConfigFlow):
    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=FIELDS)
        if user_input["answer"] == "boom":
            raise KeyError(user_input["answer"] + "-with-private-detail")
        self._collected["derived_account"] = "acct-42"
        return self.async_show_form(step_id="confirm", data_schema=[])

    async def async_step_confirm(self, user_input: dict[str, Any] | None) -> FlowResult:
        return self.async_create_entry(
            title="bomb", data={"account": self._collected["derived_account"]}
        )


class Bomb(Integration):
    config_flow_cls = Flow


INTEGRATION = Bomb()
"""


STATION = """
import httpx

from hub.integrations.entities import (
    EntityStateActionDescriptor,
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
)
from hub.integrations.integration import ConfigEntryAuthFailed, HealthResult, Integration
from hub.integrations.manifest import FieldDescriptor

TEMPERATURE = EntityStateTypeDescriptor(
    key="temperature", name="Temperature", device_class="temperature",
    state_class="measurement", unit="°C",
)
SWITCH = EntityStateTypeDescriptor(
    key="switch",
    name="Switch",
    actions=(
        EntityStateActionDescriptor(name="toggle", label="Toggle"),
        EntityStateActionDescriptor(
            name="set_level",
            label="Set level",
            fields=(FieldDescriptor(name="level", label="Level", type="number"),),
        ),
    ),
)


class Station(Integration):
    def entity_types(self):
        return {"temperature": TEMPERATURE, "switch": SWITCH}

    async def async_health(self, ctx):
        async with httpx.AsyncClient(timeout=5) as client:
            status = (await client.get(ctx.data["url"] + "/status")).json()["status"]
        if status == "down":
            return HealthResult(HealthResult.ERROR, "station offline")
        return HealthResult(HealthResult.OK)

    async def async_sync_entities(self, ctx):
        async with httpx.AsyncClient(timeout=5) as client:
            resp = await client.get(ctx.data["url"] + "/readings")
        if resp.status_code == 401:
            raise ConfigEntryAuthFailed("station refused the key")
        records = [
            EntityStateRecord(entity_type="temperature", external_id=r["id"], name=r["name"],
                              state=r["celsius"])
            for r in resp.json()
        ]
        return EntityStateSyncResult(records=tuple(records), entity_types=("temperature",))

    async def async_initial_entities(self, ctx):
        return [EntityStateRecord(entity_type="switch", external_id="main", name="Main", state="off")]

    async def async_call_action(self, ctx, *, entity_type, external_id, action, args, current):
        from hub.integrations.entities import EntityStateActionResult

        if action == "toggle":
            new = "on" if current.state == "off" else "off"
            return EntityStateActionResult(
                records=(current.model_copy(update={"state": new}),), message=f"Switched {new}"
            )
        if args["level"] > 10:
            raise ValueError("level must be at most 10")
        return EntityStateActionResult(
            records=(current.model_copy(update={"attributes": {"level": args["level"]}}),)
        )

    async def async_handle_webhook(self, ctx, payload):
        from hub.integrations.integration import WebhookPayloadError

        if not isinstance(payload, dict) or "id" not in payload:
            raise WebhookPayloadError("body: needs an object with an id")
        record = EntityStateRecord(entity_type="temperature", external_id=payload["id"],
                                   name=payload.get("name", payload["id"]), state=payload.get("celsius"))
        return EntityStateSyncResult(records=(record,), full=False)


INTEGRATION = Station()
"""


class FakeStation:
    """A weather station's HTTP API on 127.0.0.1."""

    def __init__(self) -> None:
        self.status = "up"
        self.readings = [{"id": "out", "name": "Outside", "celsius": 11.5}]
        self.refuse = False
        self.delay = 0.0
        self.syncs = 0
        self.in_flight = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/status", self.get_status)
        app.router.add_get("/readings", self.get_readings)
        return app

    async def get_status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": self.status})

    async def get_readings(self, request: web.Request) -> web.Response:
        self.syncs += 1
        if self.delay:
            self.in_flight += 1
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
        if self.refuse:
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response(self.readings)


class Hub(HubClient):
    """A started hub app and the fakes its integrations talk to."""

    def __init__(
        self,
        client: TestClient[web.Request, web.Application],
        app: web.Application,
        config_dir: Path,
        openproject: FakeOpenProject,
        openproject_url: str,
        signal: FakeSignal,
        signal_url: str,
        station: FakeStation,
        station_url: str,
    ) -> None:
        super().__init__(client, app)
        self.config_dir = config_dir
        self.openproject = openproject
        self.openproject_url = openproject_url
        self.signal = signal
        self.signal_url = signal_url
        self.station = station
        self.station_url = station_url

    start = HubClient.start_flow


StartHub = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def start_hub(
    tmp_path: Path, aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer
) -> StartHub:
    """Start (or restart) a hub on one config dir with the test integrations."""
    bundled = tmp_path / "integrations"
    write_openproject(bundled)
    fake_signal = FakeSignal(qr_png=PNG)
    signal_server = await aiohttp_server(fake_signal.app())
    signal_url = str(signal_server.make_url("/")).rstrip("/")
    write_signal(bundled, default_base=signal_url)
    make_integration(
        bundled,
        "vault",
        init=VAULT_INIT,
        files={"config_flow.py": VAULT_FLOW},
        config_flow=True,
        single_instance=False,
        config_schema_version=1,
    )
    make_integration(bundled, "bomb", init=STEP_BOMB, config_flow=True)
    make_integration(bundled, "lamp")  # no config flow: the zero-step case
    make_integration(
        bundled, "station", init=STATION, single_instance=False, iot_class="local_polling"
    )
    fake_station = FakeStation()
    station_server = await aiohttp_server(fake_station.app())
    station_url = str(station_server.make_url("/")).rstrip("/")
    fake_openproject = FakeOpenProject()
    op_server = await aiohttp_server(fake_openproject.app())
    op_url = str(op_server.make_url("/")).rstrip("/")

    async def start(
        http: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        **integrations: Any,
    ) -> Hub:
        config = HubConfig(
            integrations=IntegrationsConfig(bundled_dir=bundled, **integrations),
            http=HttpConfig(**(http or {})),
            scheduler=SchedulerConfig(**(scheduler or {})),
        )
        app = create_app(tmp_path / "config", config, env={})
        client = await aiohttp_client(app)
        await sign_in(client, OWNER, OWNER_PASSWORD)
        return Hub(
            client,
            app,
            tmp_path / "config",
            fake_openproject,
            op_url,
            fake_signal,
            signal_url,
            fake_station,
            station_url,
        )

    return start
