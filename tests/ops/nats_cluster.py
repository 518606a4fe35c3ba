"""A real three-node NATS cluster on loopback, built as `lapor nats serve` builds it in
production: deploy/nats/cluster.conf (hosts and ports rewritten to free loopback ports) plus the
accounts generated from the directory (`shared.runtime.nats_auth`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.runtime.nats_auth import nats_password, server_accounts
from tests.ops.tools import DEPLOY
from tests.support import free_port, nats_server_binary, wait_for, wait_for_port

NATS_DIR = DEPLOY / "nats"
USERS = ("relay", "intake", "verification", "routing", "sla", "notify", "ops", "sys")
AGENCY = "DINKES-KOTA-KUPANG"
AGENCY_USER = f"agency-{AGENCY}"
SECRET = b"cluster-test-secret"


def passwords() -> dict[str, str]:
    """The environment deploy/nats/cluster.conf needs (the routes' password)."""
    return {"LAPOR_NATS_ROUTE_PASSWORD": "pw-route"}


def password_of(user: str) -> str:
    return nats_password(SECRET, user)


def accounts() -> str:
    """What `lapor nats serve` appends: the users of the seed directory's institutions."""
    from shared.directory.model import default_directory

    return server_accounts(SECRET, [i.code for i in default_directory()])


@dataclass
class Node:
    name: str
    port: int
    http_port: int
    cluster_port: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def url(self, user: str) -> str:
        return f"nats://{user}:{password_of(user)}@127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def jsz(self) -> dict[str, Any]:
        answer = httpx.get(
            f"http://127.0.0.1:{self.http_port}/jsz",
            params={"accounts": "true", "streams": "true", "consumers": "true"},
            timeout=2,
        )
        result: dict[str, Any] = answer.json()
        return result


@dataclass
class Cluster:
    nodes: list[Node]
    env: dict[str, str] = field(default_factory=dict)

    def urls(self, user: str, nodes: list[Node] | None = None) -> str:
        """The comma-separated server list LAPOR_NATS_URL takes, with the user's credentials."""
        return ",".join(n.url(user) for n in (nodes or self.nodes))

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def start(self, node: Node) -> None:
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(node.config)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(node.port, 20)

    def kill(self, node: Node) -> None:
        """SIGKILL: no lame duck, no flush; what JetStream acknowledged must already be on disk."""
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(10)

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive():
                assert node.process is not None
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(15)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(5)

    def wait_healthy(self, timeout: float = 30) -> None:
        """Every node up, routed to the two others, with JetStream (meta leader elected)."""

        def healthy() -> bool:
            for node in self.nodes:
                answer = httpx.get(
                    f"http://127.0.0.1:{node.http_port}/healthz",
                    params={"js-enabled-only": "true"},
                    timeout=2,
                )
                if answer.status_code != 200:
                    return False
                routes = httpx.get(f"http://127.0.0.1:{node.http_port}/routez", timeout=2).json()
                peers = {r.get("remote_name") for r in routes.get("routes", [])}
                if len(peers - {None, node.name}) < len(self.nodes) - 1:
                    return False
                meta = node.jsz().get("meta_cluster") or {}
                if not meta.get("leader"):
                    return False
            return True

        wait_for(healthy, timeout, 0.2, what="the NATS cluster healthy")


def build_cluster(tmp: Path, size: int = 3) -> Cluster:
    """Write one config per node from deploy/nats/cluster.conf, on free loopback ports."""
    template = (NATS_DIR / "cluster.conf").read_text() + "\n" + accounts()
    nodes = [
        Node(
            name=f"nats-{i}",
            port=free_port(),
            http_port=free_port(),
            cluster_port=free_port(),
            config=tmp / f"nats-{i}.conf",
            log=tmp / f"nats-{i}.log",
        )
        for i in range(1, size + 1)
    ]
    for node in nodes:
        text = template.replace("$NATS_SERVER_NAME", node.name)
        text = text.replace("0.0.0.0:4222", f"127.0.0.1:{node.port}")
        text = text.replace("0.0.0.0:8222", f"127.0.0.1:{node.http_port}")
        text = text.replace("0.0.0.0:6222", f"127.0.0.1:{node.cluster_port}")
        text = text.replace("/data/jetstream", json.dumps(str(tmp / node.name)))
        text = re.sub(r"max_file_store: \S+", "max_file_store: 1G", text)
        assert "sync_interval: always" in text
        node.config.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    return Cluster(nodes, env | passwords() | route_urls([n.cluster_port for n in nodes]))


def route_urls(ports: list[int]) -> dict[str, str]:
    """NATS_ROUTE_1..3 as deploy/compose/production.yml builds them, on loopback ports."""
    password = passwords()["LAPOR_NATS_ROUTE_PASSWORD"]
    return {
        f"NATS_ROUTE_{i}": f"nats-route://route:{password}@127.0.0.1:{port}"
        for i, port in enumerate(ports, start=1)
    }


def check_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nats_server_binary(), "-t", "-c", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
