"""A real Prometheus scrapes a running LAPOR after a scripted lifecycle, and every expression in
the Grafana dashboards and the rule files is evaluated against it: no typo and no orphaned metric.

The lifecycle (all over HTTP, DESIGN §5): three reports submitted on the web; two verified and
forwarded to DINKES-KOTA-KUPANG by routing's rules, one of them followed up by the institution;
a request for an unknown report (a 4xx); then the shared file clock jumps eight working days so
that the sla service breaches the unverified report (verification) and the report nobody followed
up (follow_up, agency DINKES-KOTA-KUPANG).

Hard requirement: every metric name used anywhere exists among the scraped series. Recording
rules, dashboard panels and template variables must also return data; alert conditions need not.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ops.tools import (
    RULE_FILES,
    Expression,
    dashboard_expressions,
    load_yaml,
    metric_names,
    require_binary,
    rule_expressions,
    wait_ready,
)
from tests.support import (
    SERVICES,
    NatsServer,
    System,
    free_port,
    wait_for,
    wait_for_port,
)

AGENCY = "DINKES-KOTA-KUPANG"  # where routing's rules send kesehatan reports in 5371 (Kupang)
START = "2026-03-02T09:00:00+07:00"  # a Monday
# Eight working days later: past the 3-day verification limit and the 5-day follow-up limit.
LATER = "2026-03-12T09:00:00+07:00"
VARIABLES = {"agency": AGENCY}


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        body = answer.json()
        assert body.get("status") == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"value": result}]
        return list(result)

    def names(self) -> set[str]:
        return set(self.get("/api/v1/label/__name__/values"))


def _value(result: list[dict[str, Any]]) -> float | None:
    return float(result[0]["value"][1]) if result else None


def write_config(tmp: Path, system: System, relay_port: int) -> Path:
    """deploy/prometheus's jobs at a 1 s interval, pointed at this system's free ports, with
    the deploy rule files (their groups evaluated every second)."""
    rules = []
    for path in RULE_FILES:
        content = load_yaml(path)
        for group in content["groups"]:
            group["interval"] = "1s"
        copy = tmp / path.name
        copy.write_text(_json_as_yaml(content))
        rules.append(str(copy))
    jobs = {f"lapor-{name}": system.ports[name] for name in SERVICES}
    jobs["lapor-relay"] = relay_port
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": rules,
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for job, port in jobs.items()
        ],
    }
    path = tmp / "prometheus.yml"
    path.write_text(_json_as_yaml(config))
    return path


def _json_as_yaml(content: Any) -> str:
    import json

    return json.dumps(content)  # JSON is YAML


@pytest.fixture
def prometheus_binary() -> str:
    require_binary("promtool", "prometheus")
    return require_binary("prometheus", "prometheus")


def start_prometheus(binary: str, config: Path, tmp: Path) -> Prometheus:
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for_port(port, timeout=30)
    return Prometheus(f"http://127.0.0.1:{port}", process, log)


@pytest.fixture
def system(tmp_path: Path, fresh_nats: NatsServer) -> Iterator[tuple[System, int]]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "clock.txt").write_text(START)
    relay_port = free_port()
    # start_system, with more patience: five services starting at once on a busy 2-core machine.
    running = System(
        data,
        fresh_nats.url,
        {name: free_port() for name in SERVICES},
        extra_env={"LAPOR_RELAY_METRICS_PORT": str(relay_port), "LAPOR_SLA_TICK_SECONDS": "0.5"},
    )
    try:
        running.start("relay")
        for name in SERVICES:
            running.start(name)
        for name in SERVICES:
            wait_ready(running, name)
        yield running, relay_port
    finally:
        running.stop_all()


@pytest.fixture
def prometheus(
    prometheus_binary: str, tmp_path: Path, system: tuple[System, int]
) -> Iterator[Prometheus]:
    running, relay_port = system
    tmp = tmp_path / "prometheus"
    tmp.mkdir()
    server = start_prometheus(prometheus_binary, write_config(tmp, running, relay_port), tmp)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGTERM)
            try:
                server.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(5)


class Lifecycle:
    """The public HTTP contracts, as an administrator, an institution and citizens use them."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.admin = {"Authorization": f"Bearer {system.token('admin')}"}
        self.agency = {"Authorization": f"Bearer {system.token('agency', agency=AGENCY)}"}

    def url(self, service: str, path: str) -> str:
        return f"{self.system.url(service)}{path}"

    def submit(self, title: str, classification: str = "complaint") -> str:
        answer = httpx.post(
            self.url("intake", "/api/v1/reports"),
            json={
                "classification": classification,
                "title": title,
                "body": f"{title}: warga tidak terlayani di puskesmas kota.",
                "category": "kesehatan",
                "location": {"region_code": "5371"},
                "reporter": {"name": "Warga Uji", "phone": "+6281234567890"},
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["tracking_id"])

    def verify(self, tracking_id: str) -> None:
        answer = httpx.post(
            self.url("verification", f"/api/v1/reports/{tracking_id}/verify"),
            json={},
            headers=self.admin,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def wait_forwarded(self, tracking_id: str) -> None:
        def forwarded() -> bool:
            answer = httpx.get(
                self.url("intake", f"/api/v1/reports/{tracking_id}"), headers=self.admin, timeout=5
            )
            report = answer.json()
            return bool(report["status"] == "forwarded" and report["agency_code"] == AGENCY)

        wait_for(forwarded, 30, 0.1, what=f"{tracking_id} forwarded to {AGENCY}")

    def follow_up(self, tracking_id: str) -> None:
        def posted() -> bool:
            answer = httpx.post(
                self.url("routing", f"/api/v1/reports/{tracking_id}/follow-ups"),
                json={"text": "Kepala puskesmas sudah kami tegur; layanan kembali normal."},
                headers=self.agency,
                timeout=10,
            )
            assert answer.status_code < 500, answer.text
            return answer.status_code in (200, 201)

        wait_for(posted, 30, 0.2, what=f"follow-up on {tracking_id}")

    def not_found(self) -> None:
        answer = httpx.get(self.url("intake", "/api/v1/reports/NOSUCHREPORT"), timeout=5)
        assert 400 <= answer.status_code < 500


def test_every_dashboard_and_rule_expression_has_data_in_a_real_prometheus(
    system: tuple[System, int], prometheus: Prometheus
) -> None:
    running, _ = system
    jobs = {f"lapor-{name}" for name in SERVICES} | {"lapor-relay"}

    def all_up() -> bool:
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return set(health) == jobs and all(h == "up" for h in health.values())

    try:
        wait_for(all_up, 30, 0.2, what="every target up")
    except AssertionError:
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        down = [
            f"  {t['labels']['job']} {t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}"
            for t in targets
            if t["health"] != "up"
        ]
        pytest.fail(
            "targets not up (the relay serves /metrics only on LAPOR_RELAY_METRICS_PORT):\n"
            + "\n".join(down)
        )

    lapor = Lifecycle(running)
    followed = lapor.submit("Puskesmas tutup saat jam layanan")
    lapor.verify(followed)
    lapor.wait_forwarded(followed)
    lapor.follow_up(followed)
    # Prometheus has seen the institution's first forward before the second one comes, so that
    # increase() over the forwards counter is not 0 (a series is born at its first value).
    wait_for(
        lambda: prometheus.query(f'lapor_reports_forwarded_total{{agency="{AGENCY}"}}'),
        20,
        0.2,
        what="the first forward scraped",
    )
    ignored = lapor.submit("Obat habis di apotek puskesmas")
    lapor.verify(ignored)
    lapor.wait_forwarded(ignored)
    lapor.submit("Usul jam buka puskesmas sampai malam", classification="aspiration")
    lapor.not_found()

    running.set_clock(LATER)
    wait_for(
        lambda: (
            prometheus.query(f'lapor_sla_breaches_total{{stage="follow_up", agency="{AGENCY}"}}')
            and prometheus.query('lapor_sla_breaches_total{stage="verification"}')
        ),
        30,
        0.2,
        what="the sla service's breaches scraped",
    )

    expressions = [*rule_expressions(), *dashboard_expressions(VARIABLES)]
    assert len(expressions) > 40  # the dashboards and rules were found at all
    used = {
        name: [e.where for e in expressions if name in metric_names(e.expr)]
        for name in sorted({n for e in expressions for n in metric_names(e.expr)})
    }

    def missing_names() -> dict[str, list[str]]:
        known = prometheus.names()
        return {name: where for name, where in used.items() if name not in known}

    try:
        wait_for(lambda: not missing_names(), 30, 0.5, what="every metric name scraped")
    except AssertionError:
        lines = [
            f"  {name}  (used by {', '.join(where[:3])})" for name, where in missing_names().items()
        ]
        pytest.fail(
            "metrics used by dashboards or rules that no process exposes:\n" + "\n".join(lines)
        )

    def empty() -> list[Expression]:
        return [e for e in expressions if e.must_return_data and not prometheus.query(e.expr)]

    try:
        wait_for(lambda: not empty(), 30, 0.5, what="every expression returning data")
    except AssertionError:
        lines = [f"  {e.where}: {e.expr}" for e in empty()]
        pytest.fail("expressions that return no data:\n" + "\n".join(lines))

    print(f"{len(expressions)} expressions, {len(used)} metric names: all present, all with data")
    # The relay counted the lifecycle once per event, and timed the forwards and the follow-up.
    expected = {
        "sum(lapor_reports_submitted_total)": 3,
        'sum(lapor_reports_submitted_total{classification="aspiration", province="53"})': 1,
        'sum(lapor_report_status_changes_total{status="forwarded"})': 2,
        f'sum(lapor_reports_forwarded_total{{agency="{AGENCY}"}})': 2,
        f'sum(lapor_follow_ups_posted_total{{agency="{AGENCY}"}})': 1,
        "sum(lapor_time_to_forward_seconds_count)": 2,
        "sum(lapor_time_to_first_follow_up_seconds_count)": 1,
    }

    def values() -> dict[str, float | None]:
        return {q: _value(prometheus.query(q)) for q in expected}

    try:
        wait_for(lambda: values() == expected, 15, 0.5, what="the lifecycle counted")
    except AssertionError:
        pytest.fail(f"lifecycle metrics: expected {expected}, got {values()}")

    # The template variable offers the institution of the lifecycle.
    offered = prometheus.query("count by (agency) (lapor_reports_forwarded_total)")
    assert AGENCY in {s["metric"].get("agency") for s in offered}

    # Every process's exposition passes promtool's lint (naming, units, help texts).
    promtool = require_binary("promtool", "prometheus")
    ports = {**{name: running.ports[name] for name in SERVICES}, "relay": system[1]}
    for job, port in ports.items():
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        lint = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert lint.returncode == 0, f"{job}: {lint.stdout}{lint.stderr}"
