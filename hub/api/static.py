"""The web UI's files from ``www/``: held in memory, gzip-compressed once, validated by ETag."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from hub.api.frame_sources import FRAME_SOURCES, FrameSources
from hub.api.state import SURFACES
from hub.config import SOURCE_ROOT

WWW: Final = SOURCE_ROOT / "www"
SECURITY_HEADERS: Final = {
    # The Content-Security-Policy comes from FrameSources: its frame-src follows the stored surfaces.
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
FRAME_ANCESTORS: Final = "frame-ancestors 'none'"
"""No page of another origin (another port included) may frame the hub's, signed-in pages above all."""
_SKIP: Final = {".md"}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file: its bytes, their gzip form, type and ETag."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str


class Assets:
    """Every file under ``www/``, read once (off the event loop) on the first request."""

    def __init__(self, root: Path = WWW) -> None:
        self.root = root
        self._files: dict[str, Asset] | None = None
        self._lock = asyncio.Lock()

    async def get(self, path: str) -> Asset | None:
        """The asset at ``path`` (``""`` is ``index.html``)."""
        if self._files is None:
            async with self._lock:
                if self._files is None:
                    self._files = await asyncio.to_thread(self._read)
        return self._files.get(path or "index.html")

    def _read(self) -> dict[str, Asset]:
        files: dict[str, Asset] = {}
        if not self.root.is_dir():
            return files
        for file in sorted(self.root.rglob("*")):
            if not file.is_file() or file.suffix in _SKIP:
                continue
            body = file.read_bytes()
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            files[file.relative_to(self.root).as_posix()] = Asset(
                body, gzip.compress(body, 9, mtime=0), kind, etag
            )
        return files

    def total_bytes(self) -> int:
        """Uncompressed size of everything loaded (for the UI benchmark)."""
        return sum(len(asset.body) for asset in (self._files or {}).values())


ASSETS: Final = web.AppKey("assets", Assets)


async def serve(request: web.Request) -> web.StreamResponse:
    """A file of the UI; unknown paths outside ``/api`` get the UI itself (its router decides)."""
    path = request.match_info["path"]
    if path.startswith(("api/", "webhooks/")) or path in ("api", "webhooks"):
        raise web.HTTPNotFound()
    if ".." in path.split("/"):
        raise web.HTTPNotFound()
    asset = await request.app[ASSETS].get(path)
    if asset is None:
        raise web.HTTPNotFound()
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    headers.update(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = request.app[FRAME_SOURCES].policy()
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(
            body=asset.gzipped,
            content_type=None,
            headers={**headers, "Content-Type": asset.content_type},
        )
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


async def frame_guard(request: web.Request, response: web.StreamResponse) -> None:
    """Forbid framing and content sniffing on every answer: pages, API, errors and webhooks."""
    headers = response.headers
    policy = headers.get("Content-Security-Policy")
    if policy is None:
        headers["Content-Security-Policy"] = FRAME_ANCESTORS
    elif "frame-ancestors" not in policy:
        headers["Content-Security-Policy"] = f"{policy}; {FRAME_ANCESTORS}"
    headers.setdefault("X-Frame-Options", "DENY")  # for browsers older than frame-ancestors
    headers.setdefault("X-Content-Type-Options", "nosniff")


def register(app: web.Application) -> None:
    """Serve the UI; registered last, so every API route wins. Every answer gets the frame guard."""
    app[ASSETS] = Assets()
    app[FRAME_SOURCES] = FrameSources(app[SURFACES])
    app.on_response_prepare.append(frame_guard)
    app.router.add_get("/{path:.*}", serve)
