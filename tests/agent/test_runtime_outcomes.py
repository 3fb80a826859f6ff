"""One misbehaving integration driven through every caller: each failure means the same everywhere.

The integration (``tests/integrations/on_disk/misbehaving``) fails on demand per hook; the table says
what each failure must come to: an HTTP status and code, an entry state, one log line with a
correlation id, or a failed tool result the model reads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from hub.api.state import CONFIG_ENTRIES
from hub.config import SchedulerConfig
from hub.integrations.runtime import Deadlines
from tests.agent.conftest import StartAgentHub
from tests.agent.support import AgentHub, call, say, scripted_model, tool_returns
from tests.integrations.on_disk import install

DEADLINE = 0.3
"""The hub's deadline for every caller here: short, so a hang ends quickly."""

FAILURES = ("auth", "not_ready", "bad_input", "timeout", "hang", "crash", "wrong_type")

# What an HTTP caller answers, per failure: status and code (the 400/502 codes name the caller).
HTTP: dict[str, tuple[int, str]] = {
    "auth": (503, "entry_needs_reauth"),
    "not_ready": (503, "entry_not_ready"),
    "bad_input": (400, "{caller}_rejected"),
    "timeout": (504, "upstream_timeout"),
    "hang": (504, "integration_timeout"),
    "crash": (502, "{caller}_failed"),
    "wrong_type": (502, "{caller}_failed"),
}
REJECTED = {"action": "action_rejected", "webhook": "webhook_payload_invalid"}

# The entry's state after a setup that fails so.
SETUP: dict[str, str] = {
    "auth": "reauth_required",
    "not_ready": "setup_retry",
    "bad_input": "setup_error",
    "timeout": "setup_retry",
    "hang": "setup_retry",
    "crash": "setup_error",
    "wrong_type": "setup_error",
}

# What a sync records, per failure (the start of its ``error``).
SYNC: dict[str, str] = {
    "auth": "credentials refused: the service refused the key",
    "not_ready": "the service is starting",
    "bad_input": "ValueError: that value makes no sense",
    "timeout": "its service timed out: the service did not answer",
    "hang": f"timed out after {DEADLINE:g} s",
    "crash": "RuntimeError: a bug in the integration",
    "wrong_type": "async_sync_entities returned str",
}

# What the model reads when the tool fails so (the start of the failed result).
TOOL: dict[str, str] = {
    "auth": "credentials refused: the service refused the key",
    "not_ready": "the service is starting",
    "bad_input": "ValueError: that value makes no sense",
    "timeout": "its service timed out: the service did not answer",
    "hang": f"timed out after {DEADLINE:g} s",
    "crash": "RuntimeError: a bug in the integration",
}

# The entry's state after its deferred toolset fails to build so (its tools are missing).
BUILD: dict[str, str] = {
    "auth": "reauth_required",
    "not_ready": "loaded",
    "crash": "loaded",
    "wrong_type": "loaded",
}

LOGGED_ONCE = {"crash", "wrong_type"}
"""Failures that are the integration's bug: one error line with a correlation id, never more."""


class Rig:
    """A started hub with one misbehaving entry, and the file that tells it how to fail."""

    def __init__(self, hub: AgentHub, folder: Path) -> None:
        self.hub = hub
        self.folder = folder

    def fail(self, **modes: str) -> None:
        """Make the named hooks fail (the others behave)."""
        (self.folder / "behaviour.json").write_text(json.dumps(modes))

    async def entry(self, entry_id: str) -> dict[str, Any]:
        status, body = await self.hub.get(f"/api/config-entries/{entry_id}")
        assert status == 200, body
        return dict(body)


@pytest.fixture
async def rig(start_agent_hub: StartAgentHub, tmp_path: Path) -> Rig:
    """A hub with the misbehaving integration and the hub's deadline at ``DEADLINE``."""
    folder = install(tmp_path / "integrations", "misbehaving")
    hub = await start_agent_hub(scheduler=SchedulerConfig(job_timeout_seconds=DEADLINE))
    entries = hub.app[CONFIG_ENTRIES]
    entries.setup_timeout = DEADLINE
    entries.deadlines = Deadlines(
        action=DEADLINE, webhook=DEADLINE, provider=DEADLINE, tool=DEADLINE
    )
    return Rig(hub, folder)


async def _loaded_entry(rig: Rig) -> tuple[str, int]:
    """A freshly set-up entry and its gadget's entity id (seeded by the first sync)."""
    rig.fail()
    entry_id = await rig.hub.add("misbehaving")
    status, body = await rig.hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    _, found = await rig.hub.get("/api/entities", params={"entry_id": entry_id})
    [gadget] = found["entities"]
    return entry_id, int(gadget["id"])


