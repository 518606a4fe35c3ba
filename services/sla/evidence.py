"""The evidence pack: a report's whole audit trail, signed, as proof of a prior complaint.

The JSON document (``format: lapor-evidence/1``) holds
    * ``report``: a summary (status, title, category, region, institution, dates) — never who
      reported: the reporter's identity stays encrypted inside the trail as stored;
    * ``deadlines``: the report's SLA deadlines as the sla service counts them;
    * ``trail``: every stored event of the report's stream, exactly as stored (envelope, data,
      ``prev_hash``, ``hash``), in stream order;
    * ``chain``: the hash chain check of the trail (``shared.store.chain.verify_chain``): anyone
      can recompute every ``hash`` from the event and its ``prev_hash`` (SHA-256 over the
      canonical JSON of the envelope, see ``shared/store/hashing.py``), starting from 64 zeros;
    * ``trail_sha256``: SHA-256 of the canonical JSON of ``trail``;
    * ``signature``: Ed25519 over the canonical JSON (sorted keys, no spaces, UTF-8) of the whole
      document without its ``signature`` member. The public key is served at
      ``GET /api/v1/evidence-key`` (the key is shared/signing.py's, which also signs the store's
      audit checkpoints); ``key_id`` is the first 16 hex digits of the SHA-256 of the
      raw 32-byte public key.

EscalatedToOmbudsman carries ``evidence_sha256``: the SHA-256 of the canonical JSON of the trail
*before* the escalation (``trail_sha256(events)`` at that moment), so a pack fetched later proves
what the Ombudsman was sent: ``sha256(canonical_json(trail[:k]))`` where k is
``escalation.evidence_covers_versions`` (normally the escalation's ``stream_version - 1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.i18n import dates, normalize_language
from shared.i18n.jinja import page_context, page_environment
from shared.i18n.labels import limit_words
from shared.reports.deadlines import ReportDeadlines
from shared.reports.lifecycle import ReportState
from shared.store.chain import GENESIS, digest, trail_digest, verify_chain
from shared.store.port import RecordedEvent

FORMAT = "lapor-evidence/1"
TEMPLATES = Path(__file__).resolve().parent / "templates"


def trail_entry(event: RecordedEvent) -> dict[str, Any]:
    """One event exactly as stored: what its hash was computed over, plus the hashes."""
    return event.stored_form()


def sha256_of(value: Any) -> str:
    return digest(value)


def trail_sha256(events: Sequence[RecordedEvent]) -> str:
    """The digest EscalatedToOmbudsman records: SHA-256 of the canonical JSON of the trail."""
    return trail_digest([trail_entry(e) for e in events])


def check_chain(stream: str, trail: Sequence[dict[str, Any]]) -> dict[str, Any]:
    problems = verify_chain(stream, trail)
    return {
        "algorithm": "SHA-256 over the canonical JSON of each envelope, linked by prev_hash",
        "genesis": GENESIS,
        "length": len(trail),
        "head": trail[-1]["hash"] if trail else GENESIS,
        "verified": not problems,
        "problems": [str(p) for p in problems],
    }


# --- the document -----------------------------------------------------------------------------
def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def build_document(
    state: ReportState,
    events: Sequence[RecordedEvent],
    deadlines: ReportDeadlines,
    *,
    generated_at: datetime,
    ombudsman_office: dict[str, str] | None,
) -> dict[str, Any]:
    """The unsigned evidence document (see the module docstring)."""
    trail = [trail_entry(e) for e in events]
    stream = events[0].stream if events else ""
    submitted = events[0].data if events else {}
    escalation = next((e for e in events if e.event_type == "EscalatedToOmbudsman"), None)
    return {
        "format": FORMAT,
        "tracking_id": state.tracking_id,
        "generated_at": generated_at.isoformat(),
        "report": {
            "status": state.status.value,
            "classification": state.classification.value,
            "title": state.title,
            "body": submitted.get("body"),
            "category": state.category,
            "region_code": state.region_code,
            "agency_code": state.agency_code,
            "channel": state.channel.value,
            "anonymous": state.anonymous,
            "confidential": state.confidential,
            "submitted_at": _iso(state.submitted_at),
            "verified_at": _iso(state.verified_at),
            "forwarded_at": _iso(state.forwarded_at),
            "first_follow_up_at": _iso(state.first_follow_up_at),
            "closed_at": _iso(state.closed_at),
            "sla_breaches": sorted(stage.value for stage in state.breached),
            "escalated": state.escalated,
        },
        "ombudsman_office": ombudsman_office,
        "escalation": None
        if escalation is None
        else {
            "occurred_at": escalation.occurred_at.isoformat(),
            "stream_version": escalation.stream_version,
            "ombudsman_office": escalation.data.get("ombudsman_office"),
            "evidence_sha256": escalation.data.get("evidence_sha256"),
            "evidence_covers_versions": _covered(trail, escalation),
        },
        "deadlines": [
            {
                "stage": d.stage.value,
                "cycle": d.cycle,
                "agency_code": d.agency_code,
                "limit": str(d.limit),
                "started_at": d.start.at.isoformat(),
                "due": d.due.isoformat() if d.due else None,
                "deadline": _iso(d.deadline_end),
                "state": d.state(generated_at).value,
                "ended_at": _iso(d.ended.at if d.ended else None),
                "breach_recorded": d.breach_recorded,
            }
            for d in deadlines.deadlines
        ],
        "trail": trail,
        "trail_sha256": sha256_of(trail),
        "chain": check_chain(stream, trail),
    }


def with_checkpoint(document: dict[str, Any], vouched: dict[str, Any] | None) -> dict[str, Any]:
    """The document with `checkpoint`: the newest head of the report's stream a signed store
    checkpoint vouched for (its Merkle proof, the checkpoint's signed part and signature; see
    shared/audit/checkpoints.py `head_evidence_holds`), and `chain` telling whether the trail
    still holds that head. Null: no checkpoint covers the report yet (its first seconds)."""
    chain = dict(document["chain"])
    trail = document["trail"]
    if vouched is not None:
        if vouched.get("missing"):
            problem = (
                f"the signed checkpoint at position {vouched['position']} that vouched for this"
                " trail is missing from the store"
            )
        else:
            head = vouched["head"]
            held = {e["stream_version"]: e["hash"] for e in trail}.get(head["version"])
            problem = None
            if held != head["hash"]:
                newest = max((e["stream_version"] for e in trail), default=0)
                problem = (
                    f"{head['stream']}: its newest event(s) were deleted: v{head['version']}"
                    f" ({head['hash'][:12]}…) was vouched for by the signed checkpoint at position"
                    f" {vouched['position']}, the trail ends at v{newest}"
                    if held is None and newest < head["version"]
                    else f"{head['stream']} v{head['version']}: not the event the signed"
                    f" checkpoint at position {vouched['position']} vouched for"
                )
        if problem:
            chain["problems"] = [*chain["problems"], problem]
            chain["verified"] = False
    return document | {"chain": chain, "checkpoint": vouched}


def _covered(trail: Sequence[dict[str, Any]], escalation: RecordedEvent) -> int | None:
    """How many events (from version 1) the escalation's evidence_sha256 covers.

    Normally all before the escalation; fewer when another event (a breach the ticker recorded
    at the same moment) slipped in between the reporter's request and the append.
    """
    digest = escalation.data.get("evidence_sha256")
    for count in range(escalation.stream_version - 1, 0, -1):
        if sha256_of(list(trail[:count])) == digest:
            return count
    return None


_SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "ReportSubmitted": ("classification", "category", "channel"),  # the title heads the page
    "ReportCompletionRequested": ("note",),
    "ReportAmended": ("text",),
    "ReportVerified": ("classification", "category", "region_code", "requires_field_inspection"),
    "ReportRejected": ("reason", "note"),
    "ReportPostponed": ("until", "note"),
    "ReportReferred": ("to_region", "note"),
    "ForwardedToOPD": ("agency_code", "agency_name", "follow_up_due"),
    "ReportReturned": ("agency_code", "reason", "note"),
    "ReportTransferred": ("from_agency", "to_agency", "follow_up_due"),
    "FollowUpPosted": ("agency_code", "kind", "text"),
    "ReporterReplied": ("text",),
    "ReportClosed": ("reason", "note"),
    "ReportRated": ("rating",),
    "ReportReopened": ("reason", "agency_code"),
    "SlaBreached": ("stage", "due", "agency_code"),
    "EscalatedToOmbudsman": ("ombudsman_office",),  # its evidence_sha256: under authenticity
}

_environment = page_environment(TEMPLATES)
# The pack's limits as the document states them ("3 working days", "14 calendar days").
_LIMIT = re.compile(r"(\d+) (working|calendar) days?")


def limit_text(limit: str, language: str) -> str:
    """A deadline's limit in the reader's language (as stated when it is not of that form)."""
    found = _LIMIT.fullmatch(limit)
    if found is None:
        return limit
    return limit_words(int(found[1]), found[2], language)


def render_html(document: dict[str, Any], language: str = "id") -> str:
    """A readable, printable page of a signed evidence document, in the reader's language; every
    time in the report's own zone (WIB/WITA/WIT), labelled, with the month by name."""
    report = document["report"]
    region = report.get("region_code")
    lang = normalize_language(language)

    def local(text: str | None) -> str:
        return dates.when(text, region, lang) if text else "—"

    agency_name = None
    for e in document["trail"]:
        data = e["data"]
        if e["event_type"] == "ForwardedToOPD" and data.get("agency_code") == report.get(
            "agency_code"
        ):
            agency_name = data.get("agency_name")
        elif e["event_type"] in ("ReportTransferred", "ReportDelegated") and data.get(
            "to_agency"
        ) == report.get("agency_code"):
            agency_name = data.get("to_agency_name")
    names = {
        str(code): str(name)
        for e in document["trail"]
        for code, name in (
            (e["data"].get("agency_code"), e["data"].get("agency_name")),
            (e["data"].get("to_agency"), e["data"].get("to_agency_name")),
        )
        if code and name
    }
    rows = [
        {
            "version": e["stream_version"],
            "at": local(e["occurred_at"]),
            "event_type": e["event_type"],
            "actor": e["actor"]["kind"],
            "details": {
                k: e["data"].get(k)
                for k in _SUMMARY_FIELDS.get(e["event_type"], ())
                if e["data"].get(k) not in (None, "")
            },
            "hash": e["hash"],
        }
        for e in document["trail"]
    ]
    template = _environment.get_template("evidence.html")
    return template.render(
        **page_context(lang),
        doc=document,
        report=report,
        rows=rows,
        local=local,
        agency_name=agency_name,
        agency_names=names,
        limit=lambda text: limit_text(text, lang),
    )
