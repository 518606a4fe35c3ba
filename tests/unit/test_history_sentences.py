"""What a report's stored history says of its events (shared.i18n.history), in both languages."""

from __future__ import annotations

from shared.i18n.history import sentences


def test_stored_history_names_no_count_of_days_the_policy_may_not_keep() -> None:
    """The history of an escalated report said "Dasar: 60 hari kerja tanpa jawaban akhir" (or
    "5 hari kerja setelah dibuka kembali …") and of a verified one "batas penyelesaian 60 hari",
    whatever the SLA policy the deadlines were counted with; the events carry the grounds and
    the field inspection, not the counts, so the sentences say those and no number of days."""
    cases = (
        ("EscalatedToOmbudsman", {"grounds": "no_final_answer"}, "id", "tanpa jawaban akhir"),
        ("EscalatedToOmbudsman", {"grounds": "no_final_answer"}, "en", "without a final answer"),
        (
            "EscalatedToOmbudsman",
            {"grounds": "reopened_without_answer"},
            "id",
            "dibuka kembali",
        ),
        ("EscalatedToOmbudsman", {"grounds": "reopened_without_answer"}, "en", "reopen"),
        ("ReportVerified", {"requires_field_inspection": True}, "id", "pemeriksaan lapangan"),
        ("ReportVerified", {"requires_field_inspection": True}, "en", "field inspection"),
    )
    for event_type, details, language, said in cases:
        text = " ".join(sentences(event_type, details, language, "5371"))
        assert said in text, text
        assert not any(ch.isdigit() for ch in text), text
        assert "batas" in text or "limit" in text, text
