"""`lapor rebuild SERVICE` refuses while the service runs, whatever ports the shell names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, free_port

HOLD_THE_VIEW = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE IF NOT EXISTS held (x)")
conn.commit()
print("open", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_rebuild_refuses_views_another_process_has_open(tmp_path: Path) -> None:
    """An operator ran `lapor rebuild verification` in a shell without the LAPOR_*_PORT of the
    running system: the "is it running?" check asked the default port, found nothing, and the
    rebuild dropped and rewrote the views under the running service. The view file being open
    in another process now refuses it too (exit 2, saying which file); --force still goes on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env |= {
        "LAPOR_DATA_DIR": str(tmp_path),
        "LAPOR_SECRET_KEY": "rebuild-guard-secret",
        "LAPOR_VERIFICATION_PORT": str(free_port()),  # nothing answers there
    }

    def rebuild(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "rebuild", "verification", *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    view = tmp_path / "verification.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_VIEW, str(view)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        refused = rebuild()
        said = refused.stdout + refused.stderr
        assert refused.returncode == 2, said
        assert "verification.db" in said and "stop it first" in said, said
        assert "rebuilt" not in said
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    done = rebuild()
    assert done.returncode == 0 and "rebuilt verification" in done.stdout, done.stderr
