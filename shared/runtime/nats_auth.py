"""Who may do what on NATS: the users of the LAPOR account, generated from the directory.

Every LAPOR process connects as its own user (`relay`, `intake`, …); every institution in the
directory has a user `agency-<CODE>` that can pull and acknowledge its own durable consumer
`agency-<CODE>` and nothing else; `ops` may look (stream and consumer info) and touch nothing.
Passwords are derived from the master secret (HMAC), so the server's configuration and the URL a
process or an institution is given agree without any password being stored or copied around.

Pure text: `server_accounts(...)` is the `accounts { … }` block of nats-server's configuration
(written by `lapor nats accounts` and loaded by `lapor nats serve` / `lapor up`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from shared.crypto import keyed_hash

if TYPE_CHECKING:
    from faststream.security import SASLPlaintext

# The same names as shared.runtime.messaging (checked by tests/unit/test_nats_auth.py), kept
# here so that `lapor nats credentials` answers without loading the NATS client.
STREAM_NAME = "LAPOR_EVENTS"
ALL_EVENTS = "lapor.v1.events.>"
DEAD_LETTER_PREFIX = "lapor.v1.deadletter"

ACCOUNT = "LAPOR"
RELAY_USER = "relay"
OPS_USER = "ops"
SYSTEM_USER = "sys"
AGENCY_CONSUMER_PREFIX = "agency-"
# What each LAPOR service runs as; the relay is the only publisher of events.
SERVICE_USERS = ("intake", "verification", "routing", "sla", "notify")
_JS = "$JS.API"


def nats_password(master_secret: bytes, user: str) -> str:
    """The password of one NATS user, derived from the master secret (never stored)."""
    return keyed_hash(master_secret, "nats-user", user)[:40]


def agency_consumer(code: str) -> str:
    """The durable pull consumer (and the NATS user) of one institution."""
    return f"{AGENCY_CONSUMER_PREFIX}{code}"


def agency_filter(code: str) -> str:
    return f"lapor.v1.events.*.*.{code}"


def inbox_prefix(user: str) -> str:
    """Where an outside client's replies arrive: its own inboxes, which no one else may read."""
    return f"_INBOX.{user}"


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` (one or several, comma-separated) carrying `user:password`."""
    out = []
    for one in url.split(","):
        parts = urlsplit(one.strip())
        host = parts.hostname or "127.0.0.1"
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        out.append(urlunsplit((parts.scheme or "nats", netloc, parts.path, "", "")))
    return ",".join(out)


def has_credentials(url: str) -> bool:
    return any(urlsplit(one.strip()).username for one in url.split(","))


def _list(subjects: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(s) for s in subjects) + "]"


def _permissions(publish: Iterable[str], subscribe: Iterable[str]) -> str:
    return (
        f"permissions: {{ publish: {{ allow: {_list(publish)} }},"
        f" subscribe: {{ allow: {_list(subscribe)} }} }}"
    )


def relay_permissions() -> tuple[list[str], list[str]]:
    """The relay publishes events, owns the stream and the institutions' consumers."""
    stream = STREAM_NAME
    publish = [
        ALL_EVENTS,
        f"{_JS}.INFO",
        f"{_JS}.STREAM.INFO.{stream}",
        f"{_JS}.STREAM.CREATE.{stream}",
        f"{_JS}.STREAM.UPDATE.{stream}",
        f"{_JS}.STREAM.MSG.GET.{stream}",
        f"{_JS}.DIRECT.GET.{stream}",
        f"{_JS}.DIRECT.GET.{stream}.>",
        f"{_JS}.CONSUMER.CREATE.{stream}.>",
        f"{_JS}.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"{_JS}.CONSUMER.DELETE.{stream}.>",
        f"{_JS}.CONSUMER.INFO.{stream}.>",
        f"{_JS}.CONSUMER.NAMES.{stream}",
        f"{_JS}.CONSUMER.LIST.{stream}",
    ]
    return publish, ["_INBOX.>"]


def service_permissions(name: str) -> tuple[list[str], list[str]]:
    """A service reads the stream through its own durable consumer (named after it) and nothing
    else; it cannot publish events, change the stream or touch another consumer."""
    stream = STREAM_NAME
    publish = [
        f"{_JS}.INFO",
        f"{_JS}.STREAM.INFO.{stream}",
        f"{_JS}.STREAM.NAMES",
        f"{_JS}.CONSUMER.CREATE.{stream}.{name}",
        f"{_JS}.CONSUMER.CREATE.{stream}.{name}.>",
        f"{_JS}.CONSUMER.DURABLE.CREATE.{stream}.{name}",
        f"{_JS}.CONSUMER.INFO.{stream}.{name}",
        f"{_JS}.CONSUMER.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
        f"{_JS}.CONSUMER.RESET.{stream}.{name}",
        f"{DEAD_LETTER_PREFIX}.{name}",
    ]
    subscribe = ["_INBOX.>", f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{name}"]
    return publish, subscribe


def ops_permissions() -> tuple[list[str], list[str]]:
    """Monitoring, read-only: stream and consumer state, never a message or a change."""
    stream = STREAM_NAME
    publish = [
        f"{_JS}.INFO",
        f"{_JS}.STREAM.NAMES",
        f"{_JS}.STREAM.LIST",
        f"{_JS}.STREAM.INFO.{stream}",
        f"{_JS}.CONSUMER.NAMES.{stream}",
        f"{_JS}.CONSUMER.LIST.{stream}",
        f"{_JS}.CONSUMER.INFO.{stream}.>",
    ]
    return publish, [f"{inbox_prefix(OPS_USER)}.>"]


def agency_permissions(code: str) -> tuple[list[str], list[str]]:
    """Exactly: pull and acknowledge its own consumer (nats.py `pull_subscribe_bind`)."""
    consumer = agency_consumer(code)
    publish = [
        f"{_JS}.CONSUMER.MSG.NEXT.{STREAM_NAME}.{consumer}",
        f"{_JS}.CONSUMER.INFO.{STREAM_NAME}.{consumer}",
        f"$JS.ACK.{STREAM_NAME}.{consumer}.>",
    ]
    return publish, [f"{inbox_prefix(consumer)}.>"]


def _user(name: str, password: str, permissions: tuple[list[str], list[str]]) -> str:
    return (
        f"      {{ user: {json.dumps(name)}, password: {json.dumps(password)},"
        f" {_permissions(*permissions)} }}"
    )


def server_accounts(master_secret: bytes, agency_codes: Iterable[str]) -> str:
    """The `accounts` block (and `system_account`) of nats-server's configuration."""
    users = [_user(RELAY_USER, nats_password(master_secret, RELAY_USER), relay_permissions())]
    users += [
        _user(name, nats_password(master_secret, name), service_permissions(name))
        for name in SERVICE_USERS
    ]
    users.append(_user(OPS_USER, nats_password(master_secret, OPS_USER), ops_permissions()))
    for code in sorted(set(agency_codes)):
        user = agency_consumer(code)
        users.append(_user(user, nats_password(master_secret, user), agency_permissions(code)))
    system = nats_password(master_secret, SYSTEM_USER)
    return (
        "# Generated by `lapor nats accounts` from the institution directory: do not edit.\n"
        "# Every LAPOR process and every institution has its own user; the passwords are\n"
        "# derived from LAPOR's master secret. Anonymous clients are refused.\n"
        "accounts: {\n"
        f"  {ACCOUNT}: {{\n"
        "    jetstream: enabled\n"
        "    users: [\n" + "\n".join(users) + "\n    ]\n  }\n"
        f"  SYS: {{ users: [ {{ user: {SYSTEM_USER}, password: {json.dumps(system)} }} ] }}\n"
        "}\n"
        "system_account: SYS\n"
    )


def embedded_server_config(
    host: str, port: int, store_dir: str, monitor_port: int | None = None
) -> str:
    """The base configuration of `lapor up`'s one-node server (accounts are appended)."""
    lines = [
        "server_name: lapor-local",
        f"listen: {json.dumps(f'{host}:{port}')}",
        f"jetstream {{ store_dir: {json.dumps(store_dir)} }}",
        "max_payload: 1MB",
    ]
    if monitor_port:
        lines.append(f"http: {json.dumps(f'{host}:{monitor_port}')}")
    return "\n".join(lines) + "\n"


def process_credentials(url: str, master_secret: bytes, user: str) -> dict[str, str] | None:
    """How a LAPOR process logs in: as its own user, unless its URL already says who it is.

    A server without authentication ignores them, so the same process runs against both."""
    if has_credentials(url):
        return None
    return {"user": user, "password": nats_password(master_secret, user)}


def nats_security(url: str, master_secret: bytes, user: str) -> SASLPlaintext | None:
    """`process_credentials` for a FastStream broker."""
    from faststream.security import SASLPlaintext

    found = process_credentials(url, master_secret, user)
    return None if found is None else SASLPlaintext(found["user"], found["password"])
