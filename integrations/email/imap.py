"""A small asyncio IMAP4rev1 client: what reading and watching a mailbox takes, nothing more.

Every read is bounded (a line, a literal) and every command has a timeout. Responses are read
by one pending task that a timed-out wait leaves running, so waiting for the next line in IDLE
never cuts a response in half.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .imap_wire import (
    LITERAL_END,
    MalformedResponseError,
    Response,
    Value,
    encode_mailbox,
    fetch_items,
    quote,
    response_code,
)
from .tls import ServerSettings, check_plaintext, ssl_context

DEFAULT_TIMEOUT: Final = 30.0
MAX_LINE: Final = 8 * 1024 * 1024
"""One response line without its literals: a UID SEARCH over 500,000 messages fits."""
MAX_LITERAL: Final = 32 * 1024 * 1024
"""Above the biggest message the reader downloads whole (``reader.MAX_MESSAGE``)."""


_BUSY: Final = frozenset({"UNAVAILABLE", "LIMIT", "INUSE", "SERVERBUG"})
"""Response codes (RFC 5530) that mean "not now", whatever the command was."""


class ImapError(Exception):
    """The server refused a command or said something this client cannot use."""


class ImapAuthError(ImapError):
    """The server refused the username or password."""


class ImapConnectionError(ImapError, ConnectionError):
    """The server could not be reached, went away, or did not answer in time."""


class ImapTlsError(ImapConnectionError):
    """The server's certificate failed verification."""


@dataclass(frozen=True, slots=True)
class Mailbox:
    """What SELECT or EXAMINE reported about a mailbox."""

    name: str
    exists: int
    uidvalidity: int
    uidnext: int | None


