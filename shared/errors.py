"""The base of every domain error: a command the rules do not allow.

A message of the form "field: what is wrong" names the field; the HTTP edge answers 400 with it.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command the rules do not allow."""
