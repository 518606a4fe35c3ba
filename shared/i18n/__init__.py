"""Every word LAPOR says to a person, in Bahasa Indonesia first and English second.

The texts live in gettext catalogs (`locale/<lang>/LC_MESSAGES/messages.po`), one per language,
read with Babel; code and templates name a text by its key (`nav.home`, `notice.received.sms`)
and pass the values it mentions by name:

    t = translator("id")
    t("notice.forwarded.subject", tracking_id="7KQ3…", agency="Dinas Kesehatan Kota Kupang")

Keys are extracted from the code and templates (`python -m shared.i18n extract`, configured in
`babel.cfg`); `tests/unit/test_i18n.py` fails when a key has no text in a language or a catalog
holds a key nobody uses. Keys built at run time (`status.<value>`) are marked once in
`shared/i18n/labels.py` with `N_`. A catalog is read on first use (a few milliseconds), so
importing this module costs nothing at start-up.

Times: `shared/i18n/dates.py` says them in the report's own zone (WIB/WITA/WIT), labelled, with
Indonesian month names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def N_(key: str) -> str:
    """Mark a key for extraction where it is used later through a variable."""
    return key


def normalize_language(language: str | None) -> str:
    """`id`, `en`; anything else (`en-US`, `EN`, None, `fr`) becomes the closest of those."""
    if not language:
        return DEFAULT_LANGUAGE
    code = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=len(LANGUAGES))
def catalog(language: str) -> Mapping[str, str]:
    """The texts of one language by key (read from its .po file once per process)."""
    from babel.messages.pofile import read_po

    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language, domain=DOMAIN)
    texts: dict[str, str] = {}
    for message in parsed:
        if isinstance(message.id, str) and isinstance(message.string, str) and message.string:
            texts[message.id] = message.string
    return texts


def text(language: str, key: str, /, **values: Any) -> str:
    """The text of `key` in `language` (Indonesian when that language lacks it; the key itself
    when no catalog has it), with `%(name)s` placeholders filled from `values`."""
    lang = normalize_language(language)
    found = catalog(lang).get(key)
    if found is None and lang != DEFAULT_LANGUAGE:
        found = catalog(DEFAULT_LANGUAGE).get(key)
    if found is None:
        return key
    if not values:
        return found
    try:
        return found % values
    except (KeyError, ValueError, TypeError):
        return found


class Translator(Protocol):
    language: str

    def __call__(self, key: str, /, **values: Any) -> str: ...


class _Translator:
    __slots__ = ("language",)

    def __init__(self, language: str) -> None:
        self.language = normalize_language(language)

    def __call__(self, key: str, /, **values: Any) -> str:
        return text(self.language, key, **values)

    def __repr__(self) -> str:
        return f"translator({self.language!r})"


def translator(language: str | None) -> Translator:
    """`t(key, **values)` in one language."""
    return _Translator(normalize_language(language))


def both(key: str, /, **values: Any) -> str:
    """`Indonesian / English` in one string, for the rare place that cannot know the reader's
    language (an SMTP answer, a plain-text reply to an unknown sender)."""
    first, second = text("id", key, **values), text("en", key, **values)
    return first if first == second else f"{first} / {second}"


def label_of(prefix: str) -> Callable[[str, str | None], str]:
    """`label_of("status")("closed", "id")` -> the text of `status.closed` (the value itself when
    it has none): the names of domain values (statuses, channels, reasons) in a language."""

    def label(value: str, language: str | None = None) -> str:
        key = f"{prefix}.{value}"
        found = text(normalize_language(language), key)
        return value if found == key else found

    return label


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Translator",
    "both",
    "catalog",
    "label_of",
    "normalize_language",
    "text",
    "translator",
]
