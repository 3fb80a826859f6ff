"""The presets: for each kind of sender, its signature scheme and a mapping that suits its bodies."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from hub.integrations.webhooks import Scheme

from .mapping import MappingSpec

Preset = Literal["hub", "github", "gitea", "standard_webhooks", "stripe", "custom"]
PRESETS: Final[tuple[Preset, ...]] = (
    "hub",
    "github",
    "gitea",
    "standard_webhooks",
    "stripe",
    "custom",
)
DEFAULT_PRESET: Final[Preset] = "hub"


@dataclass(frozen=True, slots=True)
class PresetInfo:
    """A preset: how its deliveries are signed and what its bodies are mapped to."""

    scheme: Scheme
    mapping: MappingSpec
    generates_secret: bool = True
    """False where the sender makes the secret (Stripe's ``whsec_…``): the person pastes it."""


# GitHub and Gitea/Forgejo send the same shapes: one entity per repository whose state is the
# last event ("push", "issues.opened"), with who did it and where.
# The page about the event itself where the body has one, else the repository's.
_URL: Final = (
    "head_commit.url || issue.html_url || pull_request.html_url || release.html_url"
    " || workflow_run.html_url || compare_url || compare || repository.html_url"
)
_REPOSITORY_ATTRIBUTES: Final = (
    ("action", "action"),
    ("conclusion", "workflow_run.conclusion || check_run.conclusion"),
    ("event", "event"),
    ("head_commit", "head_commit.message || commits[0].message"),
    ("ref", "ref"),
    ("sender", "sender.login"),
    ("title", "issue.title || pull_request.title || release.name || workflow_run.name"),
    ("url", _URL),
)


def _forge(event: str) -> MappingSpec:
    return MappingSpec(
        entity_id="repository.full_name",
        entity_name="repository.full_name",
        entity_state=f"join('.', [{event}, action][?@ != null])",
        entity_attributes=tuple(
            (key, event if key == "event" else expression)
            for key, expression in _REPOSITORY_ATTRIBUTES
        ),
        event_type=event,
        event_data=(
            "{action: action, repository: repository.full_name, sender: sender.login,"
            f" ref: ref, url: {_URL}}}"
        ),
        optional_ids=True,
    )


GITHUB_EVENT: Final = "header('x-github-event')"
GITEA_EVENT: Final = "header('x-gitea-event') || header('x-forgejo-event')"

PRESET_INFO: Final[dict[Preset, PresetInfo]] = {
    "hub": PresetInfo(scheme="hub", mapping=MappingSpec(), generates_secret=False),
    "github": PresetInfo(scheme="github", mapping=_forge(GITHUB_EVENT)),
    "gitea": PresetInfo(scheme="gitea", mapping=_forge(GITEA_EVENT)),
    "standard_webhooks": PresetInfo(
        scheme="standard_webhooks", mapping=MappingSpec(event_type="type", event_data="data")
    ),
    "stripe": PresetInfo(
        scheme="stripe",
        mapping=MappingSpec(event_type="type", event_data="data.object"),
        generates_secret=False,
    ),
    "custom": PresetInfo(scheme="custom", mapping=MappingSpec()),
}


def preset_of(data: dict[str, object] | None) -> Preset:
    """The entry's preset; entries made before presets existed are ``hub``."""
    value = (data or {}).get("preset")
    return value if value in PRESETS else DEFAULT_PRESET


def new_secret() -> str:
    """A fresh signing secret, ``whsec_<base64>``: valid for Standard Webhooks, fine for any HMAC."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")
