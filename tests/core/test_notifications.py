"""In-app notifications on a real hub over loopback: sent through the service, read and deleted over
REST, delivered live to their person's websocket only, capped per person, gone with the person."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import DATABASE, NOTIFICATIONS
from hub.api.websocket import WEBSOCKETS
from hub.app import create_app
from hub.config import HubConfig, IntegrationsConfig
from hub.core.notifications import MAX_PER_PERSON, Notifications
from tests.api.test_websocket import PASSWORD, Site, Socket

LINK = "#/workflows/abc/runs/r1"


@pytest.fixture
async def site(no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient) -> Site:
    """A hub without integrations and its signed-in owner."""
    bundled = tmp_path / "integrations"
    bundled.mkdir()
    config = HubConfig(integrations=IntegrationsConfig(bundled_dir=bundled))
    app = create_app(tmp_path / "config", config, env={})
    app[WEBSOCKETS].close_timeout = 0.2
    client = await aiohttp_client(app)
    resp = await client.post("/api/onboarding", json={"username": "owner", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return Site(client, app, (await resp.json())["access_token"])


def service(site: Site) -> Notifications:
    return site.app[NOTIFICATIONS]


async def owner_id(site: Site) -> str:
    return str((await site.rest("GET", "/api/auth/current_user", site.owner_token))["id"])


async def call(site: Site, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """A request with ``token``: the status and the decoded answer (``None`` without a body)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with site.client.request(method, path, json=body, headers=headers) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json" else None)


async def listed(site: Site, token: str, query: str = "") -> dict[str, Any]:
    status, body = await call(site, "GET", f"/api/notifications{query}", token)
    assert status == 200, body
    return dict(body)


async def next_event(sock: Socket) -> dict[str, Any]:
    message = await sock.receive()
    assert message["type"] == "event", message
    return dict(message["event"])


async def test_a_sent_notification_is_listed_marked_read_and_deleted(site: Site) -> None:
    me = await owner_id(site)
    [first] = await service(site).send([me], "Door left open", "Since 10 minutes", source="hub")
    [second] = await service(site).send(
        [me, me], "Run failed", "Step 2 failed", source="workflow:abc", link=LINK
    )

    page = await listed(site, site.owner_token)
    assert (page["unread"], page["next"]) == (2, None)
    newest, oldest = page["notifications"]
    assert newest == {
        "id": second,
        "title": "Run failed",
        "message": "Step 2 failed",
        "source": "workflow:abc",
        "link": LINK,
        "created_at": newest["created_at"],
        "read": False,
    }
    assert newest["created_at"].endswith("+00:00")
    assert (oldest["id"], oldest["link"]) == (first, None)

    status, body = await call(
        site, "POST", "/api/notifications/read", site.owner_token, {"ids": [first]}
    )
    assert (status, body) == (200, {"marked": 1, "unread": 1})
    unread = await listed(site, site.owner_token, "?unread=1")
    assert [n["id"] for n in unread["notifications"]] == [second]
    # Marking what is read already changes nothing.
    status, body = await call(
        site, "POST", "/api/notifications/read", site.owner_token, {"ids": [first]}
    )
    assert (status, body) == (200, {"marked": 0, "unread": 1})
    status, body = await call(site, "POST", "/api/notifications/read", site.owner_token, {})
    assert (status, body) == (200, {"marked": 1, "unread": 0})
    assert (await listed(site, site.owner_token, "?unread=1"))["notifications"] == []

    status, _ = await call(site, "DELETE", f"/api/notifications/{first}", site.owner_token)
    assert status == 204
    assert [n["id"] for n in (await listed(site, site.owner_token))["notifications"]] == [second]
    status, body = await call(site, "DELETE", f"/api/notifications/{first}", site.owner_token)
    assert (status, body["error"]["code"]) == (404, "notification_not_found")


async def test_another_person_never_sees_reads_or_deletes_them(site: Site) -> None:
    me = await owner_id(site)
    anna_id, anna_token, _ = await site.person("anna")
    [mine] = await service(site).send([me], "Owner only", "For the owner", source="hub")
    [hers] = await service(site).send([anna_id], "Anna only", "For Anna", source="hub")

    assert [n["id"] for n in (await listed(site, anna_token))["notifications"]] == [hers]
    assert [n["id"] for n in (await listed(site, site.owner_token))["notifications"]] == [mine]
    # The admin cannot touch Anna's, nor Anna the admin's: "not found", as a missing one.
    status, body = await call(site, "DELETE", f"/api/notifications/{hers}", site.owner_token)
    assert (status, body["error"]["code"]) == (404, "notification_not_found")
    status, body = await call(site, "POST", "/api/notifications/read", anna_token, {"ids": [mine]})
    assert (status, body) == (200, {"marked": 0, "unread": 1})
    status, body = await call(site, "POST", "/api/notifications/read", anna_token, {})
    assert (status, body) == (200, {"marked": 1, "unread": 0})
    assert (await listed(site, site.owner_token))["unread"] == 1


