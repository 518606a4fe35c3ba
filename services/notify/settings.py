"""Notify's own configuration (`LAPOR_*`): channel endpoints, retries and rate limits.

`LAPOR_SMS_SENDSMS_URL`, `LAPOR_SMTP_URL` and `LAPOR_PUBLIC_BASE_URL` come from the shared
settings; the rest is notify's alone.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.senders.settings import SenderSettings

DEFAULT_RATES = {
    "sms": 10.0,
    "email": 20.0,
    "whatsapp": 20.0,
    "messenger": 20.0,
    "instagram": 20.0,
    "x": 5.0,
}


class NotifySettings(SenderSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    whatsapp_api_url: str | None = Field(
        default=None, description="WhatsApp Cloud API base, e.g. https://graph.facebook.com/v21.0"
    )
    whatsapp_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    messenger_api_url: str | None = Field(default=None, description="Messenger Send API base")
    messenger_token: SecretStr | None = None
    instagram_api_url: str | None = Field(default=None, description="Instagram messaging base")
    instagram_token: SecretStr | None = None
    x_api_url: str | None = Field(default=None, description="X API base, e.g. https://api.x.com")
    x_token: SecretStr | None = None

    desk_base_url: str | None = Field(
        default=None,
        description="Where officers' links point (routing's desk); default: the public host,"
        " routing's port",
    )
    console_base_url: str | None = Field(
        default=None,
        description="Where administrators' links point (the verification console); default: the"
        " public host, verification's port",
    )
    evidence_base_url: str | None = Field(
        default=None,
        description="Where the Ombudsman's links point (sla's evidence packs); default: the public"
        " host, sla's port",
    )
    intake_email_from: str | None = Field(
        default=None,
        description="intake's e-mail address (the same setting as intake's): notices to"
        " reporters invite a reply there (Reply-To lapor+<ID>@…); unset: they do not",
    )
    sla_policy_file: Path | None = Field(
        default=None, description="The SLA policy (the same file as sla's, for dates in notices)"
    )
    sla_calendar_file: Path | None = Field(
        default=None, description="The calendar overrides (the same file as sla's)"
    )

    notify_max_attempts: int = Field(default=5, ge=1, le=20)
    notify_retry_base_seconds: float = Field(default=1.0, gt=0)
    notify_retry_max_seconds: float = Field(default=300.0, gt=0)
    notify_rate_limits: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_RATES),
        description='Messages per second per channel (JSON, e.g. {"sms": 5})',
    )
    notify_rate_burst: float = Field(default=5.0, ge=1)
    notify_concurrency: int = Field(
        default=4, ge=1, le=64, description="Sends in flight per channel"
    )

    def rate_for(self, channel: str) -> float:
        return self.notify_rate_limits.get(channel, DEFAULT_RATES.get(channel, 10.0))
