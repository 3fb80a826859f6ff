"""Backups over HTTP: admins list, make, download and delete them and make the recovery key; a new
hub's first page restores one (staged, applied when the hub starts again, which it then does)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ConfigDict

from hub.api.access import principal_of, require_admin
from hub.api.origin import check_origin
from hub.api.request import read_json
from hub.api.state import AUTH
from hub.auth.errors import OnboardingClosedError
from hub.core.errors import BadRequestError
from hub.ops.backup_service import Backups

if TYPE_CHECKING:
    from hub.ops.backup_format import Secret

BACKUPS: Final = web.AppKey("backups", Backups)
RESTORE_PATH: Final = "/api/backups/restore"
NO_RESTART_ENV: Final = "HUB_RESTORE_NO_RESTART"
"""``1``: a staged restore waits for the next start instead of restarting the hub (tests)."""
MAX_UPLOAD: Final = 64 * 1024**3
MAX_FIELD: Final = 4096
_BLOCK: Final = 1 << 20


@dataclass(slots=True)
class RestartRequest:
    """Set by a staged restore: ``hub run`` starts itself again after its clean shutdown."""

    requested: bool = False
    enabled: bool = True


RESTART: Final = web.AppKey("restart", RestartRequest)


class CreateBody(BaseModel):
    """``POST /api/backups``."""

    model_config = ConfigDict(extra="forbid")

    include_history: bool = False


async def list_backups(request: web.Request) -> web.Response:
    """Stored backups, the schedule, and whether a recovery key or a passphrase is set."""
    require_admin(principal_of(request))
    return web.json_response(await request.app[BACKUPS].status())


async def create_backup(request: web.Request) -> web.Response:
    """Make a backup now, in the backup directory."""
    require_admin(principal_of(request))
    body = await read_json(request, CreateBody) if request.can_read_body else CreateBody()
    created = await request.app[BACKUPS].create(include_history=body.include_history)
    return web.json_response(
        {
            "name": created.path.name,
            "size": created.size,
            "created_at": created.created_at,
            "include_history": created.include_history,
        },
        status=201,
    )


async def download_backup(request: web.Request) -> web.StreamResponse:
    """The archive as a download."""
    require_admin(principal_of(request))
    backups = request.app[BACKUPS]
    name = request.match_info["name"]
    path = await asyncio.to_thread(backups.path_of, name)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{path.name}"',
        },
    )


async def delete_backup(request: web.Request) -> web.Response:
    """Remove a stored archive."""
    require_admin(principal_of(request))
    await request.app[BACKUPS].delete(request.match_info["name"])
    return web.Response(status=204)


async def make_recovery_key(request: web.Request) -> web.Response:
    """A new recovery key pair: the key is answered this once and never kept by the hub."""
    require_admin(principal_of(request))
    key = await request.app[BACKUPS].new_recovery_key()
    response = web.json_response({"recovery_key": key}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


async def restore_backup(request: web.Request) -> web.Response:
    """A new hub's first page: verify an uploaded archive, stage it, and restart to apply it."""
    check_origin(request)
    if not request.app[AUTH].onboarding_open:
        raise OnboardingClosedError("a backup can only be restored on a hub nobody uses yet")
    backups = request.app[BACKUPS]
    upload = backups.config_dir / f".restore-upload-{secrets.token_hex(8)}"
    try:
        secret = await _receive(request, upload)
        await backups.stage_restore(upload, secret)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(upload.unlink)
    restart = request.app[RESTART]
    if restart.enabled:
        restart.requested = True
        # After this answer is sent: the signal takes the same clean shutdown as Ctrl-C.
        asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGTERM)
    return web.json_response({"restarting": restart.enabled}, status=202)


async def _receive(request: web.Request, upload: Path) -> Secret:
    """Write the ``file`` part to ``upload``; the passphrase or recovery key from the others."""
    if not request.content_type.startswith("multipart/"):
        raise BadRequestError(
            "send the backup as multipart/form-data with a file and a passphrase or recovery key",
            key="errors.backup_upload_invalid",
        )
    fields: dict[str, str] = {}
    received = False
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file" and not received:
            await _save(part, upload)
            received = True
        elif part.name in ("passphrase", "recovery_key"):
            raw = await part.read_chunk(MAX_FIELD)
            fields[part.name] = raw.decode("utf-8", errors="replace").strip()
    if not received or not (fields.get("passphrase") or fields.get("recovery_key")):
        raise BadRequestError(
            "send the backup as multipart/form-data with a file and a passphrase or recovery key",
            key="errors.backup_upload_invalid",
        )
    from hub.ops.backup_format import Secret

    return Secret(
        passphrase=fields.get("passphrase") or None,
        recovery_key=fields.get("recovery_key") or None,
    )


async def _save(part: BodyPartReader, upload: Path) -> None:
    handle: IO[bytes] = await asyncio.to_thread(_create, upload)
    size = 0
    try:
        while chunk := await part.read_chunk(_BLOCK):
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise BadRequestError(
                    "the backup is larger than a hub restores from a browser",
                    key="errors.backup_upload_invalid",
                )
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)


def _create(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def register(app: web.Application) -> None:
    """Add the backup routes."""
    app.router.add_get("/api/backups", list_backups)
    app.router.add_post("/api/backups", create_backup)
    app.router.add_post("/api/backups/recovery-key", make_recovery_key)
    app.router.add_post(RESTORE_PATH, restore_backup)
    app.router.add_get("/api/backups/{name}", download_backup)
    app.router.add_delete("/api/backups/{name}", delete_backup)
