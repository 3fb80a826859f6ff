"""Fixtures for the email integration: a real Dovecot (IMAP) and a real aiosmtpd (SMTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HubConfig
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub
from tests.support.dovecot import (
    HAVE_DOVECOT,
    SKIP_REASON,
    DovecotServer,
    running_dovecot,
)
from tests.support.dovecot import dovecot as dovecot
from tests.support.smtp import SmtpServer, running_smtp
from tests.support.smtp import smtp as smtp

Servers = tuple[DovecotServer, SmtpServer]


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    """Dovecot and aiosmtpd under one throwaway CA, as one self-hosted mail server would be."""
    if not HAVE_DOVECOT:
        pytest.skip(SKIP_REASON)
    async with running_dovecot() as imap, running_smtp(imap.certificates) as smtp:
        yield imap, smtp


@pytest.fixture
async def hub(tmp_path: Path, aiohttp_client: AiohttpClient) -> BundledHub:
    """A started hub with the bundled integrations; the owner (an admin) signed in.

    A test that also wants ``servers`` names them first, so the hub stops before they do.
    """
    app = create_app(tmp_path / "config", HubConfig(), env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return BundledHub(client)
