"""The desk's own errors: the edges translate them (403, 422 naming the field)."""

from __future__ import annotations

from typing import Any


class Forbidden(Exception):
    """The caller may not do this (403)."""


class Invalid(Exception):
    """Bad input that only the desk can judge (422), naming the field."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field
        self.msg = msg

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": ["body", self.field], "field": self.field, "msg": self.msg}]
