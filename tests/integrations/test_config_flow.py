"""The config-flow base: results, helpers that catch author mistakes, dispatch by step name."""

from __future__ import annotations

import base64
import importlib
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from hub.integrations.config_flow import (
    REASON_UNKNOWN_ERROR,
    ConfigFlow,
    FlowContext,
    FlowDefinitionError,
    FlowResult,
    FlowResultType,
    UnknownStepError,
)
from hub.integrations.manifest import FieldDescriptor, SelectOption

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

USER = FlowContext(domain="probe", scope="user", owner_sub="alice")

NAME = FieldDescriptor(name="name", label="field.name.label")
TOKEN = FieldDescriptor(name="token", label="field.token.label", type="secret")
PIN = FieldDescriptor(name="pin", label="field.pin.label", type="password", required=False)
HINT = FieldDescriptor(name="hint", label="hint.text", type="note", required=False)


def port(text: str) -> str:
    """The porting rule, and nothing else."""
    return text.replace("personal_agent.integrations", "hub.integrations").replace(
        "PersonalAgentIntegration", "Integration"
    )


class FlowDriver:
    """What the flow manager does with a flow, reduced to its contract with the flow classes.

    One flow object per step, ``_collected`` rehydrated from earlier submissions (and whatever a step
    stashed there), the step the last form named dispatched next.
    """

    def __init__(
        self,
        flow_cls: type[ConfigFlow],
        context: FlowContext,
        collected: dict[str, Any] | None = None,
    ) -> None:
        self.flow_cls = flow_cls
        self.context = context
        self.collected = dict(collected or {})
        self.step_id = flow_cls.first_step(context)
        self.secret_fields: set[str] = set()

    async def step(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """Run the current step with ``user_input`` and remember what the manager would."""
        flow = self.flow_cls(self.context)
        flow._collected = dict(self.collected)
        result = await flow.async_handle_step(self.step_id, user_input)
        self.collected.update(flow._collected)
        self.collected.update(user_input or {})
        if result.type is FlowResultType.FORM:
            assert result.step_id is not None
            self.step_id = result.step_id
            self.secret_fields |= result.secret_fields
        return result


ImportPackage = Callable[[str, dict[str, str]], ModuleType]


def spec_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImportPackage]:
    """Write packages of ported specification files and import their config_flow; unimport after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def write(name: str, files: dict[str, str]) -> ModuleType:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for file, text in files.items():
            (folder / file).write_text(port(textwrap.dedent(text)))
        names.append(name)
        return importlib.import_module(f"{name}.config_flow")

    yield write
    for module in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[module]


@pytest.fixture
def import_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImportPackage]:
    """An integration-like package of ported specification files, imported as the loader would."""
    yield from spec_packages(tmp_path, monkeypatch)


class Probe(ConfigFlow):
    """A flow with a second step, to aim the helpers at."""

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        return self.async_show_form(step_id="user", data_schema=[NAME])

    async def async_step_confirm(self, user_input: dict[str, Any] | None) -> FlowResult:
        return self.async_create_entry(title="t", data={"seen": user_input})


def probe() -> Probe:
    return Probe(USER)


# Values


def test_result_types_are_the_wire_strings() -> None:
    assert [t.value for t in FlowResultType] == ["form", "create_entry", "abort"]
    assert f"{FlowResultType.CREATE_ENTRY}" == "create_entry"


def test_context_derives_scope_ref_and_knows_reconfigure() -> None:
    assert USER.scope_ref == "user:alice"
    assert not USER.is_reconfigure
    glob = FlowContext(domain="probe", scope="global", entry_id="e1")
    assert glob.scope_ref == "global"
    assert glob.is_reconfigure
    assert FlowContext("probe", "global", scope_ref="global").scope_ref == "global"
    with pytest.raises(ValueError, match="owner_sub"):
        FlowContext(domain="probe", scope="user")


def test_a_flow_gets_its_context_and_an_empty_collection() -> None:
    flow = probe()
    assert flow.context is USER
    assert flow._collected == {}
    assert flow.domain == "probe"  # taken from the context when the class sets none
    assert Probe.domain == ""


def test_show_form_builds_a_form_result() -> None:
    result = probe().async_show_form(
        step_id="confirm",
        data_schema=[NAME, TOKEN, PIN, HINT],
        errors={"name": "invalid_name", "base": "auth_failed"},
        description_placeholders={"account": "Alice", "count": 3},
    )
    assert result.type is FlowResultType.FORM
    assert result.step_id == "confirm"
    assert result.data_schema == (NAME, TOKEN, PIN, HINT)
    assert result.errors == {"name": "invalid_name", "base": "auth_failed"}
    assert result.description_placeholders == {"account": "Alice", "count": "3"}
    assert result.secret_fields == {"token", "pin"}
    assert result.value_fields == ("name", "token", "pin")
    assert result.flow_id is None
    assert result.with_flow_id("f1").flow_id == "f1"


def test_show_form_without_errors_has_empty_ones() -> None:
    result = probe().async_show_form(step_id="user", data_schema=(NAME,), errors=None)
    assert result.errors == {}
    assert result.description_placeholders == {}


def test_create_entry_and_abort() -> None:
    entry = probe().async_create_entry(title="Home", data={"token": "hunter22", "n": [1, 2.5]})
    assert entry.type is FlowResultType.CREATE_ENTRY
    assert (entry.title, dict(entry.data)) == ("Home", {"token": "hunter22", "n": [1, 2.5]})
    assert "hunter22" not in repr(entry)  # a logged result never carries the secrets
    abort = probe().async_abort(reason="already_configured")
    assert (abort.type, abort.reason) == (FlowResultType.ABORT, "already_configured")


def test_the_manager_can_build_results_without_a_flow() -> None:
    assert FlowResult.abort(reason="entry_not_found").reason == "entry_not_found"
    assert FlowResult.create_entry(title="Text tools", data={}).data == {}


# Helper argument checks


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.async_show_form(step_id="Confirm", data_schema=[]), "step_id"),
        (lambda f: f.async_show_form(step_id="a b", data_schema=[]), "step_id"),
        (lambda f: f.async_show_form(step_id="missing", data_schema=[]), "async_step_missing"),
        (lambda f: f.async_show_form(step_id="user", data_schema=NAME), "FieldDescriptor"),
        (lambda f: f.async_show_form(step_id="user", data_schema=["name"]), r"\[0\] is a str"),
        (lambda f: f.async_show_form(step_id="user", data_schema=[NAME, NAME]), "two fields"),
        (
            lambda f: f.async_show_form(step_id="user", data_schema=[NAME], errors={"nme": "x"}),
            "neither a field",
        ),
        (
            lambda f: f.async_show_form(
                step_id="user", data_schema=[NAME], errors={"base": "Auth failed!"}
            ),
            "error for 'base'",
        ),
        (
            lambda f: f.async_show_form(step_id="user", data_schema=[NAME], errors={"base": None}),
            "key like",
        ),
        (
            lambda f: f.async_show_form(
                step_id="user", data_schema=[NAME], description_placeholders={"a b": "x"}
            ),
            "placeholder name",
        ),
        (
            lambda f: f.async_show_form(
                step_id="user", data_schema=[NAME], description_placeholders={"n": None}
            ),
            "string or a number",
        ),
        (lambda f: f.async_create_entry(title="", data={}), "title"),
        (lambda f: f.async_create_entry(title="t", data=[("a", 1)]), "mapping"),
        (lambda f: f.async_create_entry(title="t", data={"when": object()}), r"data\.when"),
        (lambda f: f.async_create_entry(title="t", data={"x": [float("nan")]}), "finite"),
        (lambda f: f.async_create_entry(title="t", data={"x": {1: "a"}}), "int key"),
        (lambda f: f.async_abort(reason="Already configured"), "abort reason"),
    ],
)
def test_helpers_reject_author_mistakes(call: Callable[[Any], object], message: str) -> None:
    with pytest.raises(FlowDefinitionError, match=message) as caught:
        call(probe())
    assert caught.value.code == "flow_invalid"


def test_entry_data_errors_never_quote_the_value() -> None:
    class Secretish:
        def __repr__(self) -> str:
            return "sk-live-value"

    with pytest.raises(FlowDefinitionError) as caught:
        probe().async_create_entry(title="t", data={"key": Secretish()})
    assert "sk-live-value" not in str(caught.value)


def test_a_sync_step_fails_when_the_class_is_defined() -> None:
    with pytest.raises(FlowDefinitionError, match="must be an async def"):

        class Sync(ConfigFlow):
            async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
                raise NotImplementedError

            def async_step_link(self, user_input: dict[str, Any] | None) -> FlowResult:
                raise NotImplementedError


def test_a_step_no_step_id_can_reach_fails_when_the_class_is_defined() -> None:
    with pytest.raises(FlowDefinitionError, match="not a valid step name"):

        class Shouty(ConfigFlow):
            async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
                raise NotImplementedError

            async def async_step_Link(self, user_input: dict[str, Any] | None) -> FlowResult:
                raise NotImplementedError


# Dispatch


async def test_dispatch_finds_the_step_by_name_and_copies_the_input() -> None:
    submitted = {"name": "x"}
    result = await probe().async_handle_step("confirm", submitted)
    assert result.data == {"seen": {"name": "x"}}
    assert result.data["seen"] is not submitted


@pytest.mark.parametrize("step_id", ["nope", "", "__init__", "user.x", "USER"])
async def test_an_unknown_step_raises_a_typed_error(step_id: str) -> None:
    with pytest.raises(UnknownStepError) as caught:
        await probe().async_handle_step(step_id, None)
    assert caught.value.code == "flow_step_unknown"
    assert (caught.value.domain, caught.value.step_id) == ("probe", step_id)


def test_first_step_is_reconfigure_only_when_editing_and_defined() -> None:
    class Editable(Probe):
        async def async_step_reconfigure(self, user_input: dict[str, Any] | None) -> FlowResult:
            return self.async_abort(reason="x")

    editing = FlowContext(domain="probe", scope="global", entry_id="e1")
    assert Editable.first_step(editing) == "reconfigure"
    assert Editable.first_step(USER) == "user"
    assert Probe.first_step(editing) == "user"
    assert Probe.has_step("confirm")
    assert not Probe.has_step("reconfigure")


async def test_a_step_that_raises_aborts_and_logs_without_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Probe):
        async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
            assert user_input is not None
            raise ConnectionError(f"https://admin:{user_input['token']}@host.lan/ refused")

    with caplog.at_level(logging.ERROR):
        result = await Broken(USER).async_handle_step("user", {"token": "hunter22"})
    assert (result.type, result.reason) == (FlowResultType.ABORT, REASON_UNKNOWN_ERROR)
    assert "hunter22" not in repr(result)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "probe: step 'user' raised ConnectionError" in caplog.text
    assert "async_step_user" in caplog.text  # where it happened: the traceback's frames
    assert "hunter22" not in caplog.text


async def test_an_author_mistake_inside_a_step_is_logged_with_its_safe_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Mistaken(Probe):
        async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
            return self.async_show_form(step_id="user", data_schema=[NAME], errors={"x": "y"})

    result = await Mistaken(USER).async_handle_step("user", None)
    assert result.reason == REASON_UNKNOWN_ERROR
    assert "FlowDefinitionError: errors names 'x'" in caplog.text


async def test_a_step_that_returns_something_else_aborts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Forgetful(Probe):
        async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
            return None  # type: ignore[return-value]  # the mistake under test

    result = await Forgetful(USER).async_handle_step("user", None)
    assert result.reason == REASON_UNKNOWN_ERROR
    assert "returned NoneType instead of a FlowResult" in caplog.text


# The specification's multi-step example: Signal, ported by the porting rule alone

SIGNAL_CONFIG_FLOW = """
from typing import Any

