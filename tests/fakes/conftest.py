"""The fakes' own tests talk to them on 127.0.0.1 through real pydantic-ai models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _model_requests_to_the_fake() -> Iterator[None]:
    from pydantic_ai import models

    before, models.ALLOW_MODEL_REQUESTS = models.ALLOW_MODEL_REQUESTS, True
    yield
    models.ALLOW_MODEL_REQUESTS = before
