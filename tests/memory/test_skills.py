"""Skills over HTTP on a real hub: contributed ones follow their entries and are read-only, a
person writes their own, each person switches skills on and off for themselves, sizes are
bounded, and removing a person leaves nothing of theirs behind."""

from __future__ import annotations

from typing import Any

from hub.integrations.capabilities import MAX_SKILL_DESCRIPTION, MAX_SKILL_INSTRUCTIONS
from tests.agent.support import AgentHub
from tests.memory.skillful import REVIEW_INSTRUCTIONS
from tests.memory.skills_support import (
    REVIEW,
    StartHub,
    delete,
    patch,
    skills,
    start_hub,
    stored,
    stored_json,
)

__all__ = ["start_hub"]  # the fixture, used by name

OWN = {
    "name": "Morning briefing",
    "description": "Weather, then my first three errands.",
    "instructions": "Say the weather first, then list three errands. Keep it under 80 words.",
}


async def create(hub: AgentHub, body: dict[str, Any], **kw: Any) -> tuple[int, Any]:
    return await hub.post("/api/skills", body, **kw)


# Contributed skills


async def test_a_skill_is_projected_with_its_entry_and_goes_with_the_last_one(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    assert await skills(hub) == {}
    first = await hub.add("skillful")
    second = await hub.add("skillful")
    review = (await skills(hub))[REVIEW]
    assert (
        review
        | {
            "name": "Chore review",
            "source": "skillful",
            "owner": None,
            "enabled": False,  # a contributed skill starts off, for everyone
            "own": False,
            "instructions": REVIEW_INSTRUCTIONS,
            "required_tools": ["chore_list"],
            "context_text": f"# Skill: Chore review\n\n{REVIEW_INSTRUCTIONS}",
            # The description's line break would split the listing: one line it is.
            "listing_text": "- Chore review: Sort the household's chores by who does them.",
        }
        == review
    )
    assert set(await skills(hub)) == {REVIEW, "skillful-launch"}

    assert (await delete(hub, f"/api/config-entries/{first}"))[0] == 200
    assert set(await skills(hub)) == {REVIEW, "skillful-launch"}  # the second entry holds them
    assert (await delete(hub, f"/api/config-entries/{second}"))[0] == 200
    assert await skills(hub) == {}
    assert "Chore review" not in stored(hub)


async def test_a_persons_entry_contributes_skills_only_they_see(start_hub: StartHub) -> None:
    hub = await start_hub()
    bob = await hub.another_person("bob", "bob-password-1")
    answer = await hub.start_flow("skillful", scope="user")
    assert answer["type"] == "create_entry", answer
    mine = await skills(hub)
    assert [(s["name"], s["owner"] is not None) for s in mine.values()] == [
        ("Chore review", True),
        ("Rocket launch", True),
    ]
    assert await skills(hub, headers=bob) == {}
    review = next(iter(mine))
    status, body = await patch(hub, review, {"enabled": True}, headers=bob)
    assert (status, body["error"]["code"]) == (404, "skill_not_found")


async def test_a_contributed_skill_is_read_only(start_hub: StartHub) -> None:
    hub = await start_hub()
    await hub.add("skillful")
    for change in ({"name": "Mine now"}, {"instructions": "Do something else."}):
        status, body = await patch(hub, REVIEW, change)
        assert (status, body["error"]["code"]) == (403, "skill_read_only")
    status, body = await delete(hub, f"/api/skills/{REVIEW}")
    assert (status, body["error"]["code"]) == (403, "skill_read_only")
    assert (await skills(hub))[REVIEW]["instructions"] == REVIEW_INSTRUCTIONS


async def test_switching_a_household_skill_on_is_one_persons_choice(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    bob = await hub.another_person("bob", "bob-password-1")
    await hub.add("skillful")
    status, body = await patch(hub, REVIEW, {"enabled": True})
    assert (status, body["enabled"]) == (200, True)
    assert (await skills(hub))[REVIEW]["enabled"] is True
    assert (await skills(hub, headers=bob))[REVIEW]["enabled"] is False

    await patch(hub, REVIEW, {"enabled": True}, headers=bob)
    await patch(hub, REVIEW, {"enabled": False})
    assert (await skills(hub))[REVIEW]["enabled"] is False
    assert (await skills(hub, headers=bob))[REVIEW]["enabled"] is True


async def test_choices_survive_a_restart_and_a_changed_text_starts_off_again(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    await hub.add("skillful")
    await patch(hub, REVIEW, {"enabled": True})
    await hub.client.close()
    hub = await start_hub()
    assert (await skills(hub))[REVIEW]["enabled"] is True

    # The integration is updated: its skill says something else now. What the person agreed
    # to read is not what the model would get, so it is off until they read it again.
    await hub.client.close()
    code = hub.config_dir.parent / "integrations" / "skillful" / "__init__.py"
    code.write_text(code.read_text("utf-8").replace("SECRET-RECIPE-42", "SECRET-RECIPE-43"))
    hub = await start_hub()
    review = (await skills(hub))[REVIEW]
    assert "SECRET-RECIPE-43" in review["context_text"]
    assert review["enabled"] is False


# A person's own skills


async def test_a_person_writes_changes_and_deletes_their_own_skill(start_hub: StartHub) -> None:
    hub = await start_hub()
    bob = await hub.another_person("bob", "bob-password-1")
    status, made = await create(hub, OWN)
    assert status == 201, made
    assert made["id"].startswith("own-")
    assert (
        made
        | {
            **OWN,
            "source": "person",
            "own": True,
            "enabled": True,  # a person's own starts on
            "required_tools": [],
            "context_text": f"# Skill: Morning briefing\n\n{OWN['instructions']}",
            "listing_text": "- Morning briefing: Weather, then my first three errands.",
        }
        == made
    )
    assert made["id"] not in await skills(hub, headers=bob)

    change = {"instructions": "Only the weather.", "required_tools": ["weather"]}
    status, changed = await patch(hub, made["id"], change)
    assert status == 200, changed
    assert changed["context_text"] == "# Skill: Morning briefing\n\nOnly the weather."
    assert changed["required_tools"] == ["weather"]
    status, body = await patch(hub, made["id"], {"name": "Bob's now"}, headers=bob)
    assert (status, body["error"]["code"]) == (404, "skill_not_found")
    status, off = await patch(hub, made["id"], {"enabled": False})
    assert (status, off["enabled"]) == (200, False)

    status, body = await delete(hub, f"/api/skills/{made['id']}", headers=bob)
    assert (status, body["error"]["code"]) == (404, "skill_not_found")
    assert (await delete(hub, f"/api/skills/{made['id']}"))[0] == 200
    assert await skills(hub) == {}
    status, body = await patch(hub, made["id"], {"enabled": True})
    assert (status, body["error"]["code"]) == (404, "skill_not_found")


async def test_a_skill_too_large_is_refused_naming_the_limit(start_hub: StartHub) -> None:
    hub = await start_hub()
    status, body = await create(hub, {**OWN, "instructions": "x" * (MAX_SKILL_INSTRUCTIONS + 1)})
    assert (status, body["error"]["code"]) == (400, "skill_too_large")
    assert f"{MAX_SKILL_INSTRUCTIONS}" in body["error"]["message"]
    status, body = await create(hub, {**OWN, "description": "x" * (MAX_SKILL_DESCRIPTION + 1)})
    assert (status, body["error"]["code"]) == (400, "skill_too_large")
    assert f"{MAX_SKILL_DESCRIPTION}" in body["error"]["message"]
    status, made = await create(hub, {**OWN, "instructions": "x" * MAX_SKILL_INSTRUCTIONS})
    assert status == 201, made
    big = "y" * (MAX_SKILL_INSTRUCTIONS + 1)
    status, body = await patch(hub, made["id"], {"instructions": big})
    assert (status, body["error"]["code"]) == (400, "skill_too_large")
    assert (await skills(hub))[made["id"]]["instructions"] == "x" * MAX_SKILL_INSTRUCTIONS


async def test_bad_input_gets_a_typed_error(start_hub: StartHub) -> None:
    hub = await start_hub()
    for body in (
        {},
        {**OWN, "name": "   "},
        {**OWN, "instructions": ""},
        {**OWN, "required_tools": "weather"},
        {**OWN, "colour": "red"},
    ):
        status, answer = await create(hub, body)
        assert status == 400, (body, answer)
        assert answer["error"]["code"], answer
    status, answer = await patch(hub, "own-missing", {"enabled": True})
    assert (status, answer["error"]["code"]) == (404, "skill_not_found")
    status, answer = await patch(hub, "own-missing", {"enabled": "maybe"})
    assert status == 400, answer


async def test_removing_a_person_drops_their_skills_and_their_choices(
    start_hub: StartHub,
) -> None:
    hub = await start_hub()
    bob = await hub.another_person("bob", "bob-password-1")
    _, me = await hub.get("/api/auth/current_user", headers=bob)
    await hub.add("skillful")
    status, _ = await create(hub, {**OWN, "name": "Bob's briefing"}, headers=bob)
    assert status == 201
    await patch(hub, REVIEW, {"enabled": True}, headers=bob)
    await patch(hub, REVIEW, {"enabled": True})
    assert me["id"] in stored(hub)

    assert (await delete(hub, f"/api/people/{me['id']}"))[0] == 200
    assert me["id"] not in stored(hub)
    assert "Bob's briefing" not in stored(hub)
    assert (await skills(hub))[REVIEW]["enabled"] is True  # the others' choices stay
    assert REVIEW in stored_json(hub)["data"]["skills"][0]["id"]
