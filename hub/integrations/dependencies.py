"""Load order from manifests: hard ``dependencies`` first, soft ``after_dependencies`` when possible."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from hub.integrations.manifest import IntegrationManifest

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DependencyProblem:
    """Why a domain cannot load: a missing dependency, or membership of a dependency cycle."""

    message: str
    cycle: bool = False


def order_by_dependencies(
    manifests: Mapping[str, IntegrationManifest],
) -> tuple[list[str], dict[str, DependencyProblem]]:
    """Return the load order and the domains dropped, each with its problem.

    A missing hard dependency drops the domain and, transitively, everything that needs it. A cycle
    of hard dependencies drops its members and what depends on them. ``after_dependencies`` only
    order; a cycle among them is broken (alphabetically) rather than dropping anything. Ties are
    broken by domain name, so the order is the same on every start.
    """
    problems: dict[str, DependencyProblem] = {}
    present = set(manifests)
    _drop_missing(manifests, present, problems)
    for domain, cycle in _cycles(manifests, present).items():
        problems[domain] = DependencyProblem(f"dependency cycle: {' → '.join(cycle)}", cycle=True)
        present.discard(domain)
    _drop_missing(manifests, present, problems)
    return _topological(manifests, present), problems


def _drop_missing(
    manifests: Mapping[str, IntegrationManifest],
    present: set[str],
    problems: dict[str, DependencyProblem],
) -> None:
    changed = True
    while changed:
        changed = False
        for domain in sorted(present):
            missing = [dep for dep in manifests[domain].dependencies if dep not in present]
            if not missing:
                continue
            reasons = [
                f"{dep}, which was not loaded ({problems[dep].message})"
                if dep in problems
                else f"{dep}, which is not installed"
                for dep in missing
            ]
            problems[domain] = DependencyProblem(f"depends on {'; '.join(reasons)}")
            present.discard(domain)
            changed = True


def _cycles(
    manifests: Mapping[str, IntegrationManifest], present: set[str]
) -> dict[str, list[str]]:
    """Each domain that can reach itself through hard dependencies, with one such cycle."""
    found: dict[str, list[str]] = {}
    for start in sorted(present):
        path = _path_back(manifests, present, start)
        if path is not None:
            found[start] = path
    return found


def _path_back(
    manifests: Mapping[str, IntegrationManifest], present: set[str], start: str
) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        domain, path = stack.pop()
        for dep in sorted(manifests[domain].dependencies, reverse=True):
            if dep == start:
                return [*path, start]
            if dep in present and dep not in seen:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return None


def _topological(manifests: Mapping[str, IntegrationManifest], present: set[str]) -> list[str]:
    waiting: dict[str, set[str]] = {}
    dependents: dict[str, set[str]] = {domain: set() for domain in present}
    for domain in present:
        manifest = manifests[domain]
        deps = {d for d in (*manifest.dependencies, *manifest.after_dependencies) if d in present}
        if deps:
            waiting[domain] = deps
        for dep in deps:
            dependents[dep].add(domain)
    ready = [domain for domain in present if domain not in waiting]
    heapq.heapify(ready)
    order: list[str] = []
    while ready or waiting:
        if not ready:
            # Only soft edges can close a cycle here (hard cycles were dropped), and some waiting
            # domain has no hard dependency left: load the first such one despite its soft ones.
            domain = min(
                d for d, deps in waiting.items() if not deps & set(manifests[d].dependencies)
            )
            _LOGGER.warning(
                "after_dependencies of %s form a cycle (%s); loading it first anyway",
                domain,
                ", ".join(sorted(waiting.pop(domain))),
            )
            heapq.heappush(ready, domain)
        domain = heapq.heappop(ready)
        order.append(domain)
        for other in dependents[domain]:
            remaining = waiting.get(other)
            if remaining is not None:
                remaining.discard(domain)
                if not remaining:
                    del waiting[other]
                    heapq.heappush(ready, other)
    return order
