"""What every event of every context is: a frozen, versioned payload with a fixed type name.

The store keeps events forever, so a payload class is a storage contract: it names its
`event_type` and `schema_version`, and an older version stays readable through an upcaster
(registered with the context's events, collected in `shared.events.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class Actor(BaseModel):
    """Who made an event happen."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["citizen", "admin", "agency", "system"]
    id: str


class DomainEvent(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


# A function turning a stored payload of version N into the shape of version N+1.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(ValueError):
    """A stored event type this code does not know (written by a newer release)."""
