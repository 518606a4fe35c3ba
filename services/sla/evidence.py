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
      ``GET /api/v1/evidence-key``; ``key_id`` is the first 16 hex digits of the SHA-256 of the
      raw 32-byte public key.

EscalatedToOmbudsman carries ``evidence_sha256``: the SHA-256 of the canonical JSON of the trail
*before* the escalation (``trail_sha256(events)`` at that moment), so a pack fetched later proves
what the Ombudsman was sent: ``sha256(canonical_json(trail[:k]))`` where k is
``escalation.evidence_covers_versions`` (normally the escalation's ``stream_version - 1``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.i18n import dates, normalize_language
from shared.i18n.jinja import install, page_context
from shared.reports.deadlines import ReportDeadlines
from shared.reports.lifecycle import ReportState
from shared.store.chain import GENESIS, canonical_json, verify_chain
from shared.store.port import RecordedEvent

FORMAT = "lapor-evidence/1"
KEY_FILE = "sla-evidence-ed25519.pem"
TEMPLATES = Path(__file__).resolve().parent / "templates"


def trail_entry(event: RecordedEvent) -> dict[str, Any]:
    """One event exactly as stored: what its hash was computed over, plus the hashes."""
    return event.stored_form()


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def trail_sha256(events: Sequence[RecordedEvent]) -> str:
    """The digest EscalatedToOmbudsman records: SHA-256 of the canonical JSON of the trail."""
    return sha256_of([trail_entry(e) for e in events])


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


# --- the signing key --------------------------------------------------------------------------
class EvidenceSigner:
    """An Ed25519 key generated once under `key_dir` (0600), shared by every replica."""

    def __init__(self, key_dir: Path) -> None:
        self.path = key_dir / KEY_FILE
        self._key = self._load_or_create(key_dir)
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_raw = raw
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def _load_or_create(self, key_dir: Path) -> Ed25519PrivateKey:
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            temporary = key_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
                # link() fails if another process created the key first: then that key wins.
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, self.path)
            finally:
                temporary.unlink(missing_ok=True)
        loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{self.path} does not hold an Ed25519 private key")
        return loaded

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def public_key_json(self) -> dict[str, str]:
        return {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "public_key": base64.b64encode(self.public_key_raw).decode(),
            "public_key_pem": self.public_key_pem,
        }

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """The document with a `signature` member over everything else in it."""
        unsigned = {k: v for k, v in document.items() if k != "signature"}
        value = self._key.sign(canonical_json(unsigned).encode())
        return unsigned | {
            "signature": {
                "algorithm": "Ed25519",
                "key_id": self.key_id,
                "public_key": base64.b64encode(self.public_key_raw).decode(),
                "signed": "canonical JSON (sorted keys, no spaces, UTF-8) of the document"
                " without its signature member",
                "value": base64.b64encode(value).decode(),
            }
        }


def verify_document(document: dict[str, Any], public_key_raw: bytes) -> bool:
    """True when the document's signature verifies with the given raw Ed25519 public key."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "Ed25519":
        return False
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(
            base64.b64decode(signature["value"]), canonical_json(unsigned).encode()
        )
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


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
    "ReportSubmitted": ("classification", "title", "category", "channel"),
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
    "EscalatedToOmbudsman": ("ombudsman_office", "evidence_sha256"),
}

_environment = install(
    Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


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
    )
