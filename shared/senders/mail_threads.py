"""How LAPOR's mails about a report name it, so a reply finds its way back to the report.

Every mail about a report (intake's confirmation, notify's notices) carries a Message-ID with the
report's tracking ID, refers to one thread root per report (mail clients group the mails), and,
where LAPOR reads replies, a Reply-To address with the ID (`lapor+<ID>@…`). Intake's e-mail channel
reads these back (services/intake/channels/email_replies.py).
"""

from __future__ import annotations


def thread_message_id(tracking_id: str, unique: str, domain: str) -> str:
    """A Message-ID for one of LAPOR's mails about a report: a reply names the report with it."""
    return f"<lapor-{tracking_id}-{unique}@{domain}>"


def thread_root(tracking_id: str, domain: str) -> str:
    """One Message-ID every mail about a report refers to, so mail clients thread them."""
    return f"<lapor-{tracking_id}-thread@{domain}>"


def reply_address(address: str, tracking_id: str) -> str:
    """`lapor@host` -> `lapor+<ID>@host`: a reply to it names the report."""
    local, at, domain = address.partition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}+{tracking_id}@{domain}"
