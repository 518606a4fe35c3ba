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


async def test_every_province_by_the_name_people_write_lands_there_or_the_reply_says_where(
    hooks: Hooks,
) -> None:
    """`BANGKA BELITUNG jalan rusak` (the province Kepulauan Bangka Belitung, as people call it)
    went to Kabupaten Bangka with "BELITUNG" left in the text, and the reply did not name the
    region: the citizen could not tell. `SUMATRA UTARA` (a common spelling) went to the national
    desk; `YOGYAKARTA` went to the city with no word of the province. Every province, by its
    official name and by the names people write, now lands in it, or in the city of that name
    with the reply naming the city and the province's keyword."""
    names = {p.code: [keyword(p.name)] for p in regions().provinces()}
    names["19"].append("BANGKA BELITUNG")
    names["34"].append("YOGYAKARTA")
    for code in ("12", "13", "16"):
        names[code].append(names[code][0].replace("SUMATERA", "SUMATRA"))
    number = 0
    for code, written in names.items():
        for name in written:
            number += 1
            answer = await hooks.http.get(
                "/channels/sms",
                params={
                    "from": f"+62813{number:07d}",
                    "to": "1708",
                    "text": f"{name} jalan rusak parah mohon diperbaiki",
                    "id": f"province-{code}-{number}",
                    "token": SMS_WEBHOOK_TOKEN,
                },
            )
            found = re.search(r"ID: ([A-Z0-9]{10}) Kode akses: ([A-Z0-9]+)", answer.text)
            assert found, (name, answer.text)
            report = await hooks.report(found.group(1), found.group(2))
            assert report["body"] == "jalan rusak parah mohon diperbaiki", (name, report)
            region = report["location"]["region_code"]
            if region != code:  # a city of the same name (JAMBI, BENGKULU, YOGYAKARTA)
                assert region.startswith(code), (name, region)
                city = regions().get(region)
                assert city is not None and f"Wilayah: {city.name}" in answer.text, answer.text
                assert "PROV " in answer.text.split("Bukan? Tulis", 1)[1], (name, answer.text)
