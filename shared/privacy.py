"""Contact details never leave notify's memory: masks for the delivery log, scrubbing for errors."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+")
_PHONE = re.compile(r"\+?\d[\d \-().]{5,}\d")
_URL_QUERY = re.compile(r"(https?://[^\s?#]+)\?[^\s]*")


def mask_phone(phone: str) -> str:
    """`+6281234567890` -> `+62*********90`: the country code and the last two digits."""
    digits = re.sub(r"[^\d]", "", phone)
    if len(digits) < 6:
        return "*" * len(digits)
    head = "+" + digits[:2] if phone.strip().startswith("+") else digits[:2]
    return head + "*" * (len(digits) - 4) + digits[-2:]


def mask_email(email: str) -> str:
    """`siti.rahma@example.co.id` -> `s***@e***.id`."""
    local, _, domain = email.partition("@")
    if not domain:
        return "***"
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return f"{local[:1]}***@{domain[:1]}***" + (f".{tld}" if tld else "")


def mask_handle(handle: str) -> str:
    return handle[:1] + "***" if handle else "***"


def scrub(text: str, limit: int = 300) -> str:
    """Remove anything that looks like an address from an error text (URLs lose their query,
    which holds the sendsms password and the receiver)."""
    text = _URL_QUERY.sub(r"\1?…", text)
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[number]", text)
    return text[:limit]
