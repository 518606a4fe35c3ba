"""deploy/ holds together: the compose files (structure, references, environment), the NATS
configurations (`nats-server -t`) and the files they mount. `docker compose config` validates
the compose files too where the Compose plugin is installed (it needs no engine)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.runtime.nats_auth import service_permissions
from tests.ops.nats_cluster import NATS_DIR, accounts, check_config, password_of, passwords
from tests.ops.tools import DEPLOY, PROMETHEUS_DIR, load_yaml
from tests.support import ROOT

COMPOSE = DEPLOY / "compose"
LAPOR = ("relay", "intake", "verification", "routing", "sla", "notify")
SERVICE_PORTS = {"intake": 8000, "verification": 8001, "routing": 8002, "sla": 8003, "notify": 8004}
# One-shot jobs (they exit): no healthcheck, no restart policy.
JOBS = {"kurrentdb-certs"}


def project(name: str) -> dict[str, Any]:
    """A compose file with the files it includes merged in (services, networks, volumes)."""
    path = COMPOSE / name
    content: dict[str, Any] = load_yaml(path)
    for included in content.get("include", []):
        target = path.parent / (included if isinstance(included, str) else included["path"])
        assert target.exists(), f"{name} includes {target}, which does not exist"
        other = load_yaml(target)
        for section in ("services", "networks", "volumes", "secrets", "configs"):
            mine = content.setdefault(section, {}) or {}
            theirs = other.get(section) or {}
            clash = set(mine) & set(theirs)
            assert not clash, f"{name} and {target.name} both define {section} {clash}"
            content[section] = {**mine, **theirs}
    return content


def variables(path: Path) -> dict[str, bool]:
    """The ${VAR} a compose file interpolates, and whether each is required (`:?`)."""
    found: dict[str, bool] = {}
    for match in re.finditer(r"\$\{(\w+)(:?[?-])?", path.read_text()):
        found[match.group(1)] = found.get(match.group(1), False) or (match.group(2) or "").endswith(
            "?"
        )
    return found


@pytest.fixture(scope="module", params=["single-host.yml", "production.yml"])
def compose(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, project(request.param)


def test_every_service_has_an_image_a_healthcheck_and_defined_networks_and_volumes(
    compose: tuple[str, dict[str, Any]],
) -> None:
    name, content = compose
    services: dict[str, Any] = content["services"]
    networks = set(content.get("networks") or {})
    volumes = set(content.get("volumes") or {})
    for service, spec in services.items():
        where = f"{name}: {service}"
        assert spec.get("image") or spec.get("build"), f"{where}: no image or build"
        if service not in JOBS:
            assert spec.get("healthcheck", {}).get("test"), f"{where}: no healthcheck"
            assert spec.get("restart") in ("unless-stopped", "always"), f"{where}: no restart"
        for network in spec.get("networks") or []:
            assert network in networks, f"{where}: undefined network {network}"
        for mount in spec.get("volumes") or []:
            source = (mount if isinstance(mount, str) else mount["source"]).split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE / source).resolve().exists(), f"{where}: {source} missing"
            else:
                assert source in volumes, f"{where}: undefined volume {source}"
        for dependency in spec.get("depends_on") or {}:
            assert dependency in services, f"{where}: depends on unknown {dependency}"
        build = spec.get("build")
        if build:
            context = (COMPOSE / (build if isinstance(build, str) else build["context"])).resolve()
            dockerfile = context / (
                build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            )
            assert dockerfile.exists(), f"{where}: {dockerfile} missing"


def test_lapor_processes_each_connect_as_their_own_nats_user(
    compose: tuple[str, dict[str, Any]],
) -> None:
    """No password in any file: a process logs in as itself with a password derived from
    LAPOR_SECRET_KEY, and the NATS nodes generate the same users (`lapor nats serve`)."""
    name, content = compose
    generated = accounts()
    for process in LAPOR:
        spec = content["services"][process]
        assert spec["command"] == ["run", process], f"{name}: {process}"
        environment = spec["environment"]
        assert "@" not in environment["LAPOR_NATS_URL"], f"{name}: {process} has a password"
        assert environment["LAPOR_SECRET_KEY"].startswith("${LAPOR_SECRET_KEY:?")
        assert f'user: "{process}", password: "{password_of(process)}"' in generated
        assert environment["LAPOR_RELAY_METRICS_PORT"] == "8005"
    for node, spec in content["services"].items():
        if node == "nats" or re.fullmatch(r"nats-\d", node):
            assert spec["command"][:3] == ["nats", "serve", "--base"], f"{name}: {node}"
            assert spec["environment"]["LAPOR_SECRET_KEY"].startswith("${LAPOR_SECRET_KEY:?")


def test_each_lapor_process_has_what_it_needs(compose: tuple[str, dict[str, Any]]) -> None:
    """Parsed as CI sees it: image, environment, volumes and healthcheck of every process."""
    name, content = compose
    needed = {"LAPOR_DATA_DIR", "LAPOR_SECRET_KEY", "LAPOR_NATS_URL", "LAPOR_TRUSTED_PROXIES"}
    for process in LAPOR:
        spec = content["services"][process]
        where = f"{name}: {process}"
        assert spec["image"], where
        assert needed <= set(spec["environment"]), f"{where}: {needed - set(spec['environment'])}"
        mounts = {m.split(":")[1] for m in spec["volumes"]}
        assert "/data" in mounts, where
        if name == "production.yml":
            assert spec["environment"]["LAPOR_EVENT_STORE"].startswith("kurrentdb://"), where
            # The data keys where every replica of every host reads them.
            key_store = spec["environment"]["LAPOR_KEY_STORE"]
            assert key_store.split(":-sqlite:///")[-1].rstrip("}").startswith("/keys/"), where
            assert "/keys" in mounts, where
        port = SERVICE_PORTS.get(process, 8005)
        assert str(port) in " ".join(spec["healthcheck"]["test"]), where


def test_production_shares_one_signing_key_between_the_relay_and_sla() -> None:
    """The relay signs the store's checkpoints and sla the evidence packs with one key,
    DATA_DIR/keys/sla-evidence-ed25519.pem. production.yml had it on `lapor-data`, local to
    each machine: relay and sla on two machines made two keys (`lapor audit verify` beside sla
    failed on every checkpoint), and a relay restarted elsewhere made a third. The key's folder
    is a volume of its own, the same for both, shared like the data keys' volume."""
    content = project("production.yml")

    def key_volume(process: str) -> str:
        volumes: list[str] = content["services"][process]["volumes"]
        mounts = {m.split(":")[1]: m.split(":")[0] for m in volumes}
        assert "/data/keys" in mounts, f"{process}: no volume at /data/keys"
        return mounts["/data/keys"]

    shared = key_volume("relay")
    assert shared == key_volume("sla") and shared != "lapor-data"
    assert shared in content["volumes"]


