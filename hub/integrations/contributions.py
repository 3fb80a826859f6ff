"""Custom event types and world-memory relation types that integrations declare, checked by the rules."""

from __future__ import annotations

import logging
from typing import Any, Final

from hub.integrations.loader import LoadedIntegration

_LOGGER = logging.getLogger(__name__)

CORE_PREDICATES: Final = frozenset(
    {"is_a", "part_of", "located_in", "member_of", "owns", "related_to", "knows", "depends_on"}
)
"""The hub's own predicates: unprefixed, and never registrable by an integration."""
POLICY_PREFIXES: Final = ("can_", "may_", "allowed_", "policy_", "permission_", "capability_")
"""Capability and policy predicates decide what an agent may do: no integration may define one."""


def event_types(item: LoadedIntegration) -> list[dict[str, Any]]:
    """The integration's declared events, as the catalog stores them; a broken hook declares none."""
    try:
        declared = item.integration.event_types()
    except Exception:  # one integration's bug must not break the catalog
        _LOGGER.exception("event_types() of %s failed", item.domain)
        return []
    found = []
    for key, descriptor in sorted(declared.items()):
        if key != descriptor.event_type:
            _LOGGER.warning(
                "%s declares event %r under the key %r; skipped",
                item.domain,
                descriptor.event_type,
                key,
            )
            continue
        found.append(
            {
                "event_type": descriptor.event_type,
                "name": descriptor.name,
                "description": descriptor.description,
                "payload": [field.name for field in descriptor.payload_schema],
            }
        )
    return found


def relation_types(item: LoadedIntegration) -> list[dict[str, Any]]:
    """The integration's relation types under the specification's rules.

    Keys must be ``<its own domain>:predicate``; core and policy predicates are refused; an
    untrusted integration's inference flags are clamped off, so attacker-influenced data cannot
    make the hub infer facts transitively or symmetrically.
    """
    try:
        declared = item.integration.relation_types()
    except Exception:  # one integration's bug must not break the catalog
        _LOGGER.exception("relation_types() of %s failed", item.domain)
        return []
    untrusted = item.manifest.trust_tier == "untrusted"
    found = []
    for key, descriptor in sorted(declared.items()):
        namespace, _, predicate = descriptor.key.partition(":")
        problem = None
        if key != descriptor.key:
            problem = f"declared under the key {key!r}"
        elif namespace != item.domain:
            problem = f"must be namespaced {item.domain}:<predicate>"
        elif predicate in CORE_PREDICATES:
            problem = "is a core predicate"
        elif predicate.startswith(POLICY_PREFIXES):
            problem = "is a capability or policy predicate"
        if problem:
            _LOGGER.warning(
                "Relation type %r of %s refused: %s", descriptor.key, item.domain, problem
            )
            continue
        found.append(
            {
                "key": descriptor.key,
                "name": descriptor.name,
                "description": descriptor.description,
                "is_transitive": descriptor.is_transitive and not untrusted,
                "is_symmetric": descriptor.is_symmetric and not untrusted,
            }
        )
    return found
