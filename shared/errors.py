"""The base of every domain error: a command the rules do not allow.

A message of the form "field: what is wrong" names the field; the HTTP edge answers 400 with it.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command the rules do not allow."""


class InvalidInput(DomainError):
    """A command whose content is wrong for this report ("until: after the due date…"): the HTTP
    edge answers 422 naming the field, like any other invalid input."""

    source = "body"  # where the field is: the body, or a request header

    def extra(self) -> dict[str, object]:
        """More for the answer's detail beside field and msg (e.g. a suggested value)."""
        return {}


class KeyReused(InvalidInput):
    """An Idempotency-Key sent again with a different request: the first request stands, and
    the second is refused rather than answered as if it had been stored."""

    source = "header"
