"""Keeping the catalogs current: extract the keys the code and templates use (Babel, configured
by `babel.cfg` at the repository root) and compare them with `locale/<lang>/…/messages.po`.

    python -m shared.i18n extract   # add new keys (empty texts to fill in), drop unused ones
    python -m shared.i18n check     # exit 1 naming every key without a text, or unused

The .po files are written sorted by key, without source locations, so two branches that add
texts merge without conflicts in unrelated lines. Only for developers and the tests: services
never import this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shared.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = LOCALE_DIR.parents[2]
MAPPING_FILE = ROOT / "babel.cfg"
KEYWORDS = {"t": None, "_": None, "gettext": None, "N_": None}
# A key: a lower-case word, or words joined by dots (`back`, `notice.received.sms`).
KEY = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_\-]+)*$")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


@dataclass
class Found:
    key: str
    where: list[str] = field(default_factory=list)


def extract(root: Path = ROOT) -> dict[str, Found]:
    """Every key used in the code and templates, with where it is used."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with MAPPING_FILE.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    found: dict[str, Found] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=KEYWORDS,
        directory_filter=lambda path: not Path(path).name.startswith("."),
    ):
        if not isinstance(message, str) or not KEY.match(message):
            continue  # `_("…")` with free text is some other library's gettext, not ours
        found.setdefault(message, Found(message)).where.append(f"{filename}:{lineno}")
    return found


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    path = po_path(language)
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language, domain=DOMAIN)
    return {str(m.id): (m.string if isinstance(m.string, str) else "") for m in parsed if m.id}


def write(language: str, texts: dict[str, str]) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    stable = datetime(2026, 1, 1, tzinfo=UTC)  # fixed dates in the header: no churn in diffs
    catalog = Catalog(
        locale=language,
        domain=DOMAIN,
        project="LAPOR",
        version="1",
        charset="utf-8",
        creation_date=stable,
        revision_date=stable,
        last_translator="LAPOR",
        language_team="LAPOR",
        fuzzy=False,
        header_comment=(
            f"# LAPOR's texts in {language}: write each msgstr; the msgid is the key in the code.\n"
            "# Keys come and go with `python -m shared.i18n extract` (shared/i18n/catalogs.py)."
        ),
    )
    for key in sorted(texts):
        flags = ("python-format",) if PLACEHOLDER.search(texts[key]) else ()
        catalog.add(key, texts[key], flags=flags)
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, no_location=True, sort_output=True)


def update(keys: Iterable[str]) -> dict[str, list[str]]:
    """Bring every catalog to exactly `keys`: new ones with an empty text, unused ones dropped.
    Returns, per language, the keys that still need a text."""
    wanted = set(keys)
    missing: dict[str, list[str]] = {}
    for language in LANGUAGES:
        current = read(language)
        texts = {k: current.get(k, "") for k in wanted}
        write(language, texts)
        missing[language] = sorted(k for k, v in texts.items() if not v)
    return missing


def problems(root: Path = ROOT) -> list[str]:
    """What is wrong with the catalogs, one line each (none: complete and current)."""
    used = extract(root)
    found: list[str] = []
    for language in LANGUAGES:
        texts = read(language)
        for key in sorted(set(used) - set(texts)):
            where = ", ".join(used[key].where[:3])
            found.append(f"{language}: {key} is used ({where}) but not in the catalog")
        for key in sorted(set(texts) - set(used)):
            found.append(f"{language}: {key} is in the catalog but nothing uses it")
        for key in sorted(set(texts) & set(used)):
            if not texts[key].strip():
                found.append(f"{language}: {key} has no text")
    reference = read(LANGUAGES[0])
    for language in LANGUAGES[1:]:
        texts = read(language)
        for key in sorted(set(reference) & set(texts)):
            a = set(PLACEHOLDER.findall(reference[key]))
            b = set(PLACEHOLDER.findall(texts[key]))
            if a != b:
                found.append(
                    f"{language}: {key} mentions {sorted(b)} where {LANGUAGES[0]} mentions"
                    f" {sorted(a)}"
                )
    return found
