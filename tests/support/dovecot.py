"""A real Dovecot IMAP server on 127.0.0.1 for tests: plain (with STARTTLS) and implicit-TLS ports.

The server runs from a throwaway directory with its own configuration, users and maildirs, under
a throwaway CA whose PEM the tests paste or leave out. Mail arrives through IMAP APPEND as the
user (stdlib ``imaplib`` on a worker thread, not the client under test), which is the path that
wakes a client in IDLE. ``stop()`` and ``start()`` keep the port and the mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import grp
import imaplib
import ipaddress
import os
import pwd
import re
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations.email.tls import Security, ServerSettings
from tests.bench.startup import free_port

DOVECOT: Final = os.environ.get("HUB_DOVECOT", "/usr/sbin/dovecot")
HAVE_DOVECOT: Final = os.access(DOVECOT, os.X_OK)
SKIP_REASON: Final = (
    f"Dovecot is not installed at {DOVECOT} (Debian: apt-get install dovecot-imapd)"
)
USERS: Final = {"alice": "alice-pass-1", "bob": 'b"o\\b p@ss', "carol": "pässwörd-çarol"}
"""Test users: bob's password needs quoting on the wire, carol's a literal (not ASCII)."""
START_TIMEOUT: Final = 20.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Certificates:
    """A throwaway CA and a server certificate it signed for localhost and 127.0.0.1."""

    ca_pem: str
    cert_pem: str
    key_pem: str


def make_certificates() -> Certificates:
    """Generate a CA and a server certificate (EC keys: fast)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Certificates(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM).decode(),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )


class MailServer:
    """A mail server for tests: a plain and an implicit-TLS port, under a throwaway CA."""

    port: int
    tls_port: int
    certificates: Certificates
    users: dict[str, str]

    @property
    def ca_pem(self) -> str:
        """The PEM of the CA that signed the server's certificate."""
        return self.certificates.ca_pem

    def settings(
        self,
        user: str = "alice",
        *,
        security: Security = "none",
        password: str | None = None,
        ca_pem: str | None = None,
        host: str = "127.0.0.1",
    ) -> ServerSettings:
        """Client settings for ``user``: the TLS port for ``tls``, the plain one otherwise."""
        plain, tls = self.port, self.tls_port
        return ServerSettings(
            host=host,
            port=tls if security == "tls" else plain,
            security=security,
            username=user,
            password=self.users[user] if password is None else password,
            ca_pem=ca_pem,
        )


