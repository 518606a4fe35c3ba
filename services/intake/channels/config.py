"""The channels' own settings, from the environment (`LAPOR_*`).

Read here rather than in `shared/settings.py`: only intake's channels use them. Every secret is
optional; a channel whose secret is missing refuses its webhook (503) instead of trusting anyone.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SMS_WEBHOOK_TOKEN_FILE = "sms-webhook.token"  # noqa: S105 - a file name, not the token


class ChannelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    # --- abuse -----------------------------------------------------------------------------
    channel_messages_per_hour: float = Field(
        default=10.0,
        ge=0,
        description="Per phone number, e-mail address or social account, on every channel;"
        " 0 = no limit",
    )

    channel_lookups_per_report_per_hour: float = Field(
        default=10.0,
        ge=0,
        description="CEK/BALAS of one tracking ID that find nothing of the sender's (from any"
        " sender, on every channel) before that ID answers only 'try later'; 0 = no limit",
    )

    # --- SMS 1708 (Kannel) -------------------------------------------------------------------
    sms_webhook_token: SecretStr | None = Field(
        default=None,
        description="/channels/sms requires ?token=<this> (in Kannel's get-url). Unset: the one"
        f" `lapor up` generated into DATA_DIR/{SMS_WEBHOOK_TOKEN_FILE}; neither: every call is"
        " refused (503)",
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


def sms_webhook_token(config: ChannelSettings, data_dir: Path) -> SecretStr | None:
    """The token Kannel's get-url must carry: the setting, else the file `lapor up` generates
    (`ensure_sms_webhook_token`); None when there is neither (the webhook then refuses)."""
    if config.sms_webhook_token is not None and config.sms_webhook_token.get_secret_value():
        return config.sms_webhook_token
    try:
        text = (data_dir / SMS_WEBHOOK_TOKEN_FILE).read_text().strip()
    except OSError:
        return None
    return SecretStr(text) if text else None


def ensure_sms_webhook_token(data_dir: Path) -> str:
    """The SMS webhook token (LAPOR_SMS_WEBHOOK_TOKEN, else generated once into the data
    directory with mode 0600): `lapor up` calls this before intake starts."""
    from shared.settings import generated_secret

    configured = ChannelSettings().sms_webhook_token
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    return generated_secret(data_dir / SMS_WEBHOOK_TOKEN_FILE).decode()
