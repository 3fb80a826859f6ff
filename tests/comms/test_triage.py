"""Triage on arrival: rules mark importance, a cleared model summarises, a lower tier never sees mail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from hub.config import ModelConfig
from tests.comms.drafting import PostHub, StartPostHub, start_post_hub
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["start_post_hub"]  # the fixture, used by name


@pytest.fixture
def allow_requests() -> Iterator[None]:
    """Model requests reach only the fake server on 127.0.0.1."""
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield
    models.ALLOW_MODEL_REQUESTS = before


async def model(aiohttp_server: AiohttpServer, fake: FakeOpenAI, tier: str) -> ModelConfig:
    server = await aiohttp_server(fake.app())
    url = str(server.make_url("/v1"))
    return ModelConfig(name="triage", base_url=url, model="fake-model", tier=tier, default=True)  # type: ignore[arg-type]


async def put_rules(hub: PostHub, rules: dict[str, Any], scope: str = "person") -> Any:
    resp = await hub.client.client.put(f"/api/inbox/rules?scope={scope}", json=rules)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_rules_mark_importance_and_a_one_line_summary(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post(scope="user")
    await put_rules(hub, {"keywords": {"high": ["invoice"], "low": ["newsletter"]}})

    cases = {
        "m1": ({"subject": "INVOICE 42 is overdue", "body": "Pay by Friday."}, "high"),
        "m2": ({"subject": "Our weekly Newsletter", "body": "News."}, "low"),
        "m3": ({"subject": "", "body": "\n  Lunch tomorrow?\nAt noon."}, "normal"),
    }
    for external_id, (fields, _) in cases.items():
        hub.channel.deliver(external_id, **fields)
    await hub.comms.ingest.pull(entry_id)

    for external_id, (_, importance) in cases.items():
        message = await hub.message(external_id, triaged=True)
        assert message["triage"] == "done", message
        assert message["importance"] == importance, external_id
        assert message["triage_error"] is None
    assert (await hub.message("m1"))["summary"] == "INVOICE 42 is overdue"
    assert (await hub.message("m3"))["summary"] == "Lunch tomorrow?"  # the body's first line


async def test_household_channels_follow_the_household_rules(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    household = await hub.add_post(scope="global")
    await put_rules(hub, {"channels": {household: "low"}}, scope="household")
    await put_rules(hub, {"channels": {household: "high"}})  # the admin's own: not for this one

    await hub.deliver(household, "h1", subject="Electricity bill")
    assert (await hub.message("h1", triaged=True))["importance"] == "low"


async def test_the_rules_api_validates_and_guards_the_household(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    status, defaults = await hub.client.get("/api/inbox/rules")
    assert status == 200
    assert defaults["rules"] == {
        "keywords": {"high": [], "low": []},
        "contacts": {},
        "channels": {},
        "known_contacts": "normal",
        "draft_replies": "never",
    }
    for bad in (
        {"channels": {"x": "urgent"}},
        {"contacts": {"not-an-id": "high"}},
        {"draft_replies": "always"},
        {"keywords": {"high": [""]}},
        {"mood": "cheerful"},
    ):
        resp = await hub.client.client.put("/api/inbox/rules", json=bad)
        assert resp.status == 400, bad
        assert (await resp.json())["error"]["code"] == "bad_request"

    member = await hub.client.another_person("bob", "bob-password-1")
    resp = await hub.client.client.put(
        "/api/inbox/rules?scope=household", json={"known_contacts": "high"}, headers=member
    )
    assert resp.status == 403
    resp = await hub.client.client.put(
        "/api/inbox/rules", json={"known_contacts": "high"}, headers=member
    )
    assert resp.status == 200  # a member's own rules are theirs to set
    saved = await put_rules(hub, {"draft_replies": "high_known"}, scope="household")
    assert saved["rules"]["draft_replies"] == "high_known"
    status, read = await hub.client.get("/api/inbox/rules?scope=household", headers=member)
    assert (status, read["rules"]["draft_replies"]) == (200, "high_known")
    status, own = await hub.client.get("/api/inbox/rules", headers=member)
    assert own["rules"]["known_contacts"] == "high"


@pytest.mark.usefixtures("allow_requests")
async def test_a_cleared_model_summarises_and_a_reply_is_proposed(
    start_post_hub: StartPostHub, aiohttp_server: AiohttpServer
) -> None:
    fake = FakeOpenAI()
    hub = await start_post_hub(
        required_tier="regulated", models=(await model(aiohttp_server, fake, "internal"),)
    )
    entry_id = await hub.add_post(scope="user")
    await put_rules(hub, {"draft_replies": "high"})
    fake.reply_tool_call(
        "final_result",
        {
            "importance": "high",
            "summary": "Ada asks to move Friday's tea to 4pm",
            "reply": "4pm is fine, see you then.",
        },
    )

    await hub.deliver(entry_id, "m1", subject="Tea", body="Could we make it 4pm on Friday?")
    message = await hub.message("m1", triaged=True)

    assert (message["triage"], message["importance"]) == ("done", "high")
    assert message["summary"] == "Ada asks to move Friday's tea to 4pm"
    prompt = str(fake.messages(0))
    assert "Could we make it 4pm on Friday?" in prompt
    status, drafts = await hub.client.get(f"/api/drafts?entry_id={entry_id}")
    assert status == 200
    (draft,) = drafts["drafts"]
    assert (draft["author"], draft["state"]) == ("triage", "draft")
    assert (draft["body"], draft["to"], draft["subject"]) == (
        "4pm is fine, see you then.",
        "ada@example.org",
        "Re: Tea",
    )
    assert hub.channel.calls == 0  # proposed, never sent


@pytest.mark.usefixtures("allow_requests")
async def test_a_model_below_the_integrations_tier_is_never_asked(
    start_post_hub: StartPostHub, aiohttp_server: AiohttpServer
) -> None:
    fake = FakeOpenAI()
    hub = await start_post_hub(
        required_tier="regulated", models=(await model(aiohttp_server, fake, "unregulated"),)
    )
    entry_id = await hub.add_post(scope="user")

    await hub.deliver(entry_id, "m1", subject="Lab results", body="Private: your results are in.")
    message = await hub.message("m1", triaged=True)

    assert (message["triage"], message["importance"]) == ("done", "normal")
    assert message["summary"] == "Lab results"
    assert fake.requests == []


@pytest.mark.usefixtures("allow_requests")
async def test_a_failing_model_is_recorded_and_the_rules_answer_stands(
    start_post_hub: StartPostHub, aiohttp_server: AiohttpServer
) -> None:
    fake = FakeOpenAI()
    hub = await start_post_hub(models=(await model(aiohttp_server, fake, "internal"),))
    entry_id = await hub.add_post(scope="user")
    await put_rules(hub, {"keywords": {"high": ["urgent"]}})
    fake.fail_with(status=500)

    await hub.deliver(entry_id, "m1", subject="Urgent: the boiler", body="It is leaking.")
    message = await hub.message("m1", triaged=True)

    assert message["triage"] == "failed"
    assert message["triage_error"].startswith("model: ")
    assert (message["importance"], message["summary"]) == ("high", "Urgent: the boiler")
    status, inbox = await hub.client.get("/api/inbox")
    assert status == 200
    assert [t["last"]["id"] for t in inbox["threads"]] == [message["id"]]  # still in the inbox
