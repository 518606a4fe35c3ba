"""Polls' knobs (`LAPOR_POLL*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PollSettings(BaseSettings):
    """Polls' knobs (`LAPOR_POLL*`); the senders use LAPOR_SMS_SENDSMS_URL / LAPOR_SMTP_URL."""

    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    polls_tick_seconds: float = Field(
        default=30.0, gt=0, description="How often intake closes polls past their closes_at"
    )
    poll_code_ttl_seconds: int = Field(default=600, ge=30, description="A one-time code's life")
    poll_code_attempts: int = Field(default=5, ge=1, le=20, description="Tries per code")
    poll_code_sends: int = Field(
        default=3, ge=1, le=20, description="Codes per identity and poll within one code's life"
    )
