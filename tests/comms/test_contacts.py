"""Contacts: made as senders appear, reused after, edited, merged and deleted by whom they belong to."""

from __future__ import annotations

from typing import Any

from tests.comms.drafting import PostHub, StartPostHub, start_post_hub

__all__ = ["start_post_hub"]  # the fixture, used by name


async def patch(hub: PostHub, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await hub.client.client.patch(path, json=body, **kw)
    return resp.status, await resp.json()


async def test_a_sender_becomes_one_contact_however_the_address_is_written(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post(scope="user")
    hub.channel.deliver("m1", sender="Ada Lovelace", sender_address="Ada@Example.ORG")
    hub.channel.deliver("m2", sender="ada", sender_address=" ada@example.org ")
    await hub.comms.ingest.pull(entry_id)
    first = await hub.message("m1", triaged=True)
    second = await hub.message("m2", triaged=True)

    assert first["contact_id"] is not None
    assert first["contact_id"] == second["contact_id"]
    status, listing = await hub.client.get("/api/contacts")
    assert status == 200
    (contact,) = listing["contacts"]
    assert contact["name"] == "Ada Lovelace"  # named from the first display name
    assert contact["addresses"] == [{"channel": "post", "address": "ada@example.org"}]
    assert contact["may_manage"] is True
    status, threads = await hub.client.get(f"/api/inbox?contact={contact['id']}")
    assert {t["last"]["id"] for t in threads["threads"]} == {first["id"], second["id"]}


async def test_contacts_are_edited_merged_and_deleted(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post(scope="user")
    message = await hub.deliver(entry_id, "m1", sender="C.", sender_address="carol@work.example")
    carol = (await hub.message("m1", triaged=True))["contact_id"]

    status, made = await hub.client.post(
        "/api/contacts",
        {"name": "Carol", "addresses": [{"channel": "post", "address": "carol@home.example"}]},
    )
    assert status == 201, made
    status, taken = await hub.client.post(
        "/api/contacts",
        {"name": "Impostor", "addresses": [{"channel": "post", "address": "CAROL@home.example"}]},
    )
    assert (status, taken["error"]["code"]) == (409, "contact_conflict")
    status, renamed = await patch(hub, f"/api/contacts/{made['id']}", {"name": "Carol Danvers"})
    assert (status, renamed["name"]) == (200, "Carol Danvers")

    status, merged = await hub.client.post(f"/api/contacts/{made['id']}/merge", {"other": carol})
    assert status == 200, merged
    assert merged["addresses"] == [
        {"channel": "post", "address": "carol@home.example"},
        {"channel": "post", "address": "carol@work.example"},
    ]
    status, gone = await hub.client.get(f"/api/contacts/{carol}")
    assert (status, gone["error"]["code"]) == (404, "contact_not_found")
    status, detail = await hub.client.get(f"/api/inbox/messages/{message['id']}")
    assert detail["contact_id"] == made["id"]  # the message moved with the merge
    status, merged_self = await hub.client.post(
        f"/api/contacts/{made['id']}/merge", {"other": made["id"]}
    )
    assert (status, merged_self["error"]["code"]) == (409, "contact_conflict")

    resp = await hub.client.client.delete(f"/api/contacts/{made['id']}")
    assert resp.status == 200
    status, detail = await hub.client.get(f"/api/inbox/messages/{message['id']}")
    assert (status, detail["contact_id"]) == (200, None)  # the message stays, unlinked


async def test_contacts_are_their_persons_and_the_households_are_the_admins(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    member = await hub.client.another_person("bob", "bob-password-1")
    status, mine = await hub.client.post("/api/contacts", {"name": "My dentist"})
    assert status == 201
    status, shared = await hub.client.post(
        "/api/contacts", {"name": "The plumber", "household": True}
    )
    assert (status, shared["owner"]) == (201, None)

    status, listing = await hub.client.get("/api/contacts", headers=member)
    assert [c["name"] for c in listing["contacts"]] == ["The plumber"]
    assert listing["contacts"][0]["may_manage"] is False
    status, hidden = await hub.client.get(f"/api/contacts/{mine['id']}", headers=member)
    assert (status, hidden["error"]["code"]) == (404, "contact_not_found")
    status, refused = await patch(
        hub, f"/api/contacts/{shared['id']}", {"name": "Mario"}, headers=member
    )
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, refused = await hub.client.post(
        "/api/contacts", {"name": "Ours", "household": True}, headers=member
    )
    assert status == 403
    status, bad = await hub.client.get("/api/contacts/not-a-number")
    assert (status, bad["error"]["code"]) == (404, "contact_not_found")
    status, empty = await hub.client.post("/api/contacts", {"name": "   "})
    assert (status, empty["error"]["key"]) == (400, "errors.contact_name_empty")
