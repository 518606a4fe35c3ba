"""What the ops tests share: the real tools (promtool, prometheus, nats-server), YAML, and the
PromQL found in the dashboards and rule files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ROOT, System, wait_for

DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))


def require_binary(name: str, package: str) -> str:
    """The tool's path. Missing: skip on a developer's machine, FAIL in CI (CI=true)."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} not found: apt-get install -y --no-install-recommends {package}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def load_yaml(path: Path) -> Any:
    """PyYAML when the environment has it; otherwise Debian's python3-yaml via /usr/bin/python3."""
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        system_python = shutil.which("python3", path="/usr/bin:/bin")
        if system_python is None:
            pytest.fail("no YAML parser: add pyyaml to the dev dependencies (or apt python3-yaml)")
        script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
        done = subprocess.run(
            [system_python, "-c", script, str(path)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"cannot parse {path}: {done.stderr.strip()}")
        return json.loads(done.stdout)
    with path.open() as handle:
        return yaml.safe_load(handle)


# --- PromQL -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expression:
    where: str  # file and rule or panel, for failure messages
    expr: str
    kind: str  # "record", "alert", "panel" or "variable"

    @property
    def must_return_data(self) -> bool:
        # An alert's condition is legitimately empty while all is well.
        return self.kind != "alert"


# Grafana's built-in variables, and the dashboards' own, for evaluating outside Grafana.
GRAFANA_BUILTINS = {
    "__rate_interval": "30s",
    "__interval": "5s",
    "__range": "1h",
    "__range_s": "3600",
}


def substitute(expr: str, variables: dict[str, str]) -> str:
    values = {**GRAFANA_BUILTINS, **variables}

    def replace(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, expr)


def rule_expressions(files: list[Path] = RULE_FILES) -> Iterator[Expression]:
    for path in files:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                kind = "alert" if "alert" in rule else "record"
                name = rule.get("alert") or rule.get("record")
                yield Expression(f"{path.name}: {name}", str(rule["expr"]), kind)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)\s*$")


def dashboard_expressions(
    variables: dict[str, str], files: list[Path] = DASHBOARDS
) -> Iterator[Expression]:
    """Every query of every panel and template variable, with the variables substituted.
    Grafana's `label_values(SELECTOR, LABEL)` becomes the PromQL `count by (LABEL) (SELECTOR)`."""
    for path in files:
        board = json.loads(path.read_text())
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    where = f"{path.name}: panel {panel.get('title')!r} {target.get('refId')}"
                    yield Expression(where, substitute(target["expr"], variables), "panel")
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            found = LABEL_VALUES.match(str(text))
            expr = f"count by ({found.group(2)}) ({found.group(1)})" if found else str(text)
            where = f"{path.name}: variable ${variable['name']}"
            yield Expression(where, substitute(expr, variables), "variable")


_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or label names)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text, flags=re.I
    )
    names: set[str] = set()
    for found in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = found.group(1), found.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def wait_ready(system: System, name: str, timeout: float = 180.0) -> None:
    """Like System.wait_ready, patient on a busy machine, but failing at once if it exits."""

    def ready() -> str | None:
        if system.processes[name].poll() is not None:
            return "exited"
        answer = httpx.get(f"{system.url(name)}/readyz", timeout=1)
        return "ready" if answer.status_code == 200 else None

    if wait_for(ready, timeout, 0.1, what=f"{name} ready") == "exited":
        pytest.fail(f"{name} exited:\n{system.log(name)[-3000:]}")
