"""`lapor up` runs the embedded system so that notices invite replies out of the box (issue 17):
intake's SMTP server and its address are set unless the operator set them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cli import supervisor
from cli.supervisor import EMBEDDED_SMTP_PORT, children, mail_defaults
from shared.settings import SERVICE_NAMES, Settings, get_settings

MAIL_VARIABLES = (
    "LAPOR_INTAKE_EMAIL_FROM",
    "LAPOR_INTAKE_SMTP_PORT",
    "LAPOR_INTAKE_SMTP_HOST",
    "LAPOR_INTAKE_SMTP_HOSTNAME",
)


def test_up_gives_intake_a_mail_address_and_port_every_child_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in MAIL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(supervisor, "port_free", lambda host, port: True)
    assert mail_defaults({}, "127.0.0.1") == {
        "LAPOR_INTAKE_SMTP_PORT": str(EMBEDDED_SMTP_PORT),
        "LAPOR_INTAKE_EMAIL_FROM": "lapor@lapor.localhost",
    }
    named = mail_defaults({"LAPOR_INTAKE_SMTP_HOSTNAME": "lapor.kupangkota.go.id"}, "127.0.0.1")
    assert named["LAPOR_INTAKE_EMAIL_FROM"] == "lapor@lapor.kupangkota.go.id"
    # The operator's own choices stay as they are.
    assert mail_defaults({"LAPOR_INTAKE_EMAIL_FROM": "aduan@kupangkota.go.id"}, "127.0.0.1") == {}
    assert mail_defaults({"LAPOR_INTAKE_SMTP_PORT": "25"}, "127.0.0.1") == {
        "LAPOR_INTAKE_EMAIL_FROM": "lapor@lapor.localhost"
    }
    # intake (its SMTP server and replies) and notify (Reply-To in notices) both get them.
    for child in children(Settings(data_dir=tmp_path)):
        assert child.env["LAPOR_INTAKE_EMAIL_FROM"] == "lapor@lapor.localhost", child.name
        assert child.env["LAPOR_INTAKE_SMTP_PORT"] == str(EMBEDDED_SMTP_PORT), child.name


def test_a_taken_port_sets_no_invitation_nobody_would_receive() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        try:
            taken.bind(("127.0.0.1", EMBEDDED_SMTP_PORT))
            taken.listen()
        except OSError:
            pass  # something else holds it already: the same case
        assert mail_defaults({}, "127.0.0.1") == {}


def test_up_refuses_ports_another_process_listens_on_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second `lapor up` (another data directory, the same ports) printed "LAPOR is up" with
    the first system's URLs, because the ports it waited for answered, while its own children
    failed to bind and restarted forever. It now refuses at once, naming each port and the
    variable that moves it, and starts nothing."""
    from tests.support import free_port

    for name in ("LAPOR_INTAKE_SMTP_PORT", "LAPOR_INTAKE_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    ports = {f"{name}_port": free_port() for name in SERVICE_NAMES}
    settings = Settings(
        data_dir=tmp_path,
        nats_port=free_port(),
        relay_metrics_port=free_port(),
        **ports,  # type: ignore[arg-type]
    )
    assert supervisor.ports_in_use(settings, {}) == []

    started: list[str] = []
    monkeypatch.setattr(supervisor.Child, "start", lambda child: started.append(child.name))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", settings.verification_port))
        other.listen()
        with pytest.raises(SystemExit) as refused:
            supervisor.supervise(settings)
    message = str(refused.value)
    assert f"{settings.verification_port} (LAPOR_VERIFICATION_PORT)" in message
    assert "LAPOR_INTAKE_PORT" not in message
    assert started == []


def test_the_cli_beside_lapor_up_on_another_nats_port_names_that_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator ran `lapor up` with LAPOR_NATS_PORT=14333 and, in the same shell, `lapor nats
    credentials --ops`: the URL it printed said 4222 (LAPOR_NATS_URL's fixed default), where no
    LAPOR listens. Unset, LAPOR_NATS_URL follows LAPOR_NATS_PORT, as `lapor up` gives its
    children; set, it stays as it is."""
    from typer.testing import CliRunner

    from cli.main import app

    for name in ("LAPOR_NATS_URL", "LAPOR_NATS_PUBLIC_URL", "LAPOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()  # one process, one CLI run: not the settings of another test
    env = {
        "LAPOR_DATA_DIR": str(tmp_path),
        "LAPOR_SECRET_KEY": "cli-test-secret",
        "LAPOR_NATS_PORT": "14333",
    }
    printed = CliRunner().invoke(app, ["nats", "credentials", "--ops"], env=env)
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip().splitlines()[-1].endswith("@127.0.0.1:14333")

    monkeypatch.setenv("LAPOR_NATS_PORT", "14333")
    assert Settings().nats_url == "nats://127.0.0.1:14333"
    monkeypatch.setenv("LAPOR_NATS_URL", "nats://nats-1:4222,nats://nats-2:4222")
    assert Settings().nats_url == "nats://nats-1:4222,nats://nats-2:4222"
    get_settings.cache_clear()
