"""Response headers that keep LAPOR's pages and files safe in the browser."""

from __future__ import annotations

from types import MappingProxyType

# Citizens' pages: own scripts and styles only; no framing; no foreign form targets.
PUBLIC_PAGE_HEADERS = MappingProxyType(
    {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
)

# Staff consoles: never cached, no referrer (tracking IDs are in their URLs).
STAFF_PAGE_HEADERS = MappingProxyType(
    {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    }
)

# An uploaded file served back: never run, never sniffed, never cached by others.
FILE_HEADERS = MappingProxyType(
    {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
)
