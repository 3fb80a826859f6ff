"""Tavily's REST API: ``POST /search`` and ``POST /extract`` with a bearer key, every refusal told apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from hub.integrations.web import HitFields, hit_fields, host_of, read_bounded

DEFAULT_BASE_URL: Final = "https://api.tavily.com"
DEFAULT_TIMEOUT: Final = 20.0
MAX_BODY: Final = 4_000_000
"""Bytes of an answer read at most (an extract of a long page is a few hundred kB)."""
MAX_DETAIL: Final = 200
USER_AGENT: Final = "hub-tavily/1.0"

INVALID_KEY: Final = "invalid_key"
PLAN_LIMIT: Final = "plan_limit"
PAYGO_LIMIT: Final = "paygo_limit"
RATE_LIMITED: Final = "rate_limited"
BAD_REQUEST: Final = "bad_request"
CANNOT_CONNECT: Final = "cannot_connect"
TIMEOUT: Final = "timeout"
SERVICE_ERROR: Final = "service_error"

# Tavily's documented answers: https://docs.tavily.com/documentation/api-reference/endpoint/search
_REFUSALS: Final = {
    401: (INVALID_KEY, "Tavily refused the API key (HTTP 401)"),
    429: (RATE_LIMITED, "Tavily is limiting requests (HTTP 429); try again in a minute"),
    432: (
        PLAN_LIMIT,
        "the Tavily plan's credits are used up (HTTP 432); upgrade the plan at app.tavily.com"
        " or wait until the credits renew",
    ),
    433: (
        PAYGO_LIMIT,
        "the pay-as-you-go limit set in the Tavily dashboard is reached (HTTP 433); raise it"
        " at app.tavily.com",
    ),
}


class TavilyError(Exception):
    """A request Tavily refused or did not answer; ``kind`` is a constant above (the flow's key)."""

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True, slots=True)
class Page:
    """What ``/extract`` read of one address: its text, or why it could not."""

    url: str
    text: str | None
    error: str | None = None


class TavilyClient:
    """One API key; each request opens and closes its own connection."""

    def __init__(
        self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._key = api_key
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TavilyClient({self.base_url!r})"  # never the key

    async def search(self, query: str, *, limit: int) -> list[HitFields]:
        """At most ``limit`` results for ``query`` (a basic search: one credit)."""
        body = {
            "query": query,
            "max_results": max(1, min(limit, 20)),
            "search_depth": "basic",
            "include_answer": False,
            "include_raw_content": False,
            "include_images": False,
        }
        data = await self._post("/search", body)
        results = data.get("results")
        if not isinstance(results, list):
            raise TavilyError("Tavily answered a search without results", kind=SERVICE_ERROR)
        return [hit for item in results if (hit := hit_fields(item)) is not None][: max(0, limit)]

    async def extract(self, url: str) -> Page:
        """The readable text of one page, as Markdown."""
        body = {"urls": [url], "extract_depth": "basic", "format": "markdown"}
        data = await self._post("/extract", body)
        for item in _dicts(data.get("results")):
            text = item.get("raw_content")
            if isinstance(text, str):
                return Page(url=str(item.get("url") or url), text=text)
        for item in _dicts(data.get("failed_results")):
            error = item.get("error")
            return Page(url=url, text=None, error=self._clean(str(error or "no reason given")))
        return Page(url=url, text=None, error="Tavily returned nothing for this address")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
                session.post(f"{self.base_url}{path}", json=body) as response,
            ):
                status, raw = response.status, await _read_bounded(response)
        except TimeoutError:
            raise TavilyError(
                f"Tavily did not answer within {self._timeout:g} s", kind=TIMEOUT
            ) from None
        except (aiohttp.ClientError, ValueError) as err:
            raise TavilyError(
                f"cannot reach Tavily at {self._host} ({type(err).__name__})", kind=CANNOT_CONNECT
            ) from None
        data = _json(raw)
        if status in _REFUSALS:
            kind, message = _REFUSALS[status]
            raise TavilyError(message, kind=kind, status=status)
        if status >= 400:
            detail = self._clean(_detail(data)) or f"HTTP {status}"
            kind = BAD_REQUEST if status == 400 else SERVICE_ERROR
            raise TavilyError(f"Tavily answered {path}: {detail}", kind=kind, status=status)
        if not isinstance(data, dict):
            raise TavilyError(
                f"Tavily answered {path} with something other than JSON", kind=SERVICE_ERROR
            )
        return data

    @property
    def _host(self) -> str:
        return host_of(self.base_url)

    def _clean(self, text: str) -> str:
        # An echoed key never reaches an exception, whatever a server or proxy sends back.
        if self._key:
            text = text.replace(self._key, "***")
        return text[:MAX_DETAIL]


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    body = await read_bounded(response, MAX_BODY)
    if body is None:
        raise TavilyError(
            f"Tavily's answer is larger than {MAX_BODY // 1_000_000} MB", kind=SERVICE_ERROR
        )
    return body


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _detail(data: Any) -> str:
    # Tavily's errors: {"detail": {"error": "..."}}; a proxy's may be anything.
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, dict):
        detail = detail.get("error")
    return detail.strip() if isinstance(detail, str) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