def _once(caplog: pytest.LogCaptureFixture, correlation_id: str, *words: str) -> None:
    lines = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.ERROR
    assert all(word in lines[0].getMessage() for word in words), lines[0].getMessage()


@pytest.mark.parametrize("caller", ["action", "webhook"])
@pytest.mark.parametrize("failure", FAILURES)
async def test_an_http_caller_answers_each_failure_the_same_way(
    rig: Rig, caplog: pytest.LogCaptureFixture, caller: str, failure: str
) -> None:
    entry_id, entity_id = await _loaded_entry(rig)
    rig.fail(**{caller: failure})
    if caller == "action":
        status, body = await rig.hub.post(f"/api/entities/{entity_id}/action", {"action": "poke"})
    else:
        _, info = await rig.hub.get(f"/api/config-entries/{entry_id}/webhook")
        status, body = await rig.hub.post(info["path"], {"anything": 1})
    want_status, want_code = HTTP[failure]
    want_code = REJECTED[caller] if failure == "bad_input" else want_code.format(caller=caller)
    assert (status, body["error"]["code"]) == (want_status, want_code), body
    entry = await rig.entry(entry_id)
    assert entry["state"] == ("reauth_required" if failure == "auth" else "loaded")
    if failure in LOGGED_ONCE:
        _once(caplog, body["error"]["correlation_id"], entry_id, "misbehaving")
    else:
        assert "correlation_id" not in body["error"]
        assert not [r for r in caplog.records if r.exc_info], "no traceback for an expected failure"


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_sync_records_each_failure_the_same_way(
    rig: Rig, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    entry_id, _ = await _loaded_entry(rig)
    rig.fail(sync=failure)
    status, body = await rig.hub.post(f"/api/config-entries/{entry_id}/sync")
    assert status == 200, body
    assert body["sync"]["error"].startswith(SYNC[failure]), body
    entry = await rig.entry(entry_id)
    assert entry["state"] == ("reauth_required" if failure == "auth" else "loaded")
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
    if failure in LOGGED_ONCE or failure == "bad_input":
        [line] = failed
        assert entry_id in line.getMessage()
        assert "correlation id" in line.getMessage()
    else:
        assert not failed, "an expected failure is a warning, never an error with a traceback"


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_setup_leaves_its_entry_in_a_state_the_ui_explains(
    rig: Rig, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    rig.fail(setup=failure)
    entry_id = await rig.hub.add("misbehaving")
    entry = await rig.entry(entry_id)
    assert entry["state"] == SETUP[failure], entry
    assert entry["reason"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == (1 if failure in LOGGED_ONCE | {"bad_input"} else 0), errors


@pytest.mark.parametrize("failure", sorted(TOOL))
async def test_an_agent_tool_fails_as_a_result_the_model_reads(rig: Rig, failure: str) -> None:
    entry_id, _ = await _loaded_entry(rig)
    rig.fail(tool=failure)
    await rig.hub.allow("fiddle")
    seen: list[str] = []

    def brain(messages: list[Any], info: Any) -> Any:
        returns = tool_returns(messages)
        if not returns:
            return call("fiddle", value="x")
        seen.append(str(returns[-1].content))
        return say("It did not work.")

    rig.hub.service.model_factory = lambda endpoint: scripted_model(brain)
    events = await rig.hub.chat(await rig.hub.conversation(), "fiddle with x")
    result = next(e for e in events if e["kind"] == "tool_result")
    assert result["error"] is True
    assert json.loads(result["content"])["error"].startswith(TOOL[failure]), result
    assert seen, "the model read the failure and the run went on"
    assert events[-1]["status"] == "completed"
    entry = await rig.entry(entry_id)
    assert entry["state"] == ("reauth_required" if failure == "auth" else "loaded")


@pytest.mark.parametrize("failure", ["auth", "crash", "wrong_type"])
async def test_a_capability_provider_that_fails_offers_nothing_and_its_entry_says_why(
    rig: Rig, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    entry_id, _ = await _loaded_entry(rig)
    rig.fail(provider=failure)

    def brain(messages: list[Any], info: Any) -> Any:
        names = {tool.name for tool in info.function_tools}
        assert "web_search" not in names, "a failed provider fills no slot"
        return say("No search today.")

    rig.hub.service.model_factory = lambda endpoint: scripted_model(brain)
    events = await rig.hub.chat(await rig.hub.conversation(), "search")
    assert events[-1]["status"] == "completed"
    entry = await rig.entry(entry_id)
    if failure == "auth":
        assert entry["state"] == "reauth_required"
    else:
        assert entry["state"] == "loaded"
        [line] = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert "correlation id" in line.getMessage()
        assert "web_search_provider" in line.getMessage()


async def test_a_provider_call_that_fails_is_a_failed_tool_result(rig: Rig) -> None:
    entry_id, _ = await _loaded_entry(rig)
    rig.fail(provider_call="auth")

    def brain(messages: list[Any], info: Any) -> Any:
        if not tool_returns(messages):
            return call("web_search", query="weather")
        return say("Could not search.")

    rig.hub.service.model_factory = lambda endpoint: scripted_model(brain)
    events = await rig.hub.chat(await rig.hub.conversation(), "search")
    result = next(e for e in events if e["kind"] == "tool_result")
    assert result["error"] is True
    assert (await rig.entry(entry_id))["state"] == "reauth_required"


async def test_runtime_data_set_at_setup_reaches_every_later_hook(rig: Rig) -> None:
    entry_id, _ = await _loaded_entry(rig)
    runtime = rig.hub.app[CONFIG_ENTRIES].runtime(entry_id)
    assert runtime is not None
    assert runtime.ctx is not None
    assert runtime.ctx.runtime_data == {"setups": 1}
    await rig.hub.post(f"/api/config-entries/{entry_id}/disable")
    assert rig.hub.app[CONFIG_ENTRIES].runtime(entry_id) is None


@pytest.mark.parametrize("failure", [*sorted(BUILD), "ok"])
async def test_a_deferred_toolset_that_fails_to_build_is_missing_and_the_run_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    entry_id, _ = await _loaded_entry(rig)
    rig.fail(build=failure)
    offered: list[set[str]] = []

    def brain(messages: list[Any], info: Any) -> Any:
        offered.append({tool.name for tool in info.function_tools})
        return say("Done.")

    rig.hub.service.model_factory = lambda endpoint: scripted_model(brain)
    events = await rig.hub.chat(await rig.hub.conversation(), "twiddle")
    assert events[-1]["status"] == "completed"
    assert "fiddle" in offered[0], "the entry's other toolset is still offered"
    assert ("twiddle" in offered[0]) is (failure == "ok")
    entry = await rig.entry(entry_id)
    assert entry["state"] == BUILD.get(failure, "loaded"), entry
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    if failure in LOGGED_ONCE:
        [line] = errors
        for word in ("correlation id", entry_id, "misbehaving", "toolset more tools"):
            assert word in line.getMessage(), line.getMessage()
    else:
        assert not errors, "an expected failure is a warning, never an error with a traceback"
    if failure == "auth":
        assert "credentials refused" in str(entry["reason"])


async def test_the_picker_says_why_an_integration_whose_toolset_failed_offers_nothing(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.fail(tools="deferred_only")
    await rig.hub.add("misbehaving")
    rig.fail(tools="deferred_only", build="crash")
    status, picker = await rig.hub.get("/api/agent/integrations", params={"model": "hosted"})
    assert status == 200, picker
    [item] = picker["integrations"]
    assert (item["available"], item["tools"]) == (False, [])
    assert item["reason_code"] == "integration_failed"
    [line] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    correlation_id = line.getMessage().rsplit("correlation id ", 1)[1].rstrip("]")
    assert correlation_id in item["reason"], "the person can find the log line"

    rig.fail(tools="deferred_only")
    _, picker = await rig.hub.get("/api/agent/integrations", params={"model": "hosted"})
    [item] = picker["integrations"]
    assert item["available"] is True
    assert [tool["name"] for tool in item["tools"]] == ["twiddle"]


# The sentence a German speaker reads, per failure of an action: it names the integration.
GERMAN: dict[str, str] = {
    "auth": "Der Dienst von misbehaving hat die gespeicherten Zugangsdaten abgelehnt. "
    "Melde dich erneut bei misbehaving an.",
    "not_ready": "Der Dienst von misbehaving ist gerade nicht verfügbar. Versuch es später erneut.",
    "timeout": "Der Dienst von misbehaving hat nicht rechtzeitig geantwortet.",
    "hang": f"misbehaving hat poke nicht innerhalb von {DEADLINE:g} s abgeschlossen.",
    "crash": "misbehaving ist bei poke fehlgeschlagen. "
    "Details stehen im Protokoll des Hubs unter {correlation_id}.",
}


@pytest.mark.parametrize("failure", sorted(GERMAN))
async def test_a_failed_call_says_which_integration_in_the_persons_language(
    rig: Rig, failure: str
) -> None:
    _, entity_id = await _loaded_entry(rig)
    rig.fail(action=failure)
    status, body = await rig.hub.post(
        f"/api/entities/{entity_id}/action", {"action": "poke"}, headers={"Accept-Language": "de"}
    )
    error = body["error"]
    assert status == HTTP[failure][0], body
    assert error["params"]["integration"] == "misbehaving"
    assert error["message"] == GERMAN[failure].format(**error["params"]), error