async def test_events_reach_only_their_persons_websocket(site: Site) -> None:
    me = await owner_id(site)
    anna_id, anna_token, _ = await site.person("anna")
    owner, anna = await site.connect(site.owner_token), await site.connect(anna_token)
    for sock in (owner, anna):
        await sock.result("subscribe_events", event_type="notification.*")

    [hers] = await service(site).send([anna_id], "For Anna", "Hello", source="workflow:w1")
    [mine] = await service(site).send([me], "For the owner", "Hi", source="hub")

    created = await next_event(anna)
    assert created["event_type"] == "notification.created"
    assert created["data"]["person_id"] == anna_id
    assert created["data"]["unread"] == 1
    assert (created["data"]["notification"]["id"], created["data"]["notification"]["title"]) == (
        hers,
        "For Anna",
    )
    # The owner's first event is their own: Anna's never reached them (events keep their order).
    first = await next_event(owner)
    assert (first["event_type"], first["data"]["notification"]["id"]) == (
        "notification.created",
        mine,
    )

    await call(site, "POST", "/api/notifications/read", anna_token, {"ids": [hers]})
    read = await next_event(anna)
    assert read["event_type"] == "notification.read"
    assert (read["data"]["ids"], read["data"]["unread"]) == ([hers], 0)
    await call(site, "DELETE", f"/api/notifications/{hers}", anna_token)
    deleted = await next_event(anna)
    assert (deleted["event_type"], deleted["data"]["id"]) == ("notification.deleted", hers)

    await call(site, "POST", "/api/notifications/read", site.owner_token, {})
    read = await next_event(owner)
    assert (read["event_type"], read["data"]["ids"]) == ("notification.read", [mine])
    await owner.ws.close()
    await anna.ws.close()


async def test_a_person_keeps_the_newest_500_and_pages_through_them(site: Site) -> None:
    me = await owner_id(site)
    for n in range(MAX_PER_PERSON + 5):
        await service(site).send([me], f"n{n}", "", source="hub")

    seen: list[str] = []
    query = "?limit=200"
    while True:
        page = await listed(site, site.owner_token, query)
        seen += [n["title"] for n in page["notifications"]]
        if page["next"] is None:
            break
        query = f"?limit=200&before={page['next']}"
    assert seen == [f"n{n}" for n in range(MAX_PER_PERSON + 4, 4, -1)]
    assert page["unread"] == MAX_PER_PERSON


async def test_a_removed_persons_notifications_go_with_them(site: Site) -> None:
    anna_id, _, _ = await site.person("anna")
    await service(site).send([anna_id], "Bye", "Soon gone", source="hub")
    status, _ = await call(site, "DELETE", f"/api/people/{anna_id}", site.owner_token)
    assert status == 200

    def count(conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "SELECT count(*) FROM notifications WHERE person_id = ?", (anna_id,)
        ).fetchone()
        return int(row[0])

    assert await site.app[DATABASE].run(count) == 0


async def test_long_texts_are_cut_and_a_link_outside_the_ui_is_refused(site: Site) -> None:
    me = await owner_id(site)
    await service(site).send([me], "T" * 1000, "M" * 10_000 + "\ud800", source="hub")
    [note] = (await listed(site, site.owner_token))["notifications"]
    assert (len(note["title"]), len(note["message"])) == (200, 4000)
    assert note["title"].endswith("…")
    for link in ("javascript:alert(1)", "https://example.org/", "#/" + "x" * 600):
        with pytest.raises(ValueError, match="link"):
            await service(site).send([me], "x", "y", source="hub", link=link)
    assert await service(site).send([], "nobody", "", source="hub") == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/notifications?before=abc", None),
        ("GET", "/api/notifications?limit=0", None),
        ("GET", "/api/notifications?limit=1000", None),
        ("GET", "/api/notifications?unread=maybe", None),
        ("POST", "/api/notifications/read", {"ids": "all"}),
        ("POST", "/api/notifications/read", {"ids": [1, 2]}),
        ("POST", "/api/notifications/read", {"all": True}),
    ],
)
async def test_bad_input_gets_a_typed_400(
    site: Site, method: str, path: str, body: dict[str, Any] | None
) -> None:
    status, answer = await call(site, method, path, site.owner_token, body)
    assert (status, answer["error"]["code"]) == (400, "bad_request"), answer


async def test_signed_out_callers_are_refused(site: Site) -> None:
    async with site.client.get("/api/notifications") as resp:
        assert resp.status == 401
