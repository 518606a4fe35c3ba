"""A mistyped `LAPOR_*` variable, as the operator sees it (shared/settings.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def lapor(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env |= {"LAPOR_DATA_DIR": str(tmp_path), "LAPOR_SECRET_KEY": "settings-test-secret"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env | variables,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_mistyped_setting_is_named_as_the_operator_wrote_it_without_a_traceback(
    tmp_path: Path,
) -> None:
    """`LAPOR_INTAKE_PORT=80OO lapor up` printed a pydantic traceback ending in `intake_port …
    int_parsing`; the operator set LAPOR_INTAKE_PORT. The command stops (exit 1) naming the
    variable, the value and what is wrong, and no frames."""
    done = lapor(tmp_path, "token", "create", "--role", "admin", LAPOR_INTAKE_PORT="80OO")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "│" not in done.stderr, done.stderr
    assert "LAPOR_INTAKE_PORT='80OO'" in done.stderr and "integer" in done.stderr, done.stderr


def test_every_mistyped_setting_is_listed(tmp_path: Path) -> None:
    done = lapor(
        tmp_path,
        "token",
        "create",
        "--role",
        "admin",
        LAPOR_NATS_STREAM_REPLICAS="three",
        LAPOR_AUDIT_CHECKPOINT_SECONDS="-1",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LAPOR_NATS_STREAM_REPLICAS='three'" in done.stderr, done.stderr
    assert "LAPOR_AUDIT_CHECKPOINT_SECONDS='-1'" in done.stderr, done.stderr
