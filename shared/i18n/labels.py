"""The names of domain values in every language: statuses, kinds, channels, reasons, events.

Pages and notices build these keys at run time (`status.<value>`), which extraction cannot see;
they are marked here once with `N_`, and `tests/unit/test_i18n.py` checks that every value of
every enum below has its key. Say a value with `status_label("closed", "id")`.
"""

from __future__ import annotations

from shared.i18n import N_, label_of, translator

STATUS = (
    N_("status.submitted"),
    N_("status.completion_requested"),
    N_("status.verified"),
    N_("status.forwarded"),
    N_("status.returned"),
    N_("status.followed_up"),
    N_("status.closed"),
    N_("status.rejected"),
)
CLASSIFICATION = (
    N_("class.complaint"),
    N_("class.aspiration"),
    N_("class.information_request"),
)
CHANNEL = (
    N_("channel.web"),
    N_("channel.mobile"),
    N_("channel.sms"),
    N_("channel.email"),
    N_("channel.whatsapp"),
    N_("channel.twitter"),
    N_("channel.facebook"),
    N_("channel.instagram"),
    N_("channel.open311"),
    N_("channel.offline"),
    N_("channel.messenger"),  # notify's channels beyond the report's
    N_("channel.x"),
)
REJECTION = (
    N_("rejection.duplicate"),
    N_("rejection.spam"),
    N_("rejection.not_public_service"),
    N_("rejection.no_response_to_completion"),
    N_("rejection.other"),
)
# Why the console suggests a report may duplicate another (services/verification/similarity.py).
SIMILARITY = (
    N_("similarity.similar_text"),
    N_("similarity.nearby"),
    N_("similarity.same_category"),
)
CLOSING = (
    N_("closing.by_reporter"),
    N_("closing.no_response"),
    N_("closing.resolved"),
    N_("closing.by_admin"),
    N_("closing.incomplete"),
)
STAGE = (
    N_("stage.verification"),
    N_("stage.follow_up"),
    N_("stage.resolution"),
    N_("stage.reforward"),
    # the other deadlines a report runs (shared.reports.deadlines.Stage), on the evidence pack
    N_("stage.auto_close"),
    N_("stage.escalation"),
    N_("stage.completion_reminder"),
    N_("stage.completion_expiry"),
)
DEADLINE_STATE = (
    N_("deadline_state.pending"),
    N_("deadline_state.due_soon"),
    N_("deadline_state.overdue"),
    N_("deadline_state.paused"),
    N_("deadline_state.met"),
    N_("deadline_state.met_late"),
    N_("deadline_state.cancelled"),
    N_("deadline_state.closed"),
    N_("deadline_state.escalated"),
    N_("deadline_state.reminded"),
)
FOLLOW_UP_KIND = (
    N_("follow_up_kind.interim"),
    N_("follow_up_kind.final"),
    N_("follow_up_kind.question"),
)
EVENT = (
    N_("event.ReportSubmitted"),
    N_("event.ReportCompletionRequested"),
    N_("event.ReportAmended"),
    N_("event.ReportVerified"),
    N_("event.ReportRejected"),
    N_("event.ReportPostponed"),
    N_("event.ReportReferred"),
    N_("event.ProtectionChanged"),
    N_("event.ForwardedToOPD"),
    N_("event.ReportReturned"),
    N_("event.ReportTransferred"),
    N_("event.ReportDelegated"),
    N_("event.FollowUpPosted"),
    N_("event.ReporterReplied"),
    N_("event.AdministratorReplied"),
    N_("event.PublicTextSet"),
    N_("event.ReportClosed"),
    N_("event.ReportRated"),
    N_("event.ReportReopened"),
    N_("event.CompletionReminded"),
    N_("event.SlaDueSoon"),
    N_("event.SlaBreached"),
    N_("event.EscalatedToOmbudsman"),
)
# Who read a confidential report and what they opened (the access audit the reporter reads:
# shared.access.events ConfidentialReportRead's reader_role and what; sla's read is its
# evidence pack).
READER = (
    N_("reads.by.admin"),
    N_("reads.by.agency"),
    N_("reads.by.ombudsman"),
    N_("reads.by.client"),
)
READ = (
    N_("reads.what.report"),
    N_("reads.what.timeline"),
    N_("reads.what.attachment"),
    N_("reads.what.desk_detail"),
    N_("reads.what.inbox_detail"),
    N_("reads.what.evidence"),
)

status_label = label_of("status")
classification_label = label_of("class")
channel_label = label_of("channel")
rejection_label = label_of("rejection")
similarity_label = label_of("similarity")
closing_label = label_of("closing")
stage_label = label_of("stage")
follow_up_kind_label = label_of("follow_up_kind")
event_label = label_of("event")
reader_label = label_of("reads.by")
read_label = label_of("reads.what")
deadline_state_label = label_of("deadline_state")

# A time limit as words ("3 hari kerja", "14 hari kalender"): shared.reports.policy.Limit's
# days and unit ("working" | "calendar").
LIMIT_UNITS = {"working": N_("limit.working_days"), "calendar": N_("limit.calendar_days")}


def limit_words(days: int, unit: str, language: str | None = None) -> str:
    key = LIMIT_UNITS.get(unit)
    if key is None:
        return f"{days} {unit}"
    return translator(language)(key, days=days)
