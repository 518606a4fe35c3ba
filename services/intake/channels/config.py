"""The channels' own settings, from the environment (`LAPOR_*`).

Read here rather than in `shared/settings.py`: only intake's channels use them. Every secret is
optional; a channel whose secret is missing refuses its webhook (503) instead of trusting anyone.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChannelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    # --- abuse -----------------------------------------------------------------------------
    channel_messages_per_hour: float = Field(
        default=10.0,
        ge=0,
        description="Per phone number, e-mail address or social account, on every channel;"
        " 0 = no limit",
    )

    # --- SMS 1708 (Kannel) -------------------------------------------------------------------
    sms_webhook_token: SecretStr | None = Field(
        default=None,
        description="If set, /channels/sms requires ?token=<this> (add it to Kannel's get-url)",
    )

    # --- e-mail ------------------------------------------------------------------------------
    intake_smtp_port: int | None = Field(
        default=None, ge=0, le=65535, description="Inbound SMTP port; unset = no SMTP server"
    )
    intake_smtp_host: str = Field(default="127.0.0.1", description="Inbound SMTP address")
    intake_smtp_hostname: str = Field(
        default="lapor.localhost", description="Name the SMTP server greets with"
    )
    intake_smtp_max_bytes: int = Field(
        default=25_000_000, ge=1024, description="Largest message the SMTP server takes"
    )
    intake_email_from: str | None = Field(
        default=None,
        description="From of the reply mail; default: lapor@<LAPOR_INTAKE_SMTP_HOSTNAME>",
    )

    # --- Meta: WhatsApp Cloud API, Messenger, Instagram ---------------------------------------
    meta_app_secret: SecretStr | None = Field(
        default=None, description="App secret: X-Hub-Signature-256 on webhook deliveries"
    )
    meta_verify_token: SecretStr | None = Field(
        default=None, description="hub.verify_token of the webhook subscription handshake"
    )
    meta_graph_url: str = Field(
        default="https://graph.facebook.com/v21.0",
        description="Graph API base (WhatsApp and Messenger send API)",
    )
    instagram_graph_url: str = Field(
        default="https://graph.instagram.com/v21.0", description="Instagram send API base"
    )
    whatsapp_access_token: SecretStr | None = None
    messenger_access_token: SecretStr | None = Field(default=None, description="Page token")
    instagram_access_token: SecretStr | None = None

    # --- X (Account Activity API, DMs) ---------------------------------------------------------
    x_consumer_secret: SecretStr | None = Field(
        default=None, description="Consumer secret: CRC check and x-twitter-webhooks-signature"
    )
    x_access_token: SecretStr | None = Field(
        default=None, description="OAuth 2.0 user token for sending DMs"
    )
    x_api_url: str = Field(default="https://api.x.com", description="X API base")

    # --- outbound HTTP -------------------------------------------------------------------------
    channel_http_timeout: float = Field(default=10.0, gt=0, description="Send API timeout (s)")
    channel_http_attempts: int = Field(default=3, ge=1, le=10, description="Send API attempts")
