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
from pytest_aiohttp import AiohttpServer

from hub.integrations.config_flow import (
    ConfigFlow,
    FlowContext,
    FlowDefinitionError,
    FlowResult,
    FlowResultType,
    StepFailedError,
    UnknownStepError,
)
from hub.integrations.manifest import FieldDescriptor, SelectOption
from tests.integrations.spec_examples import (
    NUMBER,
    PNG,
    SIGNAL_CLIENT,
    SIGNAL_CONFIG_FLOW,
    FakeSignal,
    port,
)

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")

USER = FlowContext(domain="probe", scope="user", owner_sub="alice")

NAME = FieldDescriptor(name="name", label="field.name.label")
TOKEN = FieldDescriptor(name="token", label="field.token.label", type="secret")
PIN = FieldDescriptor(name="pin", label="field.pin.label", type="password", required=False)
HINT = FieldDescriptor(name="hint", label="hint.text", type="note", required=False)


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
    assert [t.value for t in FlowResultType] == ["form", "create_entry", "abort", "menu"]
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


def test_show_menu_offers_steps_the_flow_has() -> None:
    menu = probe().async_show_menu(
        step_id="choose",
        menu_options=["confirm", "user"],
        errors={"base": "timeout"},
        description_placeholders={"url": "http://x"},
    )
    assert (menu.type, menu.step_id, menu.menu_options) == (
        FlowResultType.MENU,
        "choose",
        ("confirm", "user"),
    )
    assert (dict(menu.errors), dict(menu.description_placeholders)) == (
        {"base": "timeout"},
        {"url": "http://x"},
    )
    with pytest.raises(FlowDefinitionError, match="async_step_nowhere"):
        probe().async_show_menu(step_id="choose", menu_options=["nowhere"])
    with pytest.raises(FlowDefinitionError, match="at least one"):
        probe().async_show_menu(step_id="choose", menu_options=[])
    with pytest.raises(FlowDefinitionError, match="twice"):
        probe().async_show_menu(step_id="choose", menu_options=["user", "user"])
    with pytest.raises(FlowDefinitionError, match="neither a field"):
        probe().async_show_menu(step_id="choose", menu_options=["user"], errors={"x": "y"})


def test_show_when_must_name_a_field_of_the_same_form() -> None:
    kind = FieldDescriptor(
        name="kind", label="k", type="select", options=(SelectOption(value="a", label="a"),)
    )
    shown = FieldDescriptor(name="size", label="s", show_when={"kind": ("a",)})
    form = probe().async_show_form(step_id="user", data_schema=[kind, shown])
    assert form.data_schema[1].show_when == {"kind": ("a",)}
    with pytest.raises(FlowDefinitionError, match="no such field"):
        probe().async_show_form(step_id="user", data_schema=[shown])
    with pytest.raises(ValueError, match="other fields"):
        FieldDescriptor(name="size", label="s", show_when={"size": ("a",)})


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


async def test_a_step_that_raises_is_reported_with_a_correlation_id_and_no_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Probe):
        async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
            assert user_input is not None
            raise ConnectionError(f"https://admin:{user_input['token']}@host.lan/ refused")

    with caplog.at_level(logging.ERROR), pytest.raises(StepFailedError) as info:
        await Broken(USER).async_handle_step("user", {"token": "hunter22"})
    assert "hunter22" not in str(info.value)
    assert f"[correlation id {info.value.correlation_id}]" in caplog.text
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

    with pytest.raises(StepFailedError):
        await Mistaken(USER).async_handle_step("user", None)
    assert "FlowDefinitionError: errors names 'x'" in caplog.text


async def test_a_step_that_returns_something_else_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Forgetful(Probe):
        async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
            return None  # type: ignore[return-value]  # the mistake under test

    with pytest.raises(StepFailedError) as info:
        await Forgetful(USER).async_handle_step("user", None)
    assert info.value.step_id == "user"
    assert "returned NoneType instead of a FlowResult" in caplog.text


# The specification's multi-step example: Signal, ported by the porting rule alone


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
