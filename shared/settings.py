"""Configuration from the environment (`LAPOR_*`), one model shared by every process."""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("intake", "verification", "routing", "sla", "notify")
DEFAULT_PORTS = {"intake": 8000, "verification": 8001, "routing": 8002, "sla": 8003, "notify": 8004}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Where the store and views live")
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="Comma-separated servers; default: this host's LAPOR_NATS_PORT (`lapor up`'s)",
    )
    nats_public_url: str | None = Field(
        default=None,
        description="The NATS URL institutions connect to (`lapor nats credentials`); default:"
        " LAPOR_NATS_URL",
    )
    event_store: str | None = Field(
        default=None, description="sqlite:///path or kurrentdb://…; default: DATA_DIR/events.db"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Master secret: signs tokens and wraps the per-report data keys. Unset: a"
        " random secret is generated once into DATA_DIR/secret.key (mode 0600).",
    )
    secret_key_file: Path | None = Field(
        default=None, description="Read the master secret from this file instead"
    )
    key_store: str | None = Field(
        default=None,
        description="sqlite:///PATH for the per-report data keys; default: the SQLite event"
        " store's own database (every replica reads them there)",
    )
    sms_sendsms_url: str | None = None
    smtp_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    clock_file: Path | None = Field(
        default=None,
        description="Test hook: a file holding an ISO time that replaces the wall clock",
    )
    host: str = "127.0.0.1"
    intake_port: int = DEFAULT_PORTS["intake"]
    verification_port: int = DEFAULT_PORTS["verification"]
    routing_port: int = DEFAULT_PORTS["routing"]
    sla_port: int = DEFAULT_PORTS["sla"]
    notify_port: int = DEFAULT_PORTS["notify"]
    nats_port: int = 4222
    relay_metrics_port: int = 8005
    nats_stream_replicas: int = 1
    agency_consumers: bool = Field(
        default=True,
        description="The relay keeps a durable consumer agency-<CODE> for every institution"
        " (off only for test systems that need none: over a thousand consumers slow a"
        " nats-server's start and stop)",
    )
    agency_ack_wait_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An institution's consumer delivers again what it has not acknowledged"
        " within this time",
    )
    failed_access_codes_per_minute: float = Field(
        default=20,
        description="Wrong X-Access-Code answers per client address a minute (sla, notify)",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks (comma-separated, CIDR allowed) of the reverse"
        " proxies whose X-Forwarded-For / X-Forwarded-Proto every service believes; from any"
        " other peer the headers are ignored (default: none trusted). The one setting for all"
        " services.",
    )
    log_level: str = "INFO"
    sla_tick_seconds: float = 5.0
    audit_checkpoint_seconds: float = Field(
        default=5.0,
        gt=0,
        description="The relay signs a checkpoint of the store's heads at most this often (when"
        " something happened): how long a deleted newest event can go unnoticed per report",
    )

    @model_validator(mode="after")
    def _nats_url_follows_the_port(self) -> Settings:
        """Unset, LAPOR_NATS_URL is the server `lapor up` starts (LAPOR_NATS_PORT), so the CLI
        beside it reaches it and prints it (`lapor nats credentials`)."""
        if "nats_url" not in self.model_fields_set:
            self.nats_url = f"nats://{self.host}:{self.nats_port}"
        return self

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def url_of(self, service: str) -> str:
        return f"http://{self.host}:{self.port_of(service)}"

    @property
    def event_store_url(self) -> str:
        return self.event_store or f"sqlite:///{(self.data_dir / 'events.db').resolve()}"

    @property
    def master_secret(self) -> bytes:
        if self.secret_key_file is not None:
            return self.secret_key_file.read_bytes().strip()
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return generated_secret(self.data_dir / "secret.key")

    def view_db(self, service: str) -> Path:
        return self.data_dir / f"{service}.db"


def generated_secret(path: Path) -> bytes:
    """The embedded default: a random secret made once per data directory, never a known one.

    Several processes may start at once: the first link wins, the others read what it wrote.
    """
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}")
    candidate.write_bytes(secrets.token_urlsafe(48).encode())
    candidate.chmod(0o600)
    with contextlib.suppress(FileExistsError):
        os.link(candidate, path)
    candidate.unlink(missing_ok=True)
    return path.read_bytes().strip()


# What LAPOR writes is for LAPOR only: the store, keys, views, logs, attachments and secrets hold
# personal data. Files 0600, folders 0700, for everything a LAPOR process (or nats-server, its
# child) creates, now or later.
PRIVATE_UMASK = 0o077


def keep_private(data_dir: Path, depth: int = 2) -> None:
    """Make this process create files 0600 and folders 0700, and take group and other rights
    away from what is already in the data directory (an older install, a volume created 0755):
    the directory itself and `depth` levels below it. Deeper files (attachments) are then out of
    reach through their closed folders; walking them all would slow every start."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)

    def tighten(path: Path, level: int) -> None:
        try:
            mode = path.lstat().st_mode
        except OSError:
            return
        if path.is_symlink():
            return
        if mode & 0o077:
            with contextlib.suppress(OSError):
                path.chmod((mode & 0o700) | (0o700 if path.is_dir() else 0o600))
        if path.is_dir() and level < depth:
            with contextlib.suppress(OSError):
                for child in path.iterdir():
                    tighten(child, level + 1)

    tighten(data_dir, 0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        raise SystemExit(settings_problem(error)) from None  # no traceback: the cause is it
    keep_private(settings.data_dir)
    return settings


def settings_problem(error: ValidationError) -> str:
    """Each wrong value under the variable's own name (not pydantic's field name); a value that
    may hold a password (a URL, a secret) is not repeated."""
    problems = []
    for problem in error.errors():
        variable = "LAPOR_" + "_".join(str(part) for part in problem["loc"]).upper()
        hidden = any(word in variable for word in ("SECRET", "TOKEN", "PASSWORD", "URL", "KEY"))
        value = "" if hidden else f"={problem.get('input')!r}"
        problems.append(f"{variable}{value}: {problem['msg']}")
    return "LAPOR is not configured right: " + "; ".join(problems)
