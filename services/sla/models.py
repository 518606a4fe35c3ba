"""The sla service's HTTP contract: what its routes answer (DESIGN §5).

Field names and shapes are public (agencies, the Ombudsman and other systems code against them)
and stay exactly as they are. Instants are ISO 8601 text as stored, with their offset, so a model
never re-encodes them (a UTC instant stays `+00:00`, never `Z`). A field the answer leaves out in
some cases (the calendar's `region`, a stage no deadline of an institution reached, the
verification desk for an institution, the office's name of an earlier escalation) defaults to
None and is then not set: those routes answer with `response_model_exclude_unset`, so it is
absent rather than null, as it always was.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from shared.reports.deadlines import Stage, State


# --- errors -----------------------------------------------------------------------------------
class Problem(BaseModel):
    """An error: `detail` says what is wrong (a list naming the field for a 422)."""

    detail: str | list[dict[str, Any]]


class NotEligibleDetail(BaseModel):
    msg: str = Field(description="not eligible for escalation: the reason")
    eligible_from: str | None = Field(
        description="The first instant the reporter may escalate (when that is a matter of time)"
    )
    opens_on: str | None = Field(
        default=None, description="The first day (local) the reporter may escalate, YYYY-MM-DD"
    )


class NotEligible(BaseModel):
    """409: the report may not be escalated (yet)."""

    detail: NotEligibleDetail


# --- the calendar -----------------------------------------------------------------------------
class WorkingDays(BaseModel):
    start: date = Field(description="The day of the event (day zero)")
    days: int
    due: date = Field(description="The Nth working day after `start`")
    deadline: str = Field(description="The last instant of `due` in the region's time zone")
    region: str | None = Field(default=None, description="Only when the question named a region")


class Holiday(BaseModel):
    date: str = Field(description="YYYY-MM-DD")
    name: str
    category: str = Field(description="public (libur nasional) or government (cuti bersama)")


# --- deadlines and compliance -----------------------------------------------------------------
class DeadlineRow(BaseModel):
    """One deadline of one report (a stage of a cycle), its state as of the request."""

    tracking_id: str
    stage: Stage
    cycle: int
    agency_code: str | None
    region_code: str | None
    limit: str = Field(description='The limit as text, e.g. "3 working days"')
    started_at: str
    due: date | None
    deadline: str | None
    due_soon_from: str | None
    state: State
    ended_at: str | None
    ended_by: str | None = Field(description="The event type that ended the deadline")
    late: bool | None
    working_days_taken: int | None
    remaining_working_days: int | None
    breach_recorded: bool


class StageCompliance(BaseModel):
    within_limit: int
    late: int
    overdue: int
    running: int
    share_within_limit: float | None = Field(
        description="met in time / (met in time + met late + overdue); null when none is decided"
    )


class AgencyCompliance(BaseModel):
    """One institution; a stage appears once any of its deadlines reached it."""

    agency_code: str | None
    verification: StageCompliance | None = None
    follow_up: StageCompliance | None = None
    resolution: StageCompliance | None = None
    median_working_days_to_first_follow_up: int | float | None
    first_follow_ups: int


class Compliance(BaseModel):
    as_of: str
    agencies: list[AgencyCompliance]
    verification_desk: StageCompliance | None = Field(
        default=None, description="Absent for an institution (it sees only its own deadlines)"
    )


# --- escalation and evidence ------------------------------------------------------------------
class EvidenceLinks(BaseModel):
    json_: str = Field(alias="json", serialization_alias="json")
    html: str


class EscalationOutcome(BaseModel):
    """201 when this request escalated the report; 200 (without `ombudsman_office_name`) when it
    had been escalated before."""

    tracking_id: str
    status: str = Field(description='"escalated"')
    ombudsman_office: str | None
    ombudsman_office_name: str | None = Field(
        default=None, description="Only in the answer that escalated"
    )
    province_code: str | None
    evidence_sha256: str | None
    escalated_at: str
    evidence: EvidenceLinks
    already_escalated: bool = Field(
        default=False,
        description="True (with 200) when the report had been escalated before this request,"
        " also by a request at the same moment: this one escalated nothing new",
    )
    message: str | None = Field(
        default=None,
        description="With 200: that the report was escalated already, when and to which office"
        " (Indonesian / English)",
    )


class EscalationRow(BaseModel):
    """One escalated report in the Ombudsman's list."""

    tracking_id: str
    escalated_at: str = Field(description="ISO 8601 with offset")
    ombudsman_office: str = Field(description="Agency code of the office that received it")
    ombudsman_office_name: str | None
    province_code: str | None
    region_code: str | None
    agency_code: str | None = Field(description="The institution holding the report then")
    agency_name: str | None
    grounds: str | None = Field(
        description="no_final_answer (60 working days) or reopened_without_answer (5 after a"
        " reopening)"
    )
    evidence_sha256: str | None = Field(description="Digest of the trail the reporter sent")
    evidence: EvidenceLinks


class EvidenceKey(BaseModel):
    algorithm: str = Field(description='"Ed25519"')
    key_id: str = Field(description="First 16 hex digits of SHA-256 of the raw public key")
    public_key: str = Field(description="The raw 32-byte public key, base64")
    public_key_pem: str


class Office(BaseModel):
    code: str
    name: str
    province_code: str


class EvidenceReport(BaseModel):
    status: str
    classification: str
    title: str | None
    body: str | None
    category: str | None
    region_code: str | None
    agency_code: str | None
    channel: str
    anonymous: bool
    confidential: bool
    submitted_at: str | None
    verified_at: str | None
    forwarded_at: str | None
    first_follow_up_at: str | None
    closed_at: str | None
    sla_breaches: list[str]
    escalated: bool


class EvidenceEscalation(BaseModel):
    occurred_at: str
    stream_version: int
    ombudsman_office: str | None
    evidence_sha256: str | None
    evidence_covers_versions: int | None = Field(
        description="How many events (from version 1) `evidence_sha256` covers"
    )


class EvidenceDeadline(BaseModel):
    stage: Stage
    cycle: int
    agency_code: str | None
    limit: str
    started_at: str
    due: str | None
    deadline: str | None
    state: State
    ended_at: str | None
    breach_recorded: bool


class TrailActor(BaseModel):
    kind: str
    id: str


class TrailEvent(BaseModel):
    """One stored event exactly as stored (envelope, data, prev_hash, hash)."""

    event_id: str
    event_type: str
    schema_version: int
    stream: str
    stream_version: int
    occurred_at: str
    correlation_id: str
    causation_id: str
    actor: TrailActor
    region_code: str | None
    agency_code: str | None
    data: dict[str, Any] = Field(description="The event's own fields (see the event catalogue)")
    prev_hash: str
    hash: str


class Chain(BaseModel):
    algorithm: str
    genesis: str
    length: int
    head: str
    verified: bool
    problems: list[str]


class Signature(BaseModel):
    algorithm: str
    key_id: str
    public_key: str
    signed: str
    value: str = Field(description="Ed25519 signature, base64")


class EvidenceDocument(BaseModel):
    """`lapor-evidence/1`: the whole audit trail, signed (see services/sla/evidence.py)."""

    format: str
    tracking_id: str
    generated_at: str
    report: EvidenceReport
    ombudsman_office: Office | None
    escalation: EvidenceEscalation | None
    deadlines: list[EvidenceDeadline]
    trail: list[TrailEvent]
    trail_sha256: str
    chain: Chain
    signature: Signature
