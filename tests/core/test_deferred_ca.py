"""TLS client contexts made during start-up's imports read the CA certificates on first use."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.core.deferred_ca import DeferredCAContext, deferred_default_certificates

SYSTEM_CAS = ssl.create_default_context().cert_store_stats()["x509_ca"]


def test_contexts_made_in_the_block_defer_and_later_ones_do_not() -> None:
    with deferred_default_certificates():
        deferred = ssl.create_default_context()
    after = ssl.create_default_context()
    assert type(deferred) is DeferredCAContext
    assert deferred.cert_store_stats()["x509_ca"] == 0
    assert deferred.verify_mode == ssl.CERT_REQUIRED
    assert deferred.check_hostname
    assert type(after) is ssl.SSLContext
    assert after.cert_store_stats()["x509_ca"] == SYSTEM_CAS


@pytest.mark.skipif(SYSTEM_CAS == 0, reason="this system has no default CA certificates")
def test_the_first_wrap_loads_the_system_certificates() -> None:
    with deferred_default_certificates():
        by_bio, by_socket = ssl.create_default_context(), ssl.create_default_context()
    by_bio.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.org")
    with by_socket.wrap_socket(socket.socket(), server_hostname="example.org"):
        pass
    for context in (by_bio, by_socket):
        assert type(context) is ssl.SSLContext
        assert context.cert_store_stats()["x509_ca"] == SYSTEM_CAS


def test_aiohttps_own_client_contexts_are_deferred_when_imported_in_the_block() -> None:
    code = (
        "from hub.core.deferred_ca import deferred_default_certificates\n"
        "with deferred_default_certificates():\n"
        "    import aiohttp.connector as c\n"
        "print(type(c._SSL_CONTEXT_VERIFIED).__name__, type(c._SSL_CONTEXT_UNVERIFIED).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["DeferredCAContext", "DeferredCAContext"]


async def test_a_deferred_context_verifies_like_any_other(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    url = f"https://localhost:{port}/"
    with deferred_default_certificates():
        untrusting, trusting = ssl.create_default_context(), ssl.create_default_context()
    trusting.load_verify_locations(cert)
    async with server, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(url, ssl=untrusting)
        async with session.get(url, ssl=trusting) as resp:
            assert await resp.text() == "ok"
    assert type(untrusting) is ssl.SSLContext
    assert type(trusting) is ssl.SSLContext


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
