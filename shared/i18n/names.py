"""Names of the places and categories a report mentions, in the reader's language (read from
the shared data on first use, so importing this costs nothing)."""

from __future__ import annotations

from shared.i18n import normalize_language


def region_name(code: str | None) -> str:
    """`Kota Kupang, Nusa Tenggara Timur` for 5371; the code itself when it is not known."""
    if not code:
        return ""
    from shared.regions import regions  # lazily: the region list loads on first use

    return regions().label(code)


def category_name(code: str | None, language: str | None = "id") -> str:
    """`Kesehatan` / `Health` for `kesehatan`; the code itself when the list does not know it."""
    if not code:
        return ""
    from shared.directory.model import load_categories  # lazily, like the regions

    try:
        found = {c.code: c for c in load_categories()}.get(code)
    except (OSError, ValueError):  # shared data: a broken file must not break a page
        return code
    if found is None:
        return code
    return found.name_en if normalize_language(language) == "en" else found.name


__all__ = ["category_name", "region_name"]
