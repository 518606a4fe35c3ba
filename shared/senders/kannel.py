"""SMS through Kannel's sendsms interface (smsbox `/cgi-bin/sendsms`).

`LAPOR_SMS_SENDSMS_URL` carries the smsbox address with its username and password, e.g.
`http://127.0.0.1:13013/cgi-bin/sendsms?username=lapor&password=…`. Kannel answers 202 when it
accepted (or queued) the message, 403 for wrong credentials, 400 for a missing receiver.
The text is already GSM-7-safe and single-line; `coding=0` keeps it 7-bit, and Kannel splits a
text longer than 160 septets into concatenated parts (the sendsms-user's `max-messages`).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from shared.notifications.events import NotificationChannel
from shared.senders.base import Address, Message, PermanentSendError, TransientSendError


class KannelSms:
    channel = NotificationChannel.SMS

    def __init__(
        self,
        sendsms_url: str,
        sender: str = "1708",
        timeout: float = 15.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        parts = urlsplit(sendsms_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("LAPOR_SMS_SENDSMS_URL must be an http(s) URL to Kannel's sendsms")
        self._endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self._base_params = dict(parse_qsl(parts.query))
        self._base_params.setdefault("from", sender)
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None:
        params = {
            **self._base_params,
            "to": to.value,
            "text": message.sms,
            "charset": "UTF-8",
            "coding": "0",
        }
        try:
            response = await self._client.get(self._endpoint, params=params)
        except httpx.TimeoutException as error:
            raise TransientSendError(f"sendsms timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise TransientSendError(f"sendsms unreachable ({type(error).__name__})") from None
        status = response.status_code
        if status in (200, 201, 202):
            return
        if status == 400:
            # Kannel: no receiver, or a receiver it cannot parse: retrying will not help.
            raise PermanentSendError("sendsms refused the message (HTTP 400)")
        if status == 403:
            raise TransientSendError("sendsms refused our credentials (HTTP 403)")
        raise TransientSendError(f"sendsms answered HTTP {status}")

    async def close(self) -> None:
        await self._client.aclose()