def test_the_image_has_every_writable_mount_point_owned_by_its_user(
    compose: tuple[str, dict[str, Any]],
) -> None:
    """A new named volume takes the owner of the folder it is mounted on, root's when the image
    has none: /keys (the data keys), /data/keys (the signing key) and single-host's
    /data/jetstream (NATS) would be read-only to the `lapor` user the processes run as. The
    image makes and hands over each of them."""
    name, content = compose
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    made = set(re.search(r"mkdir -p ([^&\n]+)", dockerfile)[1].split())  # type: ignore[index]
    owned = set(re.search(r"chown lapor:lapor ([^&\n]+)", dockerfile)[1].split())  # type: ignore[index]
    ours = [n for n, spec in content["services"].items() if "LAPOR_IMAGE" in spec["image"]]
    assert set(LAPOR) <= set(ours)
    for process in ours:  # the NATS nodes too: `lapor nats serve` in the same image
        for mount in content["services"][process]["volumes"]:
            source, target, *mode = mount.split(":")
            if mode == ["ro"] or source.startswith((".", "/")):
                continue
            assert target in made and target in owned, f"{name}: {process} mounts {target}"


def test_production_runs_on_plain_docker_compose() -> None:
    """No Swarm-only keys: `deploy` may only say how many replicas (and their resources)."""
    services = project("production.yml")["services"]
    for service, spec in services.items():
        assert set(spec.get("deploy") or {}) <= {"replicas", "resources", "restart_policy"}, (
            f"{service}: Swarm-only deploy keys {set(spec['deploy'])}"
        )
    proxy_address = services["proxy"]["networks"]["lapor"]["ipv4_address"]
    for process in LAPOR:
        trusted = services[process]["environment"]["LAPOR_TRUSTED_PROXIES"]
        assert trusted == proxy_address, process  # X-Forwarded-For believed from nginx only


def test_nginx_terminates_tls_and_keeps_each_client_on_one_replica() -> None:
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    for port in SERVICE_PORTS.values():
        assert re.search(rf"listen {port} ssl;", conf), port
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "Strict-Transport-Security" in conf
    assert "ssl_certificate     /etc/nginx/tls/fullchain.pem;" in conf
    upstreams = re.findall(r"upstream (\w+)\s*\{([^}]*)\}", conf)
    assert {name for name, _ in upstreams} == set(SERVICE_PORTS)
    for name, body in upstreams:  # per-address rate limits hold across a service's replicas
        assert "hash $remote_addr consistent;" in body, name
    # What a client claims is replaced, never appended to.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf


