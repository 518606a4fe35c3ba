"""Replies through the social platforms' send APIs: WhatsApp Cloud API, Messenger and Instagram
(Meta's Send API), X direct messages. Each base URL is configurable (a sandbox, a test double, a
regional proxy); a platform without a base URL and token is not configured and its notices end in
NotificationFailed naming the missing setting.

The reporter's address on these channels comes from intake's encrypted reporter blob: `phone`
for WhatsApp, and the platform's user id (`social_id`) for Messenger, Instagram and X.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.notifications.events import NotificationChannel
from shared.senders.base import Address, Message, PermanentSendError, TransientSendError

# Meta allows free-form messages only inside the 24-hour window after the user's last message;
# later ones need a tag. Ours are updates about the user's own report.
META_TAG = "CONFIRMED_EVENT_UPDATE"


class _JsonApi:
    channel: NotificationChannel
    name = "send API"

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=timeout, headers={"Authorization": f"Bearer {token}"}, transport=transport
        )

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        try:
            response = await self._client.post(f"{self._base}{path}", json=body)
        except httpx.TimeoutException as error:
            raise TransientSendError(f"{self.name} timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise TransientSendError(f"{self.name} unreachable ({type(error).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 409, 425, 429) or status >= 500:
            raise TransientSendError(f"{self.name} answered HTTP {status}")
        if status in (401, 403):
            raise TransientSendError(f"{self.name} refused our token (HTTP {status})")
        raise PermanentSendError(f"{self.name} refused the message (HTTP {status})")

    async def close(self) -> None:
        await self._client.aclose()


class WhatsAppCloud(_JsonApi):
    """POST {base}/{phone_number_id}/messages (WhatsApp Business Cloud API)."""

    channel = NotificationChannel.WHATSAPP
    name = "WhatsApp API"

    def __init__(
        self,
        base_url: str,
        token: str,
        phone_number_id: str,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout, transport)
        self._phone_number_id = phone_number_id

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None:
        await self._post(
            f"/{self._phone_number_id}/messages",
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to.value.lstrip("+"),
                "type": "text",
                "text": {"preview_url": True, "body": message.text},
                "biz_opaque_callback_data": str(notification_id),
            },
        )


class MetaSendApi(_JsonApi):
    """POST {base}/me/messages (Messenger Send API; Instagram messaging has the same shape)."""

    def __init__(
        self,
        channel: NotificationChannel,
        base_url: str,
        token: str,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, timeout, transport)
        self.channel = channel
        self.name = f"{channel.value} send API"

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None:
        await self._post(
            "/me/messages",
            {
                "recipient": {"id": to.value},
                "messaging_type": "MESSAGE_TAG",
                "tag": META_TAG,
                "message": {"text": message.text[:2000], "metadata": str(notification_id)},
            },
        )


class XDirectMessage(_JsonApi):
    """POST {base}/2/dm_conversations/with/{participant_id}/messages (X API v2)."""

    channel = NotificationChannel.X
    name = "X API"

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None:
        await self._post(
            f"/2/dm_conversations/with/{to.value}/messages", {"text": message.text[:10_000]}
        )
