"""Drafts wait for a person: written, edited and discarded freely, sent once, and only by whom may."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from tests.comms.drafting import PostHub, StartPostHub, start_post_hub, wait_for

__all__ = ["start_post_hub"]  # the fixture, used by name


async def reply(hub: PostHub, message_id: int, body: str = "Thanks, see you then.") -> Any:
    status, draft = await hub.client.post("/api/drafts", {"in_reply_to": message_id, "body": body})
    assert status == 201, draft
    return draft


async def patch(hub: PostHub, draft_id: str, **body: Any) -> tuple[int, Any]:
    resp = await hub.client.client.patch(f"/api/drafts/{draft_id}", json=body)
    return resp.status, await resp.json()


async def approve(
    hub: PostHub, draft_id: str, headers: dict[str, str] | None = None, **body: Any
) -> tuple[int, Any]:
    return await hub.client.post(f"/api/drafts/{draft_id}/approve", body, headers=headers)


async def test_a_reply_draft_is_written_edited_and_discarded(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Re: Tea on Friday?", body="3pm?")

    draft = await reply(hub, message["id"])
    assert draft["to"] == "ada@example.org"
    assert draft["subject"] == "Re: Tea on Friday?"  # "Re:" once, not twice
    assert draft["thread_key"] == message["thread_key"]
    assert draft["in_reply_to"] == message["id"]
    assert (draft["state"], draft["domain"], draft["may_approve"]) == ("draft", "post", True)

    status, edited = await patch(hub, draft["id"], body="Friday 3pm works.", cc=["bob@example.org"])
    assert status == 200, edited
    assert (edited["body"], edited["cc"]) == ("Friday 3pm works.", ["bob@example.org"])

    status, listing = await hub.client.get(f"/api/drafts?entry_id={entry_id}")
    assert [d["id"] for d in listing["drafts"]] == [draft["id"]]

    resp = await hub.client.client.delete(f"/api/drafts/{draft['id']}")
    assert resp.status == 200, await resp.text()
    status, gone = await hub.client.get(f"/api/drafts/{draft['id']}")
    assert (status, gone["error"]["code"]) == (404, "draft_not_found")
    assert hub.channel.calls == 0  # writing, editing and discarding never reach the sender


async def test_a_new_message_draft_needs_a_channel_that_can_send(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    status, draft = await hub.client.post(
        "/api/drafts",
        {"entry_id": entry_id, "to": "bob@example.org", "subject": "Hello", "body": "Hi Bob"},
    )
    assert status == 201, draft
    assert (draft["subject"], draft["in_reply_to"], draft["thread_key"]) == ("Hello", None, None)
    status, missing = await hub.client.post(
        "/api/drafts", {"entry_id": "no-such-entry", "to": "bob@example.org", "body": "Hi"}
    )
    assert (status, missing["error"]["code"]) == (404, "entry_not_found")
    status, neither = await hub.client.post("/api/drafts", {"body": "Hi"})
    assert status == 400, neither


async def test_approving_sends_once_with_the_originals_id(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?", body="Friday?")
    draft = await reply(hub, message["id"])

    status, sent = await approve(hub, draft["id"])
    assert status == 200, sent
    assert sent["state"] == "sent"
    assert sent["sent_at"] is not None
    assert sent["approved_by"] is not None
    assert sent["result"] == {"message_id": "sent-1@post.example"}
    assert hub.channel.sent == [
        {
            "to": "ada@example.org",
            "subject": "Re: Tea?",
            "body": "Thanks, see you then.",
            "in_reply_to": "m1@ada",  # the original's external id threads the reply
            "cc": [],
        }
    ]

    status, again = await approve(hub, draft["id"])
    assert (status, again["error"]["code"]) == (409, "draft_conflict")
    status, edit = await patch(hub, draft["id"], body="changed after sending")
    assert (status, edit["error"]["code"]) == (409, "draft_conflict")
    assert len(hub.channel.sent) == 1


async def test_two_approvals_at_once_send_once(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?")
    draft = await reply(hub, message["id"])
    hub.channel.delay = 0.2  # the first send is still under way when the second click arrives

    answers = await asyncio.gather(approve(hub, draft["id"]), approve(hub, draft["id"]))

    assert sorted(status for status, _ in answers) == [200, 409]
    assert hub.channel.calls == 1
    assert len(hub.channel.sent) == 1


async def test_a_refused_send_fails_with_the_reason_and_can_be_approved_again(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?")
    draft = await reply(hub, message["id"])
    hub.channel.fail = "smtp.example refused the connection"

    status, failed = await approve(hub, draft["id"])
    assert status == 200, failed
    assert failed["state"] == "failed"
    assert "smtp.example refused the connection" in failed["error"]
    assert failed["error_key"] == "errors.integration_not_ready"
    assert failed["interrupted"] is False

    hub.channel.fail = None
    status, sent = await approve(hub, draft["id"])
    assert (status, sent["state"], sent["error"]) == (200, "sent", None)
    assert len(hub.channel.sent) == 1


async def test_header_injection_and_bad_content_are_refused(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?")
    base = {"entry_id": entry_id, "to": "bob@example.org", "subject": "Hi", "body": "Hello"}

    for field, value in (
        ("to", "bob@example.org\r\nBcc: everyone@example.org"),
        ("subject", "Hi\nBcc: everyone@example.org"),
    ):
        status, answer = await hub.client.post("/api/drafts", {**base, field: value})
        assert (status, answer["error"]["code"]) == (400, "header_injection"), answer
    status, answer = await hub.client.post(
        "/api/drafts", {**base, "cc": ["ok@example.org", "x@example.org\nBcc: y"]}
    )
    assert (status, answer["error"]["code"]) == (400, "header_injection")

    for body, key in (
        ({**base, "body": "  \n"}, "errors.draft_body_empty"),
        ({**base, "body": "x" * 100_001}, "errors.draft_body_too_long"),
        ({**base, "to": "  "}, "errors.draft_recipient_missing"),
    ):
        status, answer = await hub.client.post("/api/drafts", body)
        assert (status, answer["error"]["code"]) == (400, "draft_invalid"), answer
        assert answer["error"]["key"] == key

    draft = await reply(hub, message["id"])
    status, answer = await patch(hub, draft["id"], subject="Re: Tea?\r\nX-Evil: 1")
    assert (status, answer["error"]["code"]) == (400, "header_injection")
    assert hub.channel.calls == 0


async def test_who_may_approve(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    household = await hub.add_post(scope="global")
    message = await hub.deliver(household, "m1@ada", subject="Household bills")
    member = await hub.client.another_person("bob", "bob-password-1")

    # A member sees a household channel's messages, may draft a reply, but not send it.
    status, draft = await hub.client.post(
        "/api/drafts", {"in_reply_to": message["id"], "body": "Paid."}, headers=member
    )
    assert status == 201, draft
    assert draft["may_approve"] is False
    status, refused = await approve(hub, draft["id"], headers=member)
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    assert hub.channel.calls == 0
    status, sent = await hub.client.post(f"/api/drafts/{draft['id']}/approve", {})  # the admin
    assert (status, sent["state"]) == (200, "sent")

    # A member's own channel is theirs alone: its drafts are not even visible to the admin.
    status, flow = await hub.client.post(
        "/api/config-flows", {"domain": "post", "scope": "user"}, headers=member
    )
    assert status == 200, flow
    own = flow["entry_id"]
    status, mine = await hub.client.post(
        "/api/drafts",
        {"entry_id": own, "to": "carol@example.org", "body": "Hi Carol"},
        headers=member,
    )
    assert status == 201, mine
    status, hidden = await hub.client.get(f"/api/drafts/{mine['id']}")
    assert (status, hidden["error"]["code"]) == (404, "draft_not_found")
    status, hidden = await approve(hub, mine["id"])
    assert status == 404
    status, listing = await hub.client.get("/api/drafts")
    assert mine["id"] not in [d["id"] for d in listing["drafts"]]
    status, sent = await approve(hub, mine["id"], headers=member)
    assert (status, sent["state"]) == (200, "sent")


async def test_a_send_cut_off_by_a_stop_needs_a_confirmed_resend(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?")
    draft = await reply(hub, message["id"])
    await hub.client.client.close()  # the hub stops
    # As a kill -9 during the send leaves it: the state written before the sender was called.
    with sqlite3.connect(hub.config_dir / "hub.db") as conn:
        conn.execute("UPDATE comms_drafts SET state = 'sending' WHERE id = ?", (draft["id"],))

    hub = await start_post_hub()
    status, stale = await hub.client.get(f"/api/drafts/{draft['id']}")
    assert status == 200, stale
    assert (stale["state"], stale["interrupted"]) == ("failed", True)
    assert stale["error_key"] == "errors.draft_interrupted"

    status, refused = await approve(hub, draft["id"])
    assert (status, refused["error"]["code"]) == (409, "draft_resend_unconfirmed")
    assert hub.channel.calls == 0
    await wait_for(lambda: _loaded(hub, entry_id))
    status, sent = await approve(hub, draft["id"], confirm_resend=True)
    assert (status, sent["state"], sent["interrupted"]) == (200, "sent", False)
    assert len(hub.channel.sent) == 1


async def _loaded(hub: PostHub, entry_id: str) -> bool:
    _, entry = await hub.client.get(f"/api/config-entries/{entry_id}")
    return bool(entry["state"] == "loaded")


async def test_a_removed_channels_drafts_go_with_it(start_post_hub: StartPostHub) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?")
    draft = await reply(hub, message["id"])

    resp = await hub.client.client.delete(f"/api/config-entries/{entry_id}")
    assert resp.status == 200, await resp.text()

    status, gone = await hub.client.get(f"/api/drafts/{draft['id']}")
    assert (status, gone["error"]["code"]) == (404, "draft_not_found")
    status, listing = await hub.client.get("/api/drafts")
    assert listing["drafts"] == []
    with sqlite3.connect(hub.config_dir / "hub.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM comms_drafts").fetchone() == (0,)


async def test_a_draft_on_a_disabled_channel_fails_and_goes_out_once_it_is_back(
    start_post_hub: StartPostHub,
) -> None:
    hub = await start_post_hub()
    entry_id = await hub.add_post()
    message = await hub.deliver(entry_id, "m1@ada", subject="Tea?")
    draft = await reply(hub, message["id"])
    status, _ = await hub.client.post(f"/api/config-entries/{entry_id}/disable")
    assert status == 200

    status, failed = await approve(hub, draft["id"])
    assert (status, failed["state"]) == (200, "failed")
    assert failed["error_key"] == "errors.draft_channel_unavailable"
    assert failed["error_params"] == {"channel": "Post"}

    status, _ = await hub.client.post(f"/api/config-entries/{entry_id}/enable")
    assert status == 200
    status, sent = await approve(hub, draft["id"])
    assert (status, sent["state"]) == (200, "sent")
    assert hub.channel.calls == 1