@dataclass
class DovecotServer(MailServer):
    """One Dovecot instance; ``port`` speaks plain IMAP (STARTTLS offered), ``tls_port`` IMAPS.

    It listens on 127.0.0.2 too, an address its certificate does not name.
    """

    root: Path
    port: int
    tls_port: int
    certificates: Certificates
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    _process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the server (again) and wait until both ports accept connections."""
        assert self._process is None, "already running"
        self._process = await asyncio.create_subprocess_exec(
            DOVECOT,
            "-F",
            "-c",
            str(self.root / "dovecot.conf"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own process group: stopping ends the mail processes too, which outlive
            # their master otherwise and keep the clients' connections open.
            start_new_session=True,
        )
        async with asyncio.timeout(START_TIMEOUT):
            for port in (self.port, self.tls_port):
                while not await self._accepts(port):
                    if self._process.returncode is not None:
                        self._process = None
                        raise RuntimeError(f"dovecot exited at start:\n{self.log_tail()}")
                    await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop the server and its mail processes; clients see their connections closed."""
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        # Whatever of the group is still there (a mail process busy on a client) goes now.
        _signal_group(process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for a failure message."""
        log = self.root / "dovecot.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def log_matches(self, pattern: str, *, at_least: int) -> list[re.Match[str]]:
        """Wait (up to 10 s) until the log has ``at_least`` matches of ``pattern``; all of them."""
        async with asyncio.timeout(10):
            while True:
                log = await asyncio.to_thread(self.log_tail, 100_000)
                found = list(re.finditer(pattern, log))
                if len(found) >= at_least:
                    return found
                await asyncio.sleep(0.05)

    async def deliver(
        self,
        raw: bytes,
        *,
        user: str = "alice",
        folder: str = "INBOX",
        received: dt.datetime | None = None,
    ) -> None:
        """Append a message as ``user`` (``received`` sets its INTERNALDATE)."""
        stamp = imaplib.Time2Internaldate(received) if received is not None else None

        def append(imap: imaplib.IMAP4) -> None:
            _ok(imap.append(_quote(folder), "", stamp, raw))

        await self._as_user(user, append)

    async def deliver_many(self, raws: list[bytes], *, user: str = "alice") -> None:
        """Append many messages over one connection."""

        def append(imap: imaplib.IMAP4) -> None:
            for raw in raws:
                _ok(imap.append("INBOX", "", None, raw))

        await self._as_user(user, append)

    async def create_folder(self, name: str, *, user: str = "alice") -> None:
        """Create a mailbox."""
        await self._as_user(user, lambda imap: _ok(imap.create(_quote(name))))

    async def delete_folder(self, name: str, *, user: str = "alice") -> None:
        """Delete a mailbox with its mail."""
        await self._as_user(user, lambda imap: _ok(imap.delete(_quote(name))))

    async def seen_flags(self, *, user: str = "alice", folder: str = "INBOX") -> list[bool]:
        """Whether each message in ``folder`` is flagged ``\\Seen``, in UID order."""

        def flags(imap: imaplib.IMAP4) -> list[bool]:
            _ok(imap.select(_quote(folder), readonly=True))
            typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
            _ok((typ, data))
            return [b"\\Seen" in line for line in data if isinstance(line, bytes)]

        return await self._as_user(user, flags)

    async def _as_user(self, user: str, work: Callable[[imaplib.IMAP4], T]) -> T:
        def run() -> T:
            with imaplib.IMAP4("127.0.0.1", self.port, timeout=10) as imap:
                imap.login(user, self.users[user])
                return work(imap)

        return await asyncio.to_thread(run)

    @staticmethod
    async def _accepts(port: int) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _ok(answer: tuple[str, object]) -> None:
    if answer[0] != "OK":
        raise RuntimeError(f"IMAP said {answer!r}")


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Options:
    """What a test may change about the server."""

    idle_notify_seconds: int = 1
    """How often a client in IDLE hears "* OK Still here"."""
    capability: str | None = None
    """A CAPABILITY line replacing Dovecot's own after login (e.g. one without IDLE)."""
    connections_per_user: int = 10
    """``mail_max_userip_connections`` (Dovecot's default): a benchmark with many mailboxes of
    one user raises it."""


def _write_config(
    root: Path, port: int, tls_port: int, certs: Certificates, options: Options
) -> None:
    """The configuration, users and directories of a fresh instance."""
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "ca.pem").write_text(certs.ca_pem)
    (root / "cert.pem").write_text(certs.cert_pem)
    key = root / "key.pem"
    key.write_text(certs.key_pem)
    key.chmod(0o600)
    lines = [f"{user}:{{PLAIN}}{password}" for user, password in USERS.items()]
    (root / "passwd").write_text("\n".join(lines) + "\n")
    if os.geteuid() == 0:
        # Dovecot refuses mail access as root and drops privileges for its login and auth
        # processes, so those run as the package's users and the mail belongs to nobody.
        mail = pwd.getpwnam("nobody")
        internal, login, group = "dovecot", "dovenull", "dovecot"
        os.chown(root / "mail", mail.pw_uid, mail.pw_gid)
        root.chmod(0o755)
    else:
        mail = pwd.getpwuid(os.getuid())
        internal = login = mail.pw_name
        group = grp.getgrgid(mail.pw_gid).gr_name
    config = f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = hub-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1, 127.0.0.2
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {group}
first_valid_uid = 1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
imap_idle_notify_interval = {options.idle_notify_seconds} secs
{f"imap_capability = {options.capability}" if options.capability else ""}
mailbox_idle_check_interval = 1 secs
protocol imap {{
  mail_max_userip_connections = {options.connections_per_user}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
"""
    (root / "dovecot.conf").write_text(config)


@contextlib.asynccontextmanager
async def running_dovecot(options: Options | None = None) -> AsyncIterator[DovecotServer]:
    """Start a Dovecot in a throwaway directory; stop it and remove everything after."""
    # A short path under /tmp: Dovecot's sockets live in it (108 bytes at most), and the
    # unprivileged users it switches to must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
    port, tls_port = free_port(), free_port()
    while tls_port == port:
        tls_port = free_port()
    certs = await asyncio.to_thread(make_certificates)
    await asyncio.to_thread(_write_config, root, port, tls_port, certs, options or Options())
    server = DovecotServer(root=root, port=port, tls_port=tls_port, certificates=certs)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        await asyncio.to_thread(shutil.rmtree, root, True)


@pytest.fixture
async def dovecot() -> AsyncIterator[DovecotServer]:
    """A running Dovecot; the test is skipped when Dovecot is not installed."""
    need_dovecot()
    async with running_dovecot() as server:
        yield server


def need_dovecot() -> None:
    """Skip the calling test when Dovecot is not installed."""
    if not HAVE_DOVECOT:
        pytest.skip(SKIP_REASON)
