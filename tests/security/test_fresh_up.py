"""A fresh `lapor up` is closed by default (issue 18, #2 and #5).

- The SMS webhook: no token configured, so `lapor up` generates one into the data directory
  (0600) and prints the Kannel get-url that carries it; intake refuses every call without it.
- File modes: every file LAPOR (and its nats-server) writes is 0600 and every folder 0700: the
  event store, keys, views, logs, attachments, secrets, JetStream's files, also the files made
  while it runs (a report with a photo, its -wal and -shm, the outbox).

(The anonymous-publisher check of a fresh `lapor up` comes with NATS credentials, issue 20.)
"""

from __future__ import annotations

import io
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from PIL import Image

from shared.settings import keep_private
from tests.support import ROOT, SERVICES, free_port, wait_for

GET_URL = re.compile(r'get-url = "(?P<url>http://[^"]+)"')


def _open_to_others(root: Path) -> list[str]:
    """Every path under `root` (itself included) that its group or others may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # a -wal checkpointed away meanwhile
            continue
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (5, 5), (9, 9, 9)).save(out, "PNG")
    return out.getvalue()


def test_a_fresh_lapor_up_refuses_open_webhooks_and_keeps_its_files_private(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update({f"LAPOR_{n.upper()}_PORT": str(p) for n, p in ports.items()})
    env.update(
        LAPOR_DATA_DIR=str(data),
        LAPOR_NATS_PORT=str(free_port()),
        LAPOR_RELAY_METRICS_PORT=str(free_port()),
    )
    out_path = tmp_path / "up.out"
    out = out_path.open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "up"], cwd=ROOT, env=env, stdout=out, stderr=out
    )
    intake = f"http://127.0.0.1:{ports['intake']}"
    try:

        def ready() -> bool:
            assert up.poll() is None, out_path.read_text()
            return (
                all(
                    httpx.get(f"http://127.0.0.1:{p}/readyz", timeout=1).status_code == 200
                    for p in ports.values()
                )
                and "get-url" in out_path.read_text()
            )

        wait_for(ready, timeout=120, what="lapor up ready")

        # The webhook token: generated, private, printed in the get-url, and required.
        token_file = data / "sms-webhook.token"
        token = token_file.read_text().strip()
        assert len(token) >= 32 and stat.S_IMODE(token_file.stat().st_mode) == 0o600
        printed = GET_URL.search(out_path.read_text())
        assert printed and f"token={token}" in printed["url"]
        assert printed["url"].startswith(f"{intake}/channels/sms?")
        sms = {"from": "+6281234500077", "to": "1708", "text": "KUPANG jalan rusak parah"}
        for wrong in ({}, {"token": "guess"}):
            refused = httpx.get(f"{intake}/channels/sms", params=sms | wrong | {"id": "u-1"})
            assert refused.status_code == 403, refused.text
        kannel_url = printed["url"].replace("%p", "%2B6281234500077").replace("%P", "1708")
        kannel_url = kannel_url.replace("%b", "KUPANG+jalan+rusak+parah").replace("%I", "u-2")
        taken = httpx.get(kannel_url.replace("%c", "0").replace("%C", "utf-8"))
        assert taken.status_code == 200 and "ID: " in taken.text, taken.text

        # Files made while it runs: a report with a photo.
        upload = httpx.post(f"{intake}/api/v1/attachments", files={"file": ("a.png", _png())})
        assert upload.status_code == 201, upload.text
        photo = upload.json()
        report = httpx.post(
            f"{intake}/api/v1/reports",
            json={
                "title": "Lampu jalan mati",
                "body": "Lampu jalan mati sejak seminggu di depan pasar.",
                "attachments": [{"sha256": photo["sha256"], "upload_token": photo["upload_token"]}],
            },
        )
        assert report.status_code == 201, report.text
        stored = data / "attachments" / photo["sha256"][:2] / photo["sha256"]
        assert stored.is_file()
        for name in ("events.db", "keys.db", "secret.key", "intake.db", "notify.db", "logs"):
            assert (data / name).exists(), name
        assert _open_to_others(data) == []
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
        out.close()
    assert _open_to_others(data) == []


def test_an_older_data_directory_is_closed_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "attachments" / "ab").mkdir(parents=True)
    for path in (data / "events.db", data / "keys.db", data / "logs" / "intake.log"):
        path.write_bytes(b"x")
        path.chmod(0o644)
    for folder in (data, data / "logs", data / "attachments", data / "attachments" / "ab"):
        folder.chmod(0o755)
    mask = os.umask(0o022)
    try:
        keep_private(data)
        made = data / "views-later.db"
        made.write_bytes(b"y")  # created afterwards by this process
        (data / "later").mkdir()
        assert _open_to_others(data) == []
        # Deeper than two levels only the folders above matter (attachments stay unreachable).
        assert stat.S_IMODE((data / "attachments" / "ab").stat().st_mode) == 0o700
    finally:
        os.umask(mask)