def test_the_environment_example_names_every_required_variable(
    compose: tuple[str, dict[str, Any]],
) -> None:
    name, _ = compose
    example = (COMPOSE / "lapor.env.example").read_text()
    listed = set(re.findall(r"^(\w+)=", example, re.M))
    required = {var for var, needed in variables(COMPOSE / name).items() if needed}
    assert required - listed == set(), f"{name}: required but not in lapor.env.example"


def test_prometheus_scrapes_the_compose_services_on_their_ports() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    scraped = {
        sd["names"][0]: sd["port"]
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
    }
    assert scraped == {**SERVICE_PORTS, "relay": 8005}
    for name in ("single-host.yml", "production.yml"):
        services = project(name)["services"]
        assert set(scraped) <= set(services), name


def test_one_host_runs_everything_once() -> None:
    services = project("single-host.yml")["services"]
    assert set(services) == {*LAPOR, "nats", "prometheus", "grafana", "kannel"}
    published = [p for spec in services.values() for p in spec.get("ports", [])]
    assert len(published) == len(set(published))
    for service, port in SERVICE_PORTS.items():
        assert f"{port}:{port}" in services[service]["ports"]
    assert services["nats"]["command"][:4] == ["nats", "serve", "--base", "/etc/nats/single.conf"]


def test_production_is_a_nats_cluster_a_kurrentdb_cluster_and_replicated_services() -> None:
    services = project("production.yml")["services"]
    nodes = {name: spec for name, spec in services.items() if re.fullmatch(r"nats-\d", name)}
    assert len(nodes) == 3
    assert {spec["environment"]["NATS_SERVER_NAME"] for spec in nodes.values()} == set(nodes)
    for spec in nodes.values():
        assert spec["command"][:4] == ["nats", "serve", "--base", "/etc/nats/cluster.conf"]
        routes = {spec["environment"][f"NATS_ROUTE_{i}"] for i in (1, 2, 3)}
        assert {re.sub(r".*@", "", r) for r in routes} == {f"{n}:6222" for n in nodes}
    assert len([n for n in services if n.startswith("kurrentdb-") and n not in JOBS]) == 3
    relay = services["relay"]
    assert relay["deploy"]["replicas"] == 1  # it tails the store's global order
    assert relay["environment"]["LAPOR_NATS_STREAM_REPLICAS"] == "3"
    for process in LAPOR:
        environment = services[process]["environment"]
        assert environment["LAPOR_EVENT_STORE"].startswith("kurrentdb://")
        assert len(environment["LAPOR_NATS_URL"].split(",")) == 3
        assert "kurrentdb" in services[process]["networks"]
    assert max(services[s]["deploy"]["replicas"] for s in SERVICE_PORTS) >= 2
    assert {"proxy", "prometheus", "grafana", "kannel"} <= set(services)


def test_the_nats_configurations_are_valid_and_fsync_every_write(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", **passwords(), "NATS_SERVER_NAME": "nats-1"}
    for i in (1, 2, 3):  # as deploy/compose/production.yml sets them
        env[f"NATS_ROUTE_{i}"] = f"nats-route://route:pw@nats-{i}:6222"
    for name in ("single.conf", "cluster.conf"):
        base = (NATS_DIR / name).read_text()
        assert re.search(r"^\s*sync_interval:\s*always\s*$", base, re.M), name
        assert "accounts" not in re.sub(r"#.*", "", base), f"{name}: users are generated"
        full = tmp_path / name  # what `lapor nats serve --base` writes
        full.write_text(base + "\n" + accounts())
        done = check_config(full, env)
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def test_each_service_may_use_only_its_own_durable() -> None:
    for service in LAPOR[1:]:
        publish, subscribe = service_permissions(service)
        durables = set(re.findall(r"LAPOR_EVENTS\.(\w+)", " ".join(publish + subscribe)))
        assert durables == {service}, f"{service} may use the durables {durables}"
        assert not any("STREAM.DELETE" in p or p.startswith("lapor.v1.events") for p in publish)


def test_the_dockerfile_copies_what_exists() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"deploy/Dockerfile copies {path}, which is missing"


def test_docker_compose_config_accepts_the_files_where_compose_is_installed(
    tmp_path: Path,
) -> None:
    docker = shutil.which("docker")
    has_compose = (
        docker is not None
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not has_compose:
        pytest.skip("no Docker Compose plugin here; the structure tests above still ran")
    assert docker is not None
    example = (COMPOSE / "lapor.env.example").read_text()
    env_file = tmp_path / "lapor.env"
    env_file.write_text(re.sub(r"^(\w+)=$", r"\1=x", example, flags=re.M))
    for name in ("single-host.yml", "production.yml"):
        done = subprocess.run(
            [
                docker,
                "compose",
                "--env-file",
                str(env_file),
                "-f",
                str(COMPOSE / name),
                "config",
                "-q",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stderr}"