from personal_agent.integrations.config_flow import ConfigFlow, FlowResult
from personal_agent.integrations.manifest import FieldDescriptor

from .client import linked_numbers, qrcode_link
from .providers import DEFAULT_BASE

USER_SCHEMA = [
    FieldDescriptor(
        name="number",
        label="field.number.label",
        type="text",
        placeholder="field.number.placeholder",
        description="field.number.description",
    ),
    FieldDescriptor(
        name="base_url",
        label="field.base_url.label",
        type="text",
        required=False,
        default=DEFAULT_BASE,
        description="field.base_url.description",
    ),
]


def _qr_form(self: ConfigFlow, qr: str | None, label: str, error: str | None) -> FlowResult:
    fields = [FieldDescriptor(name="qr", label=label, type="note", required=False, image=qr)]
    return self.async_show_form(
        step_id="link", data_schema=fields, errors={"base": error} if error else None
    )


class SignalConfigFlow(ConfigFlow):
    domain = "signal"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
        number = str(user_input.get("number") or "").strip()
        base_url = str(user_input.get("base_url") or DEFAULT_BASE).strip().rstrip("/")
        if not number.startswith("+") or not number[1:].replace(" ", "").isdigit():
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"number": "invalid_number"}
            )
        try:
            nums = await linked_numbers(base_url)
        except Exception:
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": "unreachable"}
            )
        if number in nums:  # already linked → done
            return self.async_create_entry(
                title=number, data={"number": number, "base_url": base_url}
            )
        try:
            qr = await qrcode_link(base_url)
        except Exception:
            return self.async_show_form(
                step_id="user", data_schema=USER_SCHEMA, errors={"base": "unreachable"}
            )
        return _qr_form(self, qr, "link.instructions", None)  # advance to the "link" step

    async def async_step_link(self, user_input: dict[str, Any] | None) -> FlowResult:
        # Values from the "user" step are on self._collected.
        number = str(self._collected.get("number") or "").strip()
        base_url = str(self._collected.get("base_url") or DEFAULT_BASE).strip().rstrip("/")
        try:
            nums = await linked_numbers(base_url)
        except Exception:
            nums = []
        if number in nums:
            return self.async_create_entry(
                title=number, data={"number": number, "base_url": base_url}
            )
        try:
            qr = await qrcode_link(base_url)  # re-issue a fresh QR
        except Exception:
            qr = None
        return _qr_form(self, qr, "link.not_linked", "not_linked")
