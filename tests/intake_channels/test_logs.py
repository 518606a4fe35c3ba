"""What a real intake process writes to its log never names a social account (real processes:
nats-server, relay, intake; the log is the process's own). The webhooks' behaviour is tested in
process in test_social.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx

from tests.intake_channels.conftest import X_SECRET, ChannelSystem
from tests.intake_channels.fakes import Call
from tests.intake_channels.test_social import TRACKING, X_DIRECT_MESSAGES, signed_x
from tests.support import wait_for


def post(channels: ChannelSystem, path: str, payload: dict[str, Any], sign: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(f"{channels.url}/channels/{path}", content=body, headers=sign(body))


def answer(channels: ChannelSystem, platform: str, account: str, recipient: str) -> Call:
    def find() -> Call | None:
        for call in channels.platforms.calls_to(platform, account):
            body = call.json
            to = body.get("to") or (body.get("recipient") or {}).get("id") or account
            if to == recipient:
                return call
        return None

    return wait_for(find, timeout=20, what=f"{platform} answer to {recipient}")


def test_x_crc_check_and_direct_messages(channels: ChannelSystem) -> None:
    crc = httpx.get(f"{channels.url}/channels/x", params={"crc_token": "9b4507b3-crc"})
    expected = base64.b64encode(
        hmac.new(X_SECRET.encode(), b"9b4507b3-crc", hashlib.sha256).digest()
    ).decode()
    assert crc.json() == {"response_token": f"sha256={expected}"}

    response = post(channels, "x", X_DIRECT_MESSAGES, signed_x)
    assert response.json()["messages"] == 1  # our own DM is not a report

    call = answer(channels, "x", "3001969357", "3001969357")
    assert call.authorization == "Bearer x-user-token"
    tracking_id = TRACKING.search(call.json["text"])[1]  # type: ignore[index]
    report = channels.report(tracking_id)
    assert (report["channel"], report["location"]["region_code"]) == ("twitter", "35")
    assert "3001969357" not in channels.system.log("intake")  # the account is personal data
