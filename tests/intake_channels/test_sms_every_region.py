"""Every regency and city of Indonesia by SMS (issue 19): the keyword of each of the 514, sent to
the 1708 webhook as Kannel would, lands in its region. In process, intake only."""

from __future__ import annotations

import re
import time

from shared.directory.build import bare_name, keyword
from shared.regions import regions
from tests.intake_channels.conftest import Hooks
from tests.support import SMS_WEBHOOK_TOKEN


async def test_the_keyword_of_every_regency_and_city_lands_in_its_region(hooks: Hooks) -> None:
    sent: dict[tuple[str, str], str] = {}
    started = time.perf_counter()
    for number, regency in enumerate(regions().regencies()):
        prefix = "KOTA" if regency.name.startswith("Kota ") else "KAB"
        text = f"{prefix} {keyword(bare_name(regency))} jalan rusak parah mohon diperbaiki"
        answer = await hooks.http.get(
            "/channels/sms",
            params={
                "from": f"+62812{number:07d}",
                "to": "1708",
                "text": text,
                "id": f"every-region-{regency.code}",
                "token": SMS_WEBHOOK_TOKEN,
            },
        )
        assert answer.status_code == 200
        found = re.search(r"ID: ([A-Z0-9]{10}) Kode akses: ([A-Z0-9]+)", answer.text)
        assert found, (text, answer.text)
        sent[found.group(1), found.group(2)] = regency.code
    assert len(sent) == 514
    for (tracking_id, code), region in sent.items():
        report = await hooks.report(tracking_id, code)
        assert report["location"]["region_code"] == region, (tracking_id, region)
    per_message = (time.perf_counter() - started) / len(sent)
    assert per_message < 0.5, per_message  # the whole request, store and view included
