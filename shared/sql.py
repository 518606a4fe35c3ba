"""What the read models' queries share (SQLite, values always as parameters)."""

from __future__ import annotations


def where_equal(**columns: object) -> tuple[str, list[object]]:
    """` WHERE a = ? AND b = ?` for the columns given a value (not None), or "" when none is, and
    the values in the same order. Column names come from code, never from a request."""
    given = {name: value for name, value in columns.items() if value is not None}
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{name} = ?" for name in given), list(given.values())
