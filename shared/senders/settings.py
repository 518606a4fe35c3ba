"""Who LAPOR's outgoing messages are from, and how long a send may take (`LAPOR_*`).

Every service that sends (notify's notices, the polls' one-time codes) reads the same values.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SenderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    smtp_from: str = Field(
        default="LAPOR! <noreply@lapor.example>", description="From: of LAPOR's e-mails"
    )
    sms_sender: str = Field(default="1708", description="Sender of LAPOR's SMS")
    notify_send_timeout_seconds: float = Field(
        default=15.0, gt=0, description="How long one send (SMS, e-mail, API call) may take"
    )
