"""deploy/prometheus passes promtool: the configuration, the rule files, and a unit test that
fires every alert (Debian package `prometheus`; in CI a missing promtool fails the run)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.ops.tools import (
    DASHBOARDS,
    PROMETHEUS_DIR,
    RULE_FILES,
    RULE_TESTS,
    load_yaml,
    require_binary,
)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool", "prometheus")


def run(promtool: str, *args: str | Path) -> str:
    done = subprocess.run(
        [promtool, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=PROMETHEUS_DIR,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(map(str, args))}:\n{output}"
    return output


def test_the_configuration_is_valid(promtool: str) -> None:
    output = run(promtool, "check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert f"{len(RULE_FILES)} rule files found" in output


def test_the_rule_files_are_valid(promtool: str) -> None:
    assert RULE_FILES, "no rule files in deploy/prometheus/rules"
    run(promtool, "check", "rules", *RULE_FILES)


def test_the_alert_unit_tests_pass(promtool: str) -> None:
    assert RULE_TESTS, "no promtool tests in deploy/prometheus/tests"
    run(promtool, "test", "rules", *RULE_TESTS)


def alerts() -> dict[str, dict[str, object]]:
    return {
        rule["alert"]: rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    defined = set(alerts())
    assert defined, "no alerts defined"
    assert defined - fired == set(), "alerts with no test that fires them"
    assert defined - quiet == set(), "alerts with no test that they stay quiet"
    assert fired | quiet <= defined, "tests of alerts that do not exist"


def test_every_alert_says_how_bad_and_what_happened() -> None:
    for name, rule in alerts().items():
        labels = rule.get("labels") or {}
        annotations = rule.get("annotations") or {}
        assert isinstance(labels, dict) and isinstance(annotations, dict)
        assert labels.get("severity") in ("critical", "warning", "info"), name
        assert annotations.get("summary") and annotations.get("description"), name
        assert name.startswith("Lapor"), name


def test_the_dashboards_are_grafana_json_on_the_provisioned_datasource() -> None:
    assert {p.name for p in DASHBOARDS} == {
        "national-overview.json",
        "pipeline-health.json",
        "agency-drilldown.json",
    }
    datasource = load_yaml(
        PROMETHEUS_DIR.parent / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
    )["datasources"][0]
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        assert board["title"].startswith("LAPOR") and board["panels"], path.name
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: {panel['title']} is too wide"
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
            assert panel["targets"] and all(t.get("expr") for t in panel["targets"])
    assert len(uids) == len(DASHBOARDS)
    agency = json.loads(
        (PROMETHEUS_DIR.parent / "grafana/dashboards/agency-drilldown.json").read_text()
    )
    assert [v["name"] for v in agency["templating"]["list"]] == ["agency"]
