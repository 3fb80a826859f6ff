"""The OpenProject API v3 over aiohttp: HAL+JSON, Basic auth ``apikey:<key>``, paged collections."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp

from .model import (
    API,
    Listing,
    MalformedResourceError,
    Project,
    Status,
    User,
    WorkPackage,
    WorkPackageType,
    elements,
    parse_project,
    parse_status,
    parse_type,
    parse_user,
    parse_work_package,
)

DEFAULT_TIMEOUT: Final = 20.0
PAGE_SIZE: Final = 100
MAX_PAGES: Final = 200
"""A bound on one listing, whatever ``total`` a misbehaving server claims."""
HAL_JSON: Final = "application/hal+json"
_UNAVAILABLE: Final = frozenset({502, 503, 504})
_MESSAGE_LIMIT: Final = 200

T = TypeVar("T")
Filters = Sequence[Mapping[str, Mapping[str, Any]]]
"""OpenProject's ``filters``: ``[{"status": {"operator": "o", "values": []}}, ...]``."""


class OpenProjectError(Exception):
    """OpenProject answered with an error or something unusable; ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OpenProjectAuthError(OpenProjectError):
    """OpenProject refused the API key."""


class OpenProjectConnectionError(OpenProjectError):
    """OpenProject could not be reached, timed out, or said it is unavailable.

    ``kind`` says which, for a person: ``cannot_connect``, ``timeout`` or ``service_unavailable``.
    """

    def __init__(
        self, message: str, *, status: int | None = None, kind: str = "cannot_connect"
    ) -> None:
        super().__init__(message, status=status)
        self.kind = kind


class OpenProjectClient:
    """One OpenProject instance seen through one API key; opens its session on first use."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._authorization = aiohttp.encode_basic_auth("apikey", api_key)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._statuses: dict[int, Status] = {}

    def __repr__(self) -> str:
        return f"<OpenProjectClient {self.base_url}>"

    async def __aenter__(self) -> OpenProjectClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session; later calls fail with ``OpenProjectConnectionError``."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # Reading

    async def me(self) -> User:
        """The key's own user; a 401 or 403 here means the key is refused."""
        try:
            data = await self._request("GET", f"{API}/users/me")
        except OpenProjectError as err:
            if err.status == 403:
                raise OpenProjectAuthError("OpenProject refused the API key", status=403) from None
            raise
        return self._parse(parse_user, data)

    async def projects(self, *, limit: int) -> Listing[Project]:
        """The projects the key can see, up to ``limit``."""
        return await self._collect(f"{API}/projects", {}, limit, parse_project)

    async def statuses(self, *, refresh: bool = False) -> dict[int, Status]:
        """Every status by id (kept after the first call; ``refresh`` reads them again)."""
        if refresh or not self._statuses:
            data = await self._request("GET", f"{API}/statuses")
            listed = [self._parse(parse_status, item) for item in self._elements(data)]
            self._statuses = {status.id: status for status in listed}
        return dict(self._statuses)

    async def work_packages(
        self,
        *,
        filters: Filters,
        limit: int,
        sort_by: Sequence[tuple[str, str]] = (("id", "asc"),),
        project: str | None = None,
    ) -> Listing[WorkPackage]:
        """Work packages matching ``filters`` (``[]`` means every status, open or closed)."""
        path = f"{API}/work_packages"
        if project is not None:
            path = f"{API}/projects/{_segment(project)}/work_packages"
        params = {
            "filters": _compact(list(filters)),
            "sortBy": _compact([list(s) for s in sort_by]),
        }
        return await self._collect(path, params, limit, parse_work_package)

    async def project_types(self, project: str) -> list[WorkPackageType]:
        """The work package types enabled in a project (by id or identifier), in their order."""
        data = await self._request("GET", f"{API}/projects/{_segment(project)}/types")
        return [self._parse(parse_type, item) for item in self._elements(data)]

    # Writing

    async def create_work_package(
        self,
        project: str,
        *,
        subject: str,
        description: str = "",
        due_date: date | None = None,
        assignee_href: str | None = None,
    ) -> WorkPackage:
        """Create a work package of the project's first type and return it as stored."""
        types = await self.project_types(project)
        if not types:
            raise OpenProjectError(f"project {project!r} has no work package types enabled")
        links: dict[str, Any] = {"type": {"href": types[0].href}}
        if assignee_href is not None:
            links["assignee"] = {"href": assignee_href}
        body: dict[str, Any] = {
            "subject": subject,
            "description": {"format": "markdown", "raw": description},
            "_links": links,
        }
        if due_date is not None:
            body["dueDate"] = due_date.isoformat()
        path = f"{API}/projects/{_segment(project)}/work_packages"
        data = await self._request("POST", path, body=body)
        return self._parse(parse_work_package, data)

    # Links a person can open

    def work_package_url(self, work_package_id: int) -> str:
        """The work package's page in OpenProject."""
        return f"{self.base_url}/work_packages/{work_package_id}"

    def project_url(self, identifier: str) -> str:
        """The project's page in OpenProject."""
        return f"{self.base_url}/projects/{_segment(identifier)}"

    # The wire

    async def _collect(
        self,
        path: str,
        params: dict[str, str],
        limit: int,
        parse: Callable[[Mapping[str, Any]], T],
    ) -> Listing[T]:
        # OpenProject's offset is the page number, from 1; the server may shrink pageSize.
        items: list[T] = []
        total = 0
        size = max(1, min(PAGE_SIZE, limit))
        for page in range(1, MAX_PAGES + 1):
            query = {**params, "pageSize": str(size), "offset": str(page)}
            data = await self._request("GET", path, params=query)
            found = self._elements(data)
            items.extend(self._parse(parse, item) for item in found)
            claimed = data.get("total")
            total = claimed if isinstance(claimed, int) else len(items)
            if not found or len(items) >= min(total, limit):
                break
        return Listing(tuple(items[:limit]), max(total, len(items)))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        session = self._open()
        try:
            async with session.request(
                method, f"{self.base_url}{path}", params=params, json=body
            ) as response:
                status = response.status
                text = await response.text()
        except TimeoutError:
            raise OpenProjectConnectionError(
                f"OpenProject at {self._host} did not answer within {self._timeout.total:g} s",
                kind="timeout",
            ) from None
        except aiohttp.ClientError as err:
            raise OpenProjectConnectionError(
                f"cannot reach OpenProject at {self._host} ({type(err).__name__})"
            ) from None
        data = _json(text)
        if status == 401:
            raise OpenProjectAuthError("OpenProject refused the API key", status=status)
        if status >= 400:
            what = self._clean(_message(data)) or f"HTTP {status}"
            message = f"OpenProject answered {method} {path}: {what}"
            if status in _UNAVAILABLE:
                raise OpenProjectConnectionError(message, status=status, kind="service_unavailable")
            raise OpenProjectError(message, status=status)
        if not isinstance(data, dict):
            raise OpenProjectError(
                f"OpenProject answered {method} {path} with something other than a JSON object"
                " (is the URL right?)",
                status=status,
            )
        return data

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise OpenProjectConnectionError("this OpenProject connection was closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={
                    "Accept": f"{HAL_JSON}, application/json",
                    "Authorization": self._authorization,
                },
            )
        return self._session

    @property
    def _host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url

    def _clean(self, text: str) -> str:
        # The key never reaches an exception, even if a proxy or server echoes it back, in the
        # header's wire form (``Basic base64(apikey:key)``) as much as in plain text. The hub's
        # redaction masks both too; this keeps the client safe on its own.
        if self._key:
            encoded = self._authorization.partition(" ")[2]
            text = text.replace(encoded, "***").replace(self._key, "***")
        return text[:_MESSAGE_LIMIT]

    def _elements(self, data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        return self._parse(elements, data)

    def _parse(self, parse: Callable[[Mapping[str, Any]], T], data: Mapping[str, Any]) -> T:
        try:
            return parse(data)
        except MalformedResourceError as err:
            raise OpenProjectError(f"OpenProject sent {err}") from None


def _segment(value: str) -> str:
    return quote(value.strip(), safe="")


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _message(data: Any) -> str:
    message = data.get("message") if isinstance(data, dict) else None
    return message.strip() if isinstance(message, str) else ""
