"""Staff hear from the live directory (security finding 3): an officer removed through routing's
API gets nothing more, one added gets the next notice; administrators and the Ombudsman office
are found the same way. In process, all five services, a real SMTP server on loopback."""

from __future__ import annotations

from pathlib import Path

from tests.driver import driving
from tests.harness import in_process
from tests.notify.harness import FAST_RETRIES, PUBLIC, SmtpSink
from tests.routing.steps import DINKES, admin, submit

OLD_OFFICER = "dinkes-kota-kupang@penghubung.lapor.example"
NEW_OFFICER = "petugas.baru@dinkes.kupangkota.example"


async def test_a_directory_change_reaches_notify_at_once(tmp_path: Path, smtp: SmtpSink) -> None:
    env = {"LAPOR_PUBLIC_BASE_URL": PUBLIC, "LAPOR_SMTP_URL": smtp.url, **FAST_RETRIES}
    async with in_process(tmp_path / "lapor", env=env) as lapor, driving(lapor) as drive:
        routing = admin(drive, "routing")
        current = (await routing.get(f"/api/v1/agencies/{DINKES}")).json()
        changed = {
            k: v
            for k, v in current.items()
            if k in ("code", "name", "level", "region_code", "parent", "sms_keywords", "categories")
        } | {"liaison_officers": [{"name": "Petugas Baru", "email": NEW_OFFICER}]}
        put = await routing.put(f"/api/v1/agencies/{DINKES}", json=changed)
        assert put.status_code == 200, put.text

        tracking_id = await submit(drive, "Puskesmas tutup", region="5371", category="kesehatan")
        await drive.verify(tracking_id)
        await lapor.run("notify", "dispatch")

        new = smtp.wait_for(lambda m: NEW_OFFICER in m.recipients and tracking_id in m.subject)
        assert f"{PUBLIC.rsplit(':', 1)[0]}" in new.part("plain")  # a link to their desk item
        assert f"/desk/reports/{tracking_id}" in new.part("plain")
        assert [m for m in smtp.received() if OLD_OFFICER in m.recipients] == []