class ImapClient:
    """One IMAP connection; ``connect`` then ``login``, and ``close`` when done."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_line: int = MAX_LINE,
        max_literal: int = MAX_LITERAL,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.capabilities: frozenset[str] = frozenset()
        self._max_line = max_line
        self._max_literal = max_literal
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: asyncio.Task[Response] | None = None
        self._tag = 0
        self._idle_tag: str | None = None

    @property
    def connected(self) -> bool:
        """Whether the connection is open (as far as this side knows)."""
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Open the connection, upgrade it for ``starttls``, and learn the capabilities."""
        settings = self.settings
        if settings.security == "none":
            check_plaintext(settings)
        context = ssl_context(settings.ca_pem) if settings.security != "none" else None
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    settings.host,
                    settings.port,
                    ssl=context if settings.security == "tls" else None,
                    server_hostname=settings.host if settings.security == "tls" else None,
                    limit=self._max_line,
                )
        except ssl.SSLCertVerificationError as err:
            raise ImapTlsError(
                f"certificate of {settings.host} refused: {err.verify_message}"
            ) from err
        except ssl.SSLError as err:
            raise ImapConnectionError(f"TLS with {settings.host} failed: {err.reason}") from err
        except TimeoutError as err:
            raise ImapConnectionError(f"{settings.host}:{settings.port} timed out") from err
        except OSError as err:
            raise ImapConnectionError(
                f"cannot connect to {settings.host}:{settings.port}: {err.strerror or err}"
            ) from err
        greeting = await self._next(self.timeout)
        if greeting.words[:1] == ["BYE"]:
            await self.close()
            raise ImapConnectionError(f"{settings.host} refused the connection: {greeting.text}")
        await self.capability()
        if settings.security == "starttls":
            await self._starttls(context)

    async def _starttls(self, context: ssl.SSLContext | None) -> None:
        assert context is not None
        assert self._writer is not None
        if "STARTTLS" not in self.capabilities:
            await self.close()
            raise ImapConnectionError(f"{self.settings.host} does not offer STARTTLS")
        await self.command("STARTTLS")
        try:
            async with asyncio.timeout(self.timeout):
                await self._writer.start_tls(context, server_hostname=self.settings.host)
        except ssl.SSLCertVerificationError as err:
            await self.close()
            raise ImapTlsError(
                f"certificate of {self.settings.host} refused: {err.verify_message}"
            ) from err
        except (ssl.SSLError, OSError, TimeoutError) as err:
            await self.close()
            raise ImapConnectionError(f"STARTTLS with {self.settings.host} failed") from err
        # Capabilities learnt before TLS cannot be trusted (RFC 3501 6.2.1).
        await self.capability()

    async def capability(self) -> frozenset[str]:
        """Ask for the server's capabilities."""
        untagged, _ = await self.command("CAPABILITY")
        for response in untagged:
            if response.words[:1] == ["CAPABILITY"]:
                self._set_capabilities(response.raw.split(b" ")[2:])
        return self.capabilities

    def _set_capabilities(self, words: Iterable[bytes]) -> None:
        self.capabilities = frozenset(word.decode("ascii", "replace").upper() for word in words)

    async def login(self) -> None:
        """LOGIN with the settings' username and password; ImapAuthError when refused."""
        username, password = self.settings.username, self.settings.password
        if "LOGINDISABLED" in self.capabilities:
            raise ImapAuthError(f"{self.settings.host} does not allow LOGIN on this connection")
        _, done = await self.command("LOGIN", username, password, secret=password)
        code = response_code(done)
        if code and code.upper().startswith("CAPABILITY "):
            self._set_capabilities(code.encode().split(b" ")[1:])
        else:
            await self.capability()

    async def select(self, folder: str, *, readonly: bool = True) -> Mailbox:
        """EXAMINE (or SELECT) ``folder``: its message count, UIDVALIDITY and UIDNEXT."""
        untagged, _ = await self.command(
            "EXAMINE" if readonly else "SELECT", encode_mailbox(folder)
        )
        exists, uidvalidity, uidnext = 0, 0, None
        for response in untagged:
            words = response.words
            if len(words) >= 2 and words[1] == "EXISTS" and words[0].isdigit():
                exists = int(words[0])
            code = response_code(response) or ""
            key, _, number = code.partition(" ")
            if key.upper() == "UIDVALIDITY" and number.isdigit():
                uidvalidity = int(number)
            elif key.upper() == "UIDNEXT" and number.isdigit():
                uidnext = int(number)
        return Mailbox(folder, exists, uidvalidity, uidnext)

    async def uid_search(self, criteria: str) -> list[int]:
        """UID SEARCH with ``criteria`` (atoms this module builds, never a person's text)."""
        untagged, _ = await self.command("UID SEARCH " + criteria)
        uids: list[int] = []
        for response in untagged:
            if response.words[:1] == ["SEARCH"]:
                uids.extend(int(word) for word in response.raw.split(b" ")[2:] if word.isdigit())
        return sorted(uids)

    async def uid_fetch(self, uids: Sequence[int], items: str) -> dict[int, dict[str, Value]]:
        """UID FETCH ``items`` for ``uids``: each UID's items by upper-case name."""
        if not uids:
            return {}
        uid_set = ",".join(str(uid) for uid in uids)
        untagged, _ = await self.command(f"UID FETCH {uid_set} ({items})")
        found: dict[int, dict[str, Value]] = {}
        for response in untagged:
            try:
                parsed = fetch_items(response)
            except MalformedResponseError as err:
                raise ImapError(f"unreadable FETCH answer: {err}") from None
            if parsed is None:
                continue
            uid = parsed[1].get("UID")
            if isinstance(uid, bytes) and uid.isdigit():
                found.setdefault(int(uid), {}).update(parsed[1])
        return found

    async def noop(self) -> list[Response]:
        """NOOP: the untagged news it brings (EXISTS, EXPUNGE, ...)."""
        untagged, _ = await self.command("NOOP")
        return untagged

    async def idle(self) -> list[Response]:
        """Enter IDLE (news that came first is returned); read on with ``wait``, leave with ``done``."""
        tag = self._next_tag()
        await self._send(f"{tag} IDLE\r\n".encode())
        untagged: list[Response] = []
        while True:
            response = await self._next(self.timeout)
            if response.tag == "+":
                self._idle_tag = tag
                return untagged
            if response.tag == tag:
                raise ImapError(f"IDLE refused: {response.text}")
            untagged.append(response)

    async def wait(self, seconds: float) -> Response | None:
        """The next response from the server within ``seconds``, else None."""
        return await self._wait(seconds)

    async def done(self) -> list[Response]:
        """Leave IDLE; the untagged responses that came before the server's OK."""
        tag, self._idle_tag = self._idle_tag, None
        if tag is None:
            return []
        await self._send(b"DONE\r\n")
        return (await self._collect(tag, "IDLE"))[0]

    async def logout(self) -> None:
        """LOGOUT politely, then close; never raises."""
        with contextlib.suppress(ImapError, OSError):
            if self.connected and self._idle_tag is not None:
                await self.done()
            if self.connected:
                await self.command("LOGOUT")
        await self.close()

    async def close(self) -> None:
        """Close the connection at once."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            # wait(), not await: the read's own outcome is not this caller's to raise.
            await asyncio.wait({pending})
            if not pending.cancelled():
                pending.exception()
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            # A TLS goodbye to a server that stopped reading would wait forever.
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(min(1.0, self.timeout)):
                    await writer.wait_closed()

    async def command(
        self, line: str, *args: str, secret: str | None = None
    ) -> tuple[list[Response], Response]:
        """Send ``line`` (built by this module) and ``args``; its untagged responses and tagged OK.

        Each of ``args`` goes quoted, or as a literal when quoting cannot carry it. ``secret``
        is masked in any error text, should a server echo it.
        """
        tag = self._next_tag()
        chunks: list[bytes] = []
        literals: list[bytes] = []
        current = f"{tag} {line}".encode("ascii")
        for arg in args:
            quoted = quote(arg)
            if quoted is not None:
                current += b" " + quoted
                continue
            data = arg.encode("utf-8", "surrogateescape")
            chunks.append(current + b" {%d}" % len(data))
            literals.append(data)
            current = b""
        chunks.append(current)
        for chunk, literal in zip(chunks, [*literals, None], strict=True):
            await self._send(chunk + b"\r\n")
            if literal is not None:
                await self._continuation(tag)
                await self._send(literal)
        words = line.split(" ", 2)
        what = " ".join(words[:2]) if words[0] == "UID" else words[0]
        return await self._collect(tag, what, secret)

    async def _continuation(self, tag: str) -> None:
        # A synchronizing literal: its bytes go only after the server's "+".
        while True:
            response = await self._next(self.timeout)
            if response.tag == "+":
                return
            if response.tag == tag:
                raise ImapError(f"the server refused a literal: {response.words[:1]}")

    async def _collect(
        self, tag: str, what: str, secret: str | None = None
    ) -> tuple[list[Response], Response]:
        untagged: list[Response] = []
        while True:
            response = await self._next(self.timeout)
            if response.tag == tag:
                break
            if response.tag == "*" and response.words[:1] == ["BYE"] and what != "LOGOUT":
                await self.close()
                raise ImapConnectionError(f"{self.settings.host} ended the session")
            untagged.append(response)
        if response.words[:1] == ["OK"]:
            return untagged, response
        text = response.text
        if secret:
            text = text.replace(secret, "***")
        code = (response_code(response) or "").upper()
        if code in _BUSY:
            # RFC 5530: the server is busy or at a limit (Dovecot's connections per user and
            # address), not refusing the password: retried later, never a request to sign in again.
            raise ImapConnectionError(f"{self.settings.host} is unavailable: {text}")
        if what == "LOGIN" or code in {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED"}:
            raise ImapAuthError(f"login refused: {text}")
        raise ImapError(f"{what} refused: {text}")

    def _next_tag(self) -> str:
        self._tag += 1
        return f"H{self._tag:04d}"

    async def _send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise ImapConnectionError("not connected")
        try:
            writer.write(data)
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except (OSError, TimeoutError) as err:
            await self.close()
            raise ImapConnectionError(f"lost the connection to {self.settings.host}") from err

    async def _next(self, seconds: float) -> Response:
        response = await self._wait(seconds)
        if response is None:
            await self.close()
            raise ImapConnectionError(f"{self.settings.host} did not answer in time")
        return response

    async def _wait(self, seconds: float) -> Response | None:
        # The read task outlives a timed-out wait, so a response is never cut in half.
        if self._reader is None:
            raise ImapConnectionError("not connected")
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_task(self._read_response())
        pending = self._pending
        done, _ = await asyncio.wait({pending}, timeout=seconds)
        if not done:
            return None
        self._pending = None
        try:
            return pending.result()
        except ImapError:
            await self.close()
            raise

    async def _read_response(self) -> Response:
        reader = self._reader
        assert reader is not None
        data = bytearray()
        try:
            while True:
                line = await reader.readuntil(b"\r\n")
                data += line
                match = LITERAL_END.search(line)
                if match is None:
                    break
                length = int(match[1])
                if length > self._max_literal:
                    raise ImapError(f"a literal of {length} bytes is over the limit")
                data += await reader.readexactly(length)
                if len(data) > self._max_literal + self._max_line:
                    raise ImapError("a response is over the size limit")
        except asyncio.LimitOverrunError as err:
            raise ImapError("a response line is over the length limit") from err
        except asyncio.IncompleteReadError as err:
            raise ImapConnectionError(f"{self.settings.host} closed the connection") from err
        except (OSError, ssl.SSLError) as err:
            raise ImapConnectionError(f"lost the connection to {self.settings.host}") from err
        raw = bytes(data[:-2])
        tag = raw.split(b" ", 1)[0].decode("ascii", "replace")
        return Response(tag, raw)


async def check_login(
    settings: ServerSettings,
    *,
    timeout: float,  # noqa: ASYNC109  # the flow's short deadline, applied to each step
) -> None:
    """Connect and log in once (for the config flow), then log out."""
    client = ImapClient(settings, timeout=timeout)
    try:
        async with asyncio.timeout(timeout * 2):
            await client.connect()
            await client.login()
    except TimeoutError as err:
        raise ImapConnectionError(f"{settings.host} did not answer in time") from err
    finally:
        await client.logout()
