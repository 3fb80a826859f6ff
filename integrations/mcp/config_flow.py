"""The MCP form: the transport first, then a URL (and token) or a command line; checked live.

``stdio`` starts a program on the hub's machine, so only a household (global) entry may use it,
which only an admin can add. The check connects, initializes and lists the tools; the tools it
saw are pinned with the entry (``hub.integrations.tool_review``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from typing import Any, Final
from urllib.parse import urlsplit

from hub.integrations.manifest import FieldDescriptor, SelectOption
from hub.integrations.simple_flow import SimpleConfigFlow
from hub.integrations.tool_review import PINS_KEY, ToolPins, ToolSpec
from hub.integrations.web import is_web_address

from .client import (
    COMMAND_NOT_FOUND,
    MAX_TOOLS,
    McpProbeError,
    ServerSpec,
    probe,
    resolve_program,
    split_command,
)

HTTP: Final = "http"
STDIO: Final = "stdio"
_HTTP: Final[dict[str, tuple[str | int | float | bool, ...]]] = {"transport": (HTTP,)}
_STDIO: Final[dict[str, tuple[str | int | float | bool, ...]]] = {"transport": (STDIO,)}
_PREFIX_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,23}$")

SCHEMA: Final = [
    FieldDescriptor(
        name="transport",
        label="field.transport.label",
        type="select",
        required=True,
        default=HTTP,
        options=(
            SelectOption(value=HTTP, label="field.transport.options.http"),
            SelectOption(value=STDIO, label="field.transport.options.stdio"),
        ),
        description="field.transport.description",
    ),
    FieldDescriptor(
        name="url",
        label="field.url.label",
        type="text",
        required=True,
        placeholder="field.url.placeholder",
        show_when=_HTTP,
    ),
    FieldDescriptor(
        name="token",
        label="field.token.label",
        type="secret",
        required=False,
        description="field.token.description",
        show_when=_HTTP,
    ),
    FieldDescriptor(
        name="command",
        label="field.command.label",
        type="text",
        required=True,
        placeholder="field.command.placeholder",
        description="field.command.description",
        show_when=_STDIO,
    ),
    FieldDescriptor(
        name="prefix",
        label="field.prefix.label",
        type="text",
        required=False,
        description="field.prefix.description",
    ),
]


class McpConfigFlow(SimpleConfigFlow):
    """``invalid_url``, ``invalid_command``, ``stdio_admin_only``, ``invalid_prefix``, then the
    probe's ``cannot_connect``, ``auth_failed``, ``not_an_mcp_server``, ``command_not_found``,
    ``timeout``."""

    domain = "mcp"
    SCHEMA = SCHEMA
    VALIDATE_TIMEOUT = 30.0
    _seen: tuple[ToolSpec, ...] = ()

    def validate_fields(self, data: dict[str, Any]) -> dict[str, str]:
        """Required fields, then the URL, the command line, who may use stdio, and the prefix."""
        errors = super().validate_fields(data)
        url = str(data.get("url") or "")
        if data.get("transport") == HTTP and "url" not in errors and not is_web_address(url):
            errors["url"] = "invalid_url"
        if data.get("transport") == STDIO and "command" not in errors:
            if self.context.scope != "global":
                errors["command"] = "stdio_admin_only"
            else:
                try:
                    argv = split_command(str(data.get("command") or ""))
                except ValueError:
                    argv = ()
                if not argv:
                    errors["command"] = "invalid_command"
                elif resolve_program(argv) is None:
                    errors["command"] = COMMAND_NOT_FOUND
        prefix = data.get("prefix")
        if prefix and not _PREFIX_RE.match(str(prefix)):
            errors["prefix"] = "invalid_prefix"
        return errors

    async def validate(self, data: dict[str, Any]) -> str | None:
        """Connect, initialize and list the tools; the tools seen are pinned with the entry."""
        home = tempfile.mkdtemp(prefix="hub-mcp-check-")
        try:
            found = await probe(server_spec(data), home)
        except McpProbeError as err:
            self._log_failure("probe", err)
            return err.kind
        finally:
            shutil.rmtree(home, ignore_errors=True)
        self._seen = tuple(found.tools)
        return None

    def entry_title(self, data: dict[str, Any]) -> str:
        """The server's host, or its program's name."""
        return title_of(data)

    def entry_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """The transport's fields, the prefix, and the pinned tools."""
        stored: dict[str, Any] = {"transport": data["transport"]}
        if data["transport"] == HTTP:
            stored["url"] = data["url"]
            if data.get("token"):
                stored["token"] = data["token"]
        else:
            stored["command"] = data["command"]
        stored["prefix"] = data.get("prefix") or default_prefix(title_of(data))
        stored[PINS_KEY] = ToolPins.pin_all(self._seen[:MAX_TOOLS])
        return stored


def server_spec(data: dict[str, Any], token: str | None = None) -> ServerSpec:
    """How to reach the server an entry (or a submission) names."""
    if data.get("transport") == STDIO:
        return ServerSpec(STDIO, argv=split_command(str(data.get("command") or "")))
    return ServerSpec(
        HTTP, url=str(data.get("url") or ""), token=token or data.get("token") or None
    )


def title_of(data: dict[str, Any]) -> str:
    """``host[:port]`` for HTTP, the program's file name for stdio."""
    if data.get("transport") == STDIO:
        try:
            argv = split_command(str(data.get("command") or ""))
        except ValueError:
            argv = ()
        return argv[0].rsplit("/", 1)[-1] if argv else "MCP"
    return urlsplit(str(data.get("url") or "")).netloc or "MCP"


def default_prefix(title: str) -> str:
    """A tool-name prefix from the title: lower case, ``_`` between words, at most 24 characters."""
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:24].strip("_")
    if not slug or not slug[0].isalpha():
        slug = f"mcp_{slug}"[:24].strip("_")
    return slug
