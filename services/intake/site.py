"""The citizen's site around every page: its templates (Jinja2 with the shared catalogs and the one
way to say time), the static files' version, and the error page for requests the pages' own code
never saw (a path that is not there, a body too large, a crash)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from shared.http.security import PUBLIC_PAGE_HEADERS
from shared.i18n.jinja import language_of, page_context, page_environment

HERE = Path(__file__).parent
STATIC = {"lapor.css": "text/css", "lapor.js": "text/javascript", "uploads.js": "text/javascript"}
LANG_COOKIE = "lapor_lang"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return page_environment(HERE / "templates")


@lru_cache(maxsize=1)
def static_files_version() -> str:
    return hashlib.sha256(
        b"".join((HERE / "static" / name).read_bytes() for name in STATIC)
    ).hexdigest()[:10]


def error_html(language: str, status: int, key: str, values: Mapping[str, Any]) -> str:
    """An error page in the site's style, for a request the pages' own code never saw (a path
    that is not there, a body too large, a crash)."""
    return (
        environment()
        .get_template("error.html")
        .render(
            **page_context(language),
            path="/",
            static_version=static_files_version(),
            message=key,
            message_values=dict(values),
            status=status,
        )
    )


def error_page(
    request: Request, status: int, key: str, headers: dict[str, str], values: dict[str, Any]
) -> HTMLResponse:
    response = HTMLResponse(
        error_html(language_of(request, LANG_COOKIE), status, key, values),
        status_code=status,
        headers=headers,
    )
    response.headers.update(PUBLIC_PAGE_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response
