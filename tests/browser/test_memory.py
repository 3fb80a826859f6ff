"""The Memory page in a real browser: a node made on the page gets a fact and a relation, the
relation's transitive consequence shows as inferred (and cannot be deleted), a fact is deleted, a
search finds a node by an alias; the page in German."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import RunningHub


async def node(hub: RunningHub, kind: str, name: str, **extra: Any) -> dict[str, Any]:
    """A node made through the REST API."""
    return dict(await hub.api("POST", "/api/memory/nodes", {"kind": kind, "name": name, **extra}))


async def house_on_elm_street(hub: RunningHub) -> tuple[dict[str, Any], dict[str, Any]]:
    """The House, part of Elm Street."""
    house = await node(hub, "place", "House")
    street = await node(hub, "place", "Elm Street")
    link = {"subject_id": house["id"], "predicate": "part_of", "object_id": street["id"]}
    await hub.api("POST", "/api/memory/relations", link)
    return house, street


async def test_a_node_gets_a_fact_and_a_relation_and_its_inferred_one_shows(
    page: Page, hub: RunningHub
) -> None:
    await house_on_elm_street(hub)
    await page.goto(hub.url + "/#/memory")
    await expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_visible()
    await page.get_by_role("button", name="New entry").click()
    form = page.get_by_role("dialog", name="A new memory entry")
    await form.get_by_label("Kind").select_option("place")
    await form.get_by_label("Name", exact=True).fill("Garage")
    await form.get_by_label("Other names").fill("Car port")
    await form.get_by_role("button", name="Add").click()
    await expect(page.get_by_role("heading", name="Garage", exact=True)).to_be_visible()
    await expect(
        page.get_by_role("status").filter(has_text="Garage has been added.")
    ).to_be_visible()
    garage_id = int(page.url.rsplit("/", 1)[1])

    # A fact.
    await page.get_by_label("New fact").fill("The door sticks in winter.")
    await page.get_by_role("button", name="Add fact").click()
    facts = page.get_by_role("list", name="Facts")
    await expect(facts.get_by_text("The door sticks in winter.")).to_be_visible()
    await expect(facts.get_by_text("written by a person")).to_be_visible()
    detail = await hub.api("GET", f"/api/memory/nodes/{garage_id}")
    assert [f["text"] for f in detail["facts"]] == ["The door sticks in winter."]
    assert detail["aliases"] == ["Car port"]

    # A relation to a node found by search; its transitive consequence appears, marked inferred.
    await page.get_by_label("Relation", exact=True).select_option("part_of")
    await page.get_by_label("Search for the other entry").fill("House")
    other = page.get_by_label("Other entry", exact=True)
    await expect(other.locator("option", has_text="House")).to_have_count(1)
    await other.select_option(label="House (Place)")
    await page.get_by_role("button", name="Add relation").click()
    relations = page.get_by_role("list", name="Relations")
    direct = relations.locator("li", has=page.get_by_role("link", name="House"))
    inferred = relations.locator("li", has=page.get_by_role("link", name="Elm Street"))
    await expect(direct).to_have_count(1)
    await expect(direct.get_by_role("button", name="Delete the relation")).to_be_visible()
    await expect(inferred.get_by_text("inferred")).to_be_visible()
    await expect(inferred.get_by_role("button")).to_have_count(0)
    detail = await hub.api("GET", f"/api/memory/nodes/{garage_id}")
    assert sorted((r["object"]["name"], r["inferred"]) for r in detail["relations"]) == [
        ("Elm Street", True),
        ("House", False),
    ]

    # The related node opens from its link and shows the relation from its side.
    await direct.get_by_role("link", name="House").click()
    await expect(page.get_by_role("heading", name="House", exact=True)).to_be_visible()
    await expect(
        page.get_by_role("list", name="Relations").get_by_role("link", name="Garage")
    ).to_be_visible()
    await page.go_back()
    await expect(page.get_by_role("heading", name="Garage", exact=True)).to_be_visible()

    # The fact is deleted after a confirmation.
    await page.get_by_role("button", name="Delete the fact “The door sticks in winter.”").click()
    await (
        page.get_by_role("dialog", name="Delete this fact?")
        .get_by_role("button", name="Delete")
        .click()
    )
    await expect(page.get_by_text("No facts yet.")).to_be_visible()
    assert (await hub.api("GET", f"/api/memory/nodes/{garage_id}"))["facts"] == []

    # Search finds it by its other name.
    await page.get_by_role("link", name="Back to Memory").click()
    await page.get_by_label("Search memory").fill("car port")
    results = page.get_by_role("list", name="What memory holds")
    await expect(results.get_by_role("link")).to_have_count(1)
    await expect(results.get_by_role("link")).to_contain_text("Garage")
    await results.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Garage", exact=True)).to_be_visible()


async def test_a_fact_is_edited_a_refusal_shown_and_a_node_deleted(
    page: Page, hub: RunningHub
) -> None:
    shed = await node(hub, "place", "Shed")
    fact = {"node_id": shed["id"], "text": "Holds the bikes."}
    await hub.api("POST", "/api/memory/facts", fact)
    await page.goto(f"{hub.url}/#/memory/{shed['id']}")
    await page.get_by_role("button", name="Edit the fact “Holds the bikes.”").click()
    await page.get_by_label("Fact", exact=True).fill("Holds the bikes and the mower.")
    facts = page.get_by_role("list", name="Facts")
    await facts.get_by_role("button", name="Save").click()
    await expect(facts.get_by_text("Holds the bikes and the mower.")).to_be_visible()
    detail = await hub.api("GET", f"/api/memory/nodes/{shed['id']}")
    assert [f["text"] for f in detail["facts"]] == ["Holds the bikes and the mower."]

    # A second Shed is refused with the hub's own sentence, and the dialog stays open to fix it.
    await page.get_by_role("link", name="Back to Memory").click()
    await page.get_by_role("button", name="New entry").click()
    form = page.get_by_role("dialog", name="A new memory entry")
    await form.get_by_label("Kind").select_option("place")
    await form.get_by_label("Name", exact=True).fill("Shed")
    await form.get_by_role("button", name="Add").click()
    await expect(form.get_by_role("alert")).to_have_text(
        re.compile(r"already a place named '?Shed'?", re.IGNORECASE)
    )
    await form.get_by_role("button", name="Cancel").click()
    await page.get_by_role("list", name="What memory holds").get_by_role("link").click()

    # The node goes after a confirmation, and with it from the search.
    await page.get_by_role("button", name="Delete Shed").click()
    await (
        page.get_by_role("dialog", name="Delete Shed?").get_by_role("button", name="Delete").click()
    )
    await expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_visible()
    await expect(
        page.get_by_role("status").filter(has_text="Shed has been deleted.")
    ).to_be_visible()
    await expect(
        page.get_by_role("list", name="What memory holds").get_by_role("link")
    ).to_have_count(0)


async def test_the_page_speaks_german(page: Page, hub: RunningHub) -> None:
    house, _ = await house_on_elm_street(hub)
    await hub.api("POST", "/api/memory/facts", {"node_id": house["id"], "text": "Blue door."})
    me = await hub.api("GET", "/api/auth/current_user")
    await hub.api("PATCH", f"/api/people/{me['id']}", {"language": "de"})
    await page.goto(hub.url + "/#/memory")
    await page.reload()
    await expect(page.get_by_role("heading", name="Gedächtnis", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Gedächtnis", exact=True)).to_have_attribute(
        "aria-current", ""
    )
    await expect(page.get_by_role("button", name="Neuer Eintrag")).to_be_visible()
    await expect(page.get_by_label("Art", exact=True).locator("option").first).to_have_text(
        "Alle Arten"
    )
    await page.get_by_label("Gedächtnis durchsuchen").fill("House")
    await (
        page.get_by_role("list", name="Was das Gedächtnis enthält")
        .get_by_role("link", name="House")
        .click()
    )
    await expect(page.get_by_role("heading", name="Fakten")).to_be_visible()
    await expect(page.get_by_role("heading", name="Beziehungen")).to_be_visible()
    await expect(page.get_by_text("von einer Person geschrieben")).to_be_visible()
    await expect(page.get_by_role("button", name="Fakt hinzufügen")).to_be_visible()
    await expect(page.get_by_role("button", name="House löschen")).to_be_visible()
