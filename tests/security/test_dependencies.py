"""Known vulnerabilities in what we ship: `pip-audit --strict` over the locked requirements.

The lock (`uv.lock`, exported with hashes) is what every machine installs, so it is what is
audited, without resolving anything (`--disable-pip`). pip-audit asks a vulnerability service
for every pinned version: PyPI's JSON API (`/pypi/<name>/<version>/json`) or OSV. Where neither
answers (a registry mirror without the per-version API, no route to OSV) the audit cannot run:
the test says so and skips, naming what it probed - it never passes silently. Where one
answers, any known vulnerability, or any package it could not audit, fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT

PYPI = "https://pypi.org/pypi/{name}/{version}/json"
OSV = "https://api.osv.dev/v1/query"
PROBE_TIMEOUT = 15.0


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _locked_requirements(tmp_path: Path) -> Path:
    target = tmp_path / "requirements.txt"
    subprocess.run(
        [
            _bin("uv"),
            "export",
            "--frozen",
            "--format",
            "requirements-txt",
            "--no-emit-project",
            "--all-groups",
            "--quiet",
            "-o",
            str(target),
        ],
        cwd=ROOT,
        check=True,
        timeout=120,
        env=os.environ | {"UV_PROJECT_ENVIRONMENT": str(Path(sys.executable).parent.parent)},
    )
    return target


def _first_pin(requirements: Path) -> tuple[str, str]:
    for line in requirements.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            return name.strip(), rest.split()[0].rstrip("\\").strip()
    raise AssertionError("no pinned requirement in the export")


def _service(name: str, version: str) -> tuple[str | None, list[str]]:
    """The vulnerability service that answers for a pinned version here, and what was seen."""
    seen: list[str] = []
    with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=True) as client:
        try:
            got = client.get(PYPI.format(name=name, version=version))
            seen.append(f"PyPI per-version JSON for {name}=={version}: HTTP {got.status_code}")
            if got.status_code == 200 and "vulnerabilities" in got.json():
                return "pypi", seen
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            seen.append(f"PyPI per-version JSON: {type(error).__name__}")
        try:
            query = {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
            got = client.post(OSV, json=query)
            seen.append(f"OSV query: HTTP {got.status_code}")
            if got.status_code == 200:
                return "osv", seen
        except httpx.HTTPError as error:
            seen.append(f"OSV query: {type(error).__name__}")
    return None, seen


def test_locked_dependencies_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    requirements = _locked_requirements(tmp_path)
    service, seen = _service(*_first_pin(requirements))
    if service is None:
        pytest.skip("no vulnerability service reachable, pip-audit cannot run: " + "; ".join(seen))
    audit = subprocess.run(
        [
            _bin("pip-audit"),
            "--requirement",
            str(requirements),
            "--disable-pip",
            "--strict",
            "--vulnerability-service",
            service,
            "--progress-spinner",
            "off",
            "--desc",
            "off",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert audit.returncode == 0, f"pip-audit ({service}):\n{audit.stdout}\n{audit.stderr}"
