"""SimpleConfigFlow: normalising, field checks, the guarded connection test, reconfigure."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import BasicAuth, web
from pytest_aiohttp import AiohttpServer

from hub.core.redact import SECRETS
from hub.integrations.config_flow import (
    ConfigFlow,
    FlowContext,
    FlowDefinitionError,
    FlowResult,
    FlowResultType,
)
from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow
from tests.integrations.spec_examples import MYSERVICE_CONFIG_FLOW, OPENPROJECT_CONFIG_FLOW
from tests.integrations.test_config_flow import FlowDriver, ImportPackage, spec_packages

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

USER = FlowContext(domain="demo", scope="user", owner_sub="alice")
EDIT = FlowContext(domain="demo", scope="user", owner_sub="alice", entry_id="entry-1")
KEY = "sk-live-0123456789"
BOOM = "upstream proxy at 10.0.0.9 reset the connection"

SCHEMA = [
    FieldDescriptor(name="name", label="field.name.label"),
    FieldDescriptor(name="url", label="field.url.label", required=False),
    FieldDescriptor(name="api_key", label="field.api_key.label", type="secret"),
    FieldDescriptor(name="port", label="field.port.label", type="number", required=False),
    FieldDescriptor(
        name="mode",
        label="field.mode.label",
        type="select",
        default="fast",
        options=(SelectOption("fast", "field.mode.fast"), SelectOption("safe", "field.mode.safe")),
    ),
    FieldDescriptor(name="hint", label="hint.text", type="note", required=False),
]


class Demo(SimpleConfigFlow):
    """Every field type the hooks treat differently; the connection test is set per test."""

    SCHEMA = SCHEMA
    outcome: ClassVar[Callable[[dict[str, Any]], Any] | None] = None

    async def validate(self, data: dict[str, Any]) -> str | None:
        outcome = type(self).outcome
        if outcome is None:
            return None
        result: str | None = await outcome(data)
        return result


def demo_flow(outcome: Callable[[dict[str, Any]], Any] | None = None, **attrs: Any) -> type[Demo]:
    """A ``Demo`` subclass with its own connection test and class attributes."""
    return type(
        "DemoFlow", (Demo,), {"outcome": staticmethod(outcome) if outcome else None, **attrs}
    )


async def submit(
    flow_cls: type[ConfigFlow], user_input: dict[str, Any] | None, **kw: Any
) -> FlowResult:
    """One step as the manager runs it: a fresh flow, ``_collected`` preloaded."""
    context: FlowContext = kw.pop("context", USER)
    flow = flow_cls(context)
    flow._collected = dict(kw.pop("collected", {}))
    return await flow.async_handle_step(kw.pop("step", flow_cls.first_step(context)), user_input)


GOOD = {"name": "Home", "api_key": KEY, "mode": "safe"}


def defaults(result: FlowResult) -> dict[str, Any]:
    return {f.name: f.default for f in result.data_schema}


# The form


async def test_first_call_shows_the_schema_with_its_defaults() -> None:
    result = await submit(Demo, None)
    assert (result.type, result.step_id, result.errors) == (FlowResultType.FORM, "user", {})
    assert result.data_schema == tuple(SCHEMA)
    assert result.secret_fields == {"api_key"}


async def test_required_fields_missing_or_blank() -> None:
    result = await submit(Demo, {"name": "   ", "mode": ""})
    assert result.errors == {"name": "required", "api_key": "required", "mode": "required"}


async def test_an_omitted_field_takes_its_default() -> None:
    result = await submit(Demo, {"name": "Home", "api_key": KEY})
    assert result.type is FlowResultType.CREATE_ENTRY
    assert result.data["mode"] == "fast"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("42", 42), (" 7 ", 7), ("2.5", 2.5), (3.0, 3), (8, 8), ("1e3", 1000), ("", None)],
)
async def test_numbers_are_coerced(raw: object, stored: object) -> None:
    result = await submit(Demo, {**GOOD, "port": raw})
    assert result.type is FlowResultType.CREATE_ENTRY
    assert result.data["port"] == stored
    assert type(result.data["port"]) is type(stored)


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", True, [1]])
async def test_a_non_number_is_invalid_number(raw: object) -> None:
    result = await submit(Demo, {**GOOD, "port": raw})
    assert result.errors == {"port": "invalid_number"}


async def test_select_values_must_be_options() -> None:
    assert (await submit(Demo, {**GOOD, "mode": "turbo"})).errors == {"mode": "invalid_option"}

    tags = FieldDescriptor(
        name="tags",
        label="field.tags.label",
        type="select",
        multiple=True,
        options=(SelectOption("a", "field.tags.a"), SelectOption("b", "field.tags.b")),
    )
    multi = demo_flow(SCHEMA=[tags])
    assert (await submit(multi, {"tags": ["a", "b"]})).data == {"tags": ["a", "b"]}
    assert (await submit(multi, {"tags": ["a", "c"]})).errors == {"tags": "invalid_option"}
    assert (await submit(multi, {"tags": "a"})).errors == {"tags": "invalid_option"}
    assert (await submit(multi, {"tags": []})).errors == {"tags": "required"}


async def test_text_is_stripped_and_urls_lose_trailing_slashes() -> None:
    fields = [
        FieldDescriptor(name=name, label=f"field.{name}.label")
        for name in ("url", "site", "base_url", "homepage")
    ]
    secret = FieldDescriptor(name="token", label="field.token.label", type="secret")
    password = FieldDescriptor(name="password", label="field.password.label", type="password")
    flow_cls = demo_flow(SCHEMA=[*fields, secret, password])
    raw = {
        "url": " https://a.example/ ",
        "site": "https://b.example//",
        "base_url": "https://c.example/x/",
        "homepage": " https://d.example/ ",
        "token": f" {KEY}\n",
        "password": " pass word ",
    }
    result = await submit(flow_cls, raw)
    assert dict(result.data) == {
        "url": "https://a.example",
        "site": "https://b.example",
        "base_url": "https://c.example/x",
        "homepage": "https://d.example/",
        "token": KEY,
        "password": " pass word ",  # a password's spaces may be part of it
    }


async def test_a_reshown_form_keeps_what_was_typed_except_secrets() -> None:
    result = await submit(Demo, {"name": "Home", "api_key": KEY, "port": "x", "mode": "safe"})
    assert result.errors == {"port": "invalid_number"}
    assert defaults(result) == {
        "name": "Home",
        "url": None,
        "api_key": None,
        "port": "x",
        "mode": "safe",
        "hint": None,
    }


# The connection test


async def test_validate_returning_a_key_shows_it_on_the_form() -> None:
    async def refuse(data: dict[str, Any]) -> str:
        return "auth_failed"

    result = await submit(demo_flow(refuse), GOOD)
    assert (result.type, result.errors) == (FlowResultType.FORM, {"base": "auth_failed"})
    assert KEY not in repr(result)


async def test_validate_sees_clean_data_with_its_secrets_masked_in_logs() -> None:
    seen: list[dict[str, Any]] = []

    async def check(data: dict[str, Any]) -> None:
        seen.append(dict(data))
        assert SECRETS.redact(f"GET /?key={data['api_key']}") == "GET /?key=***"

    await submit(demo_flow(check), {**GOOD, "url": "https://x.example/", "port": "80"})
    assert seen == [{**GOOD, "url": "https://x.example", "port": 80}]
    assert KEY not in SECRETS  # only while outside code ran


async def test_validate_raising_shows_connection_failed_and_logs_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def explode(data: dict[str, Any]) -> None:
        raise OSError(f"{BOOM} (key {data['api_key']})")

    with caplog.at_level(logging.DEBUG):
        result = await submit(demo_flow(explode), GOOD)
    assert (result.type, result.errors) == (FlowResultType.FORM, {"base": "connection_failed"})
    shown = repr(result) + repr([f.model_dump() for f in result.data_schema])
    assert KEY not in shown
    assert BOOM not in shown
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "demo: validate() raised OSError (message withheld)" in caplog.text
    assert KEY not in caplog.text
    assert BOOM not in caplog.text


async def test_validate_timing_out_shows_connection_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def hang(data: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    result = await submit(demo_flow(hang, VALIDATE_TIMEOUT=0.05), GOOD)
    assert result.errors == {"base": "connection_failed"}
    assert "demo: validate() timed out after 0.05s" in caplog.text


async def test_validate_returning_a_non_key_is_a_logged_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def wordy(data: dict[str, Any]) -> str:
        return "Could not log in as admin"

    result = await submit(demo_flow(wordy), GOOD)
    assert result.errors == {"base": "connection_failed"}
    assert "not an error key" in caplog.text


async def test_validate_is_not_run_when_fields_are_wrong() -> None:
    calls: list[object] = []

    async def count(data: dict[str, Any]) -> None:
        calls.append(data)

    await submit(demo_flow(count), {"name": ""})
    assert calls == []


# The entry


async def test_success_stores_entry_fields_under_the_title_field() -> None:
    flow_cls = demo_flow(TITLE_FIELD="name", ENTRY_FIELDS=["name", "api_key"])
    result = await submit(flow_cls, {**GOOD, "url": "https://x.example", "junk": 1})
    assert result.type is FlowResultType.CREATE_ENTRY
    assert result.title == "Home"
    assert dict(result.data) == {"name": "Home", "api_key": KEY}


async def test_by_default_every_value_field_is_stored_and_the_domain_titles_it() -> None:
    result = await submit(Demo, {**GOOD, "junk": 1})
    assert result.title == "demo"
    assert dict(result.data) == {"name": "Home", "api_key": KEY, "mode": "safe"}


async def test_a_secret_title_field_never_becomes_the_title() -> None:
    result = await submit(demo_flow(TITLE_FIELD="api_key"), GOOD)
    assert result.title == "demo"


# Reconfigure

STORED = {"name": "Home", "url": "https://old.example", "api_key": KEY, "mode": "safe"}


async def test_reconfigure_prefills_everything_but_secrets() -> None:
    assert Demo.first_step(EDIT) == "reconfigure"
    result = await submit(Demo, None, context=EDIT, collected=STORED)
    assert result.step_id == "reconfigure"
    assert defaults(result) == {
        "name": "Home",
        "url": "https://old.example",
        "api_key": None,
        "port": None,
        "mode": "safe",
        "hint": None,
    }
    assert KEY not in repr([f.model_dump() for f in result.data_schema])


async def test_reconfigure_keeps_an_omitted_secret_and_takes_new_values() -> None:
    seen: list[dict[str, Any]] = []

    async def check(data: dict[str, Any]) -> None:
        seen.append(dict(data))

    flow = FlowDriver(demo_flow(check), EDIT, collected=STORED)
    assert (await flow.step(None)).step_id == "reconfigure"
    result = await flow.step({"name": "Cabin", "url": "https://new.example/"})
    assert result.type is FlowResultType.CREATE_ENTRY
    assert dict(result.data) == {**STORED, "name": "Cabin", "url": "https://new.example"}
    assert seen[0]["api_key"] == KEY  # the connection test checks the kept key


async def test_reconfigure_with_an_empty_secret_clears_or_requires_it() -> None:
    result = await submit(Demo, {"api_key": ""}, context=EDIT, collected=STORED)
    assert result.errors == {"api_key": "required"}

    optional = FieldDescriptor(name="pin", label="field.pin.label", type="password", required=False)
    flow_cls = demo_flow(SCHEMA=[*SCHEMA, optional])
    cleared = await submit(flow_cls, {"pin": ""}, context=EDIT, collected={**STORED, "pin": "1234"})
    assert cleared.data["pin"] == ""


# Definitions


def test_schema_mistakes_fail_when_the_class_is_defined() -> None:
    with pytest.raises(FlowDefinitionError, match="two 'name' fields"):
        demo_flow(SCHEMA=[SCHEMA[0], SCHEMA[0]])
    with pytest.raises(FlowDefinitionError, match="not a FieldDescriptor"):
        demo_flow(SCHEMA=[{"name": "x"}])
    with pytest.raises(FlowDefinitionError, match="VALIDATE_TIMEOUT"):
        demo_flow(VALIDATE_TIMEOUT=0)
    with pytest.raises(FlowDefinitionError, match="ENTRY_FIELDS"):
        demo_flow(ENTRY_FIELDS="name")


# The specification's single-step example: OpenProject, ported by the porting rule alone

OP = FlowContext(domain="openproject", scope="global")


@pytest.fixture
def import_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImportPackage]:
    """An integration-like package of ported specification files, imported as the loader would."""
    yield from spec_packages(tmp_path, monkeypatch)


@pytest.fixture
def openproject(import_package: ImportPackage) -> type[ConfigFlow]:
    module = import_package("spec_openproject", {"config_flow.py": OPENPROJECT_CONFIG_FLOW})
    flow_cls: type[ConfigFlow] = module.OpenProjectConfigFlow
    return flow_cls


@pytest.fixture
async def openproject_url(aiohttp_server: AiohttpServer) -> str:
    """OpenProject's ``/api/v3/users/me`` on 127.0.0.1: 200 for ``KEY``, 401 for anything else."""

    async def users_me(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        auth = BasicAuth.decode(header) if header.startswith("Basic ") else None
        if auth is None or (auth.login, auth.password) != ("apikey", KEY):
            return web.json_response({"_type": "Error", "message": "Unauthenticated"}, status=401)
        return web.json_response({"_type": "User", "id": 1, "name": "Alice"})

    app = web.Application()
    app.router.add_get("/api/v3/users/me", users_me)
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


async def test_openproject_creates_an_entry_for_a_good_key(
    openproject: type[ConfigFlow], openproject_url: str
) -> None:
    flow = FlowDriver(openproject, OP)
    form = await flow.step(None)
    assert [f.name for f in form.data_schema] == ["base_url", "api_key"]
    result = await flow.step({"base_url": f" {openproject_url}/ ", "api_key": KEY})
    assert result.type is FlowResultType.CREATE_ENTRY
    assert result.title == openproject_url
    assert dict(result.data) == {"base_url": openproject_url, "api_key": KEY}
    assert flow.secret_fields == {"api_key"}


async def test_openproject_rejects_a_bad_key_and_a_bad_url(
    openproject: type[ConfigFlow], openproject_url: str
) -> None:
    bad_key = await submit(
        openproject, {"base_url": openproject_url, "api_key": "nope"}, context=OP
    )
    assert bad_key.errors == {"base": "auth_failed"}
    bad_url = await submit(openproject, {"base_url": "openproject.lan", "api_key": KEY}, context=OP)
    assert bad_url.errors == {"base_url": "invalid_url"}
    missing = await submit(openproject, {"base_url": ""}, context=OP)
    assert missing.errors == {"base_url": "required", "api_key": "required"}


async def test_openproject_does_not_block_on_an_unreachable_server(
    openproject: type[ConfigFlow],
) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await submit(
        openproject, {"base_url": f"http://127.0.0.1:{port}", "api_key": KEY}, context=OP
    )
    assert result.type is FlowResultType.CREATE_ENTRY


async def test_openproject_reconfigure_keeps_the_key(
    openproject: type[ConfigFlow], openproject_url: str
) -> None:
    edit = FlowContext(domain="openproject", scope="global", entry_id="entry-1")
    stored = {"base_url": "https://old.example", "api_key": KEY}
    flow = FlowDriver(openproject, edit, collected=stored)
    form = await flow.step(None)
    assert (form.step_id, defaults(form)) == (
        "reconfigure",
        {"base_url": "https://old.example", "api_key": None},
    )
    result = await flow.step({"base_url": openproject_url})
    assert dict(result.data) == {"base_url": openproject_url, "api_key": KEY}


async def test_a_secret_title_field_from_the_spec_falls_back_to_the_domain(
    import_package: ImportPackage,
) -> None:
    module = import_package("spec_myservice", {"config_flow.py": MYSERVICE_CONFIG_FLOW})
    ctx = FlowContext(domain="myservice", scope="global")
    result = await submit(module.MyConfigFlow, {"api_key": KEY}, context=ctx)
    assert (result.title, dict(result.data)) == ("myservice", {"api_key": KEY})
