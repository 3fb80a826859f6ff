"""The governance gate: a run's model must be cleared for the data an integration carries.

The one axis is the provider tier (unregulated 0 < regulated 1 < internal 2). An integration's
requirement is its manifest's ``required_tier``, unless an admin set another on the entry. The gate
is fail-closed: an unknown tier on either side refuses.
"""

from __future__ import annotations

from hub.integrations.entry import ConfigEntry
from hub.integrations.manifest import IntegrationManifest, Tier, parse_tier, tier_name


def tier_ok(provider_tier: object, required_tier: object) -> bool:
    """Whether a provider of ``provider_tier`` may see data that needs ``required_tier``."""
    try:
        return parse_tier(provider_tier) >= parse_tier(required_tier)
    except ValueError:
        return False  # fail closed: a tier nobody can read clears nothing


def effective_required_tier(manifest: IntegrationManifest, entry: ConfigEntry | None) -> Tier:
    """The entry's admin override if it has one, else the manifest's ``required_tier``.

    An override that cannot be read counts as the highest tier, so a damaged file never un-gates.
    """
    if entry is not None and entry.required_tier is not None:
        try:
            return parse_tier(entry.required_tier)
        except ValueError:
            return Tier.INTERNAL
    return manifest.required_tier


def refusal(provider_tier: object, required: Tier) -> str:
    """Why a model may not see an integration, in words a person understands."""
    try:
        have = tier_name(parse_tier(provider_tier))
    except ValueError:
        have = "unknown"
    return f"needs a model of tier {tier_name(required)} or above (this one is {have})"