"""

# The specification leaves the client out; this one speaks signal-cli-rest-api's two endpoints.
SIGNAL_CLIENT = '''
import base64

import httpx


async def linked_numbers(base_url: str) -> list[str]:
    """The numbers linked to the signal-cli REST API at ``base_url``."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        resp = await client.get(f"{base_url}/v1/accounts")
        resp.raise_for_status()
        return [str(number) for number in resp.json()]


async def qrcode_link(base_url: str) -> str:
    """A fresh device-link QR code as a data URL."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        resp = await client.get(f"{base_url}/v1/qrcodelink", params={"device_name": "hub"})
        resp.raise_for_status()
        return "data:image/png;base64," + base64.b64encode(resp.content).decode()
'''

PNG = b"\x89PNG\r\n\x1a\n-a-qr-code-"
NUMBER = "+4915112345678"


class FakeSignal:
    """signal-cli-rest-api on 127.0.0.1: accounts are linked when the test says the QR was scanned."""

    def __init__(self) -> None:
        self.accounts: list[str] = []
        self.qr_requests = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/accounts", self.list_accounts)
        app.router.add_get("/v1/qrcodelink", self.qrcodelink)
        return app

    async def list_accounts(self, request: web.Request) -> web.Response:
        return web.json_response(self.accounts)

    async def qrcodelink(self, request: web.Request) -> web.Response:
        assert request.query["device_name"] == "hub"
        self.qr_requests += 1
        return web.Response(body=PNG, content_type="image/png")


@pytest.fixture
def signal_flow(import_package: ImportPackage) -> type[ConfigFlow]:
    """The specification's Signal flow, imported from a package like the loader's."""
    module = import_package(
        "spec_signal",
        {
            "config_flow.py": SIGNAL_CONFIG_FLOW,
            "client.py": SIGNAL_CLIENT,
            "providers.py": 'DEFAULT_BASE = "http://127.0.0.1:9"\n',
        },
    )
    flow_cls: type[ConfigFlow] = module.SignalConfigFlow
    return flow_cls


@pytest.fixture
async def signal_server(aiohttp_server: AiohttpServer) -> tuple[FakeSignal, str]:
    fake = FakeSignal()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url("/")).rstrip("/")


async def test_signal_links_a_device_across_two_steps(
    signal_flow: type[ConfigFlow], signal_server: tuple[FakeSignal, str]
) -> None:
    fake, url = signal_server
    flow = FlowDriver(signal_flow, USER)

    first = await flow.step(None)
    assert (first.type, first.step_id) == (FlowResultType.FORM, "user")
    assert [f.name for f in first.data_schema] == ["number", "base_url"]

    bad = await flow.step({"number": "015112345678", "base_url": url})
    assert (bad.step_id, bad.errors) == ("user", {"number": "invalid_number"})

    link = await flow.step({"number": NUMBER, "base_url": f"{url}/"})
    assert (link.type, link.step_id, link.errors) == (FlowResultType.FORM, "link", {})
    [qr] = link.data_schema
    assert (qr.type, qr.label) == ("note", "link.instructions")
    assert qr.image == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert link.value_fields == ()

    # Step 2 sees the number only through _collected; not scanned yet, so a fresh QR.
    waiting = await flow.step({})
    assert (waiting.step_id, waiting.errors) == ("link", {"base": "not_linked"})
    assert waiting.data_schema[0].label == "link.not_linked"
    assert fake.qr_requests == 2

    fake.accounts.append(NUMBER)
    done = await flow.step({})
    assert done.type is FlowResultType.CREATE_ENTRY
    assert (done.title, dict(done.data)) == (NUMBER, {"number": NUMBER, "base_url": url})
    assert flow.secret_fields == set()


async def test_signal_finishes_at_once_when_already_linked(
    signal_flow: type[ConfigFlow], signal_server: tuple[FakeSignal, str]
) -> None:
    fake, url = signal_server
    fake.accounts.append(NUMBER)
    result = await FlowDriver(signal_flow, USER).step({"number": NUMBER, "base_url": url})
    assert result.type is FlowResultType.CREATE_ENTRY
    assert fake.qr_requests == 0


async def test_signal_reports_an_unreachable_service_on_the_form(
    signal_flow: type[ConfigFlow], signal_server: tuple[FakeSignal, str]
) -> None:
    _, url = signal_server
    result = await FlowDriver(signal_flow, USER).step({"number": NUMBER, "base_url": f"{url}/gone"})
    assert (result.step_id, result.errors) == ("user", {"base": "unreachable"})


def test_select_options_survive_into_a_form() -> None:
    kind = FieldDescriptor(
        name="kind",
        label="field.kind.label",
        type="select",
        default="toggle",
        options=(
            SelectOption(value="toggle", label="field.kind.toggle"),
            SelectOption(value="number", label="field.kind.number"),
        ),
    )
    result = probe().async_show_form(step_id="user", data_schema=[kind])
    [shown] = result.data_schema
    assert shown.options is not None
    assert [o.value for o in shown.options] == ["toggle", "number"]
