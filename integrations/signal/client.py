"""signal-cli-rest-api over aiohttp: the bridge's accounts, device-link QR, receive queue and send."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import quote

import aiohttp

DEVICE_NAME: Final = "hub"
"""How the linked device is named in the phone's list of linked devices."""
TIMEOUT: Final = 10.0
RECEIVE_WAIT: Final = 1
"""Seconds the bridge waits for a message before answering an empty receive (its ``timeout``)."""
MAX_BODY: Final = 16 * 1024 * 1024
"""A bridge answer past this is refused rather than read: one receive stays bounded in memory."""
MAX_QR: Final = 1024 * 1024
_OFF_LOOP: Final = 256 * 1024
"""JSON larger than this is parsed in a thread, so a big receive never stalls the event loop."""


class SignalError(Exception):
    """The bridge answered with something unusable; ``status`` is the HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SignalConnectionError(SignalError, ConnectionError):
    """The bridge could not be reached, timed out, or said it is unavailable (5xx)."""


class SignalClient:
    """One signal-cli-rest-api bridge; opens its session on first use."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # A receive waits on the bridge's side before answering: its bound is longer by that.
        self._receive_timeout = aiohttp.ClientTimeout(total=timeout + RECEIVE_WAIT)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"<SignalClient {self.base_url}>"

    async def close(self) -> None:
        """Close the session (a later call opens a new one)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def about(self) -> dict[str, Any]:
        """``GET /v1/about``: the bridge's version and mode."""
        data = await self._json("GET", "/v1/about")
        if not isinstance(data, dict):
            raise SignalError("/v1/about did not answer an object")
        return data

    async def accounts(self) -> list[str]:
        """``GET /v1/accounts``: the numbers registered or linked on the bridge."""
        data = await self._json("GET", "/v1/accounts")
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise SignalError("/v1/accounts did not answer a list of numbers")
        return list(data)

    async def qrcode_link(self) -> str:
        """``GET /v1/qrcodelink``: a fresh device-link QR code, as a ``data:image/png`` URL."""
        body, content_type = await self._request(
            "GET", "/v1/qrcodelink", params={"device_name": DEVICE_NAME}, limit=MAX_QR
        )
        if not body.startswith(b"\x89PNG") and content_type != "image/png":
            raise SignalError("/v1/qrcodelink did not answer a PNG image")
        return "data:image/png;base64," + base64.b64encode(body).decode("ascii")

    async def receive(self, number: str) -> list[dict[str, Any]]:
        """``GET /v1/receive/{number}``: every queued envelope. The bridge forgets what it answers."""
        data = await self._json(
            "GET",
            f"/v1/receive/{quote(number, safe='')}",
            params={"timeout": str(RECEIVE_WAIT)},
            bound=self._receive_timeout,
        )
        if not isinstance(data, list):
            raise SignalError("/v1/receive did not answer a list")
        return [item for item in data if isinstance(item, dict)]

    async def send(self, number: str, recipients: Sequence[str], message: str) -> str:
        """``POST /v2/send``; the sent message's timestamp."""
        payload = {"message": message, "number": number, "recipients": list(recipients)}
        data = await self._json("POST", "/v2/send", payload=payload)
        timestamp = data.get("timestamp") if isinstance(data, dict) else None
        if not isinstance(timestamp, str | int):
            raise SignalError("/v2/send did not answer a timestamp")
        return str(timestamp)

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        bound: aiohttp.ClientTimeout | None = None,
    ) -> Any:
        body, _ = await self._request(method, path, params=params, payload=payload, bound=bound)
        try:
            if len(body) > _OFF_LOOP:
                return await asyncio.to_thread(json.loads, body)
            return json.loads(body)
        except ValueError:
            raise SignalError(f"{path} did not answer JSON") from None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        limit: int = MAX_BODY,
        bound: aiohttp.ClientTimeout | None = None,
    ) -> tuple[bytes, str]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(
                method, self.base_url + path, params=params, json=payload, timeout=bound
            ) as resp:
                if resp.content_length is not None and resp.content_length > limit:
                    raise SignalError(f"{path} answered more than {limit} bytes")
                body = await _read(resp, limit, path)
                if resp.status >= 500:
                    raise SignalConnectionError(
                        f"{path} answered {resp.status}: {_reason(body)}", status=resp.status
                    )
                if resp.status >= 400:
                    raise SignalError(
                        f"{path} answered {resp.status}: {_reason(body)}", status=resp.status
                    )
                return body, resp.content_type
        except SignalError:
            raise
        except TimeoutError:
            raise SignalConnectionError(f"{path} did not answer in time") from None
        except (aiohttp.ClientError, OSError, ValueError) as err:
            # ValueError: a base URL aiohttp cannot use; it is as unreachable as a refused one.
            raise SignalConnectionError(f"{path}: {type(err).__name__}") from None


async def _read(resp: aiohttp.ClientResponse, limit: int, path: str) -> bytes:
    """The whole body, refused past ``limit`` bytes (a bridge's length header may be missing)."""
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise SignalError(f"{path} answered more than {limit} bytes")
    return bytes(body)


def _reason(body: bytes) -> str:
    """The bridge's ``{"error": …}`` text, short, or nothing."""
    try:
        data = json.loads(body[:4096])
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return str(error)[:200] if error else ""


async def linked_numbers(base_url: str) -> list[str]:
    """The numbers linked to the bridge at ``base_url``."""
    client = SignalClient(base_url)
    try:
        return await client.accounts()
    finally:
        await client.close()


async def qrcode_link(base_url: str) -> str:
    """A fresh device-link QR code from the bridge at ``base_url``, as a data URL."""
    client = SignalClient(base_url)
    try:
        return await client.qrcode_link()
    finally:
        await client.close()
