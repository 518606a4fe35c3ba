"""The channels notify sends on, as configured: a sender per channel that has its settings, and
for every other channel the setting that would enable it (a notice on it fails naming that)."""

from __future__ import annotations

from services.notify.settings import NotifySettings
from shared.notifications.events import NotificationChannel
from shared.senders.base import Sender
from shared.senders.kannel import KannelSms
from shared.senders.smtp import SmtpEmail
from shared.senders.social import MetaSendApi, WhatsAppCloud, XDirectMessage
from shared.settings import Settings


def build_senders(
    settings: Settings, notify: NotifySettings
) -> tuple[dict[str, Sender], dict[str, str]]:
    """The configured channels, and for each missing one the setting that would enable it."""
    timeout = notify.notify_send_timeout_seconds
    senders: dict[str, Sender] = {}
    missing: dict[str, str] = {}
    if settings.sms_sendsms_url:
        senders["sms"] = KannelSms(settings.sms_sendsms_url, notify.sms_sender, timeout)
    else:
        missing["sms"] = "SMS is not configured (LAPOR_SMS_SENDSMS_URL is not set)"
    if settings.smtp_url:
        senders["email"] = SmtpEmail(settings.smtp_url, notify.smtp_from, timeout)
    else:
        missing["email"] = "e-mail is not configured (LAPOR_SMTP_URL is not set)"
    if notify.whatsapp_api_url and notify.whatsapp_token and notify.whatsapp_phone_number_id:
        senders["whatsapp"] = WhatsAppCloud(
            notify.whatsapp_api_url,
            notify.whatsapp_token.get_secret_value(),
            notify.whatsapp_phone_number_id,
            timeout,
        )
    else:
        missing["whatsapp"] = (
            "WhatsApp is not configured (LAPOR_WHATSAPP_API_URL, LAPOR_WHATSAPP_TOKEN,"
            " LAPOR_WHATSAPP_PHONE_NUMBER_ID)"
        )
    for channel, url, token in (
        (NotificationChannel.MESSENGER, notify.messenger_api_url, notify.messenger_token),
        (NotificationChannel.INSTAGRAM, notify.instagram_api_url, notify.instagram_token),
    ):
        if url and token:
            senders[channel.value] = MetaSendApi(channel, url, token.get_secret_value(), timeout)
        else:
            env = channel.value.upper()
            missing[channel.value] = (
                f"{channel.value} is not configured (LAPOR_{env}_API_URL, LAPOR_{env}_TOKEN)"
            )
    if notify.x_api_url and notify.x_token:
        senders["x"] = XDirectMessage(notify.x_api_url, notify.x_token.get_secret_value(), timeout)
    else:
        missing["x"] = "X is not configured (LAPOR_X_API_URL, LAPOR_X_TOKEN)"
    return senders, missing
