"""The world memory's typed errors: each a stable code the UI and the agent's tools switch on."""

from __future__ import annotations

from hub.core.errors import (
    MEMORY_FACT_NOT_FOUND,
    MEMORY_FORBIDDEN,
    MEMORY_INVALID,
    MEMORY_KIND_UNKNOWN,
    MEMORY_LIMIT,
    MEMORY_NODE_EXISTS,
    MEMORY_NODE_NOT_FOUND,
    MEMORY_NODE_REQUIRED,
    MEMORY_PREDICATE_UNKNOWN,
    MEMORY_RELATION_NOT_FOUND,
    BadRequestError,
    ForbiddenError,
    HubError,
    NotFoundError,
)


class NodeNotFoundError(NotFoundError):
    """No node with that id the caller may see."""

    code = MEMORY_NODE_NOT_FOUND


class FactNotFoundError(NotFoundError):
    """No fact with that id the caller may see."""

    code = MEMORY_FACT_NOT_FOUND


class RelationNotFoundError(NotFoundError):
    """No relation with that id the caller may see."""

    code = MEMORY_RELATION_NOT_FOUND


class NodeRequiredError(BadRequestError):
    """A fact names no node (nor a subject to find or make one)."""

    code = MEMORY_NODE_REQUIRED


class NodeExistsError(HubError):
    """The owner has a node of that kind and name already."""

    code = MEMORY_NODE_EXISTS
    http_status = 409


class PredicateUnknownError(BadRequestError):
    """Neither a core predicate nor one a loaded integration registered."""

    code = MEMORY_PREDICATE_UNKNOWN


class KindUnknownError(BadRequestError):
    """Neither a core kind nor a ``world_kind`` of a loaded integration."""

    code = MEMORY_KIND_UNKNOWN


class MemoryInvalidError(BadRequestError):
    """A name, alias or text out of bounds, or rows that cannot go together."""

    code = MEMORY_INVALID


class MemoryLimitError(BadRequestError):
    """The person holds as many facts as the memory keeps per person."""

    code = MEMORY_LIMIT


class MemoryForbiddenError(ForbiddenError):
    """A household row changed by a member who did not make it."""

    code = MEMORY_FORBIDDEN
