"""A real Kannel 1.4.5 SMS gateway for tests: bearerbox, smsbox and a fake SMSC on free ports.

The configuration is generated into the test's directory from `peers/kannel.conf` (the shared copy
beside DESIGN.md when present, else the copy beside this file), with every port replaced by a free
one and the catch-all service pointed at the intake under test. `fakesmsc` (Debian
`kannel-extras`) plays the citizen's handset::

    with KannelGateway(tmp_path, intake_url) as kannel:
        reply = kannel.send("+6281234567890", "KUPANG jalan rusak")  # the reply SMS text
        kannel.sendsms_url                    # sendsms with the test user's credentials
        with kannel.handset() as phone:       # a handset that only receives (MT messages)
            kannel.sendsms("+62812...", "halo")   # = GET sendsms_url + &to=…&text=…
            message = phone.wait_for(lambda m: m.to == "+62812...")

(httpx's `params=` replaces a URL's query string: append to `sendsms_url` instead, as `sendsms`
does.)

The fake SMSC serves one client at a time, so `send` and `handset` take turns (a lock), and each
waits until bearerbox has let the previous client go.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from tests.support import SMS_WEBHOOK_TOKEN, free_port, load_factor, wait_for, wait_for_port

BEARERBOX = "bearerbox"
SMSBOX = "smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SHARED_TEMPLATE = Path("/work/shared/peers/kannel.conf")
LOCAL_TEMPLATE = Path(__file__).with_name("kannel.conf")
USERNAME = "lapor"
PASSWORD = "rahasia"
_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) ?(.*)>\s*$")


def missing_kannel() -> str | None:
    """Why the real Kannel cannot run here, or None when it can."""
    for binary in (BEARERBOX, SMSBOX):
        if shutil.which(binary) is None and not Path("/usr/sbin", binary).exists():
            return f"{binary} not found: apt-get install -y kannel"
    if not os.access(FAKESMSC, os.X_OK):
        return f"{FAKESMSC} not found: apt-get install -y kannel-extras"
    return None


def require_kannel() -> None:
    """Skip without Kannel, except under CI, where a missing peer is a failure."""
    import pytest

    reason = missing_kannel()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the real Kannel is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass(frozen=True)
class Sms:
    """One SMS as fakesmsc printed it."""

    sender: str
    to: str
    text: str


def _parse_got(line: str) -> Sms | None:
    match = _GOT.search(line)
    if match is None:
        return None
    sender, to, kind, data = match.groups()
    if kind == "ucs2":
        text = urllib.parse.unquote_to_bytes(data).decode("utf-16-be", errors="replace")
    elif kind in ("data", "udh-data"):
        text = urllib.parse.unquote_to_bytes(data).decode("latin-1")
    else:
        text = data
    return Sms(sender=sender, to=to, text=text)


@dataclass
class _Client:
    """One running fakesmsc: its stderr lines, parsed into received messages."""

    process: subprocess.Popen[str]
    messages: queue.Queue[Sms] = field(default_factory=queue.Queue)
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start_reading(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip())
            if " ERROR: " in line or " PANIC: " in line:
                self.errors.append(line.strip())
            sms = _parse_got(line)
            if sms is not None:
                self.messages.put(sms)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Handset:
    """A fakesmsc that only receives: what Kannel sends out through the fake SMSC."""

    def __init__(self, client: _Client) -> None:
        self._client = client
        self.received: list[Sms] = []

    def wait_for(self, match: Callable[[Sms], bool], timeout: float = 20.0) -> Sms:
        deadline = time.monotonic() + timeout * load_factor()
        for sms in self.received:
            if match(sms):
                return sms
        while time.monotonic() < deadline:
            try:
                sms = self._client.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.received.append(sms)
            if match(sms):
                return sms
        raise AssertionError(
            f"no matching SMS within {timeout}s; received {self.received}; "
            f"fakesmsc errors: {self._client.errors[-3:]}"
        )


class KannelGateway:
    """bearerbox + smsbox on free loopback ports, calling `intake_url`/channels/sms.

    mode="get" uses the shared configuration's get-url; mode="post" replaces it with a post-url
    (text in the body, sender in X-Kannel-From via send-sender, id in the query string).
    """

    def __init__(
        self,
        directory: Path,
        intake_url: str,
        *,
        mode: str = "get",
        token: str = SMS_WEBHOOK_TOKEN,
    ) -> None:
        if mode not in ("get", "post"):
            raise ValueError("mode: get or post")
        self.directory = directory
        self.intake_url = intake_url.rstrip("/")
        self.mode = mode
        self.token = token  # intake's LAPOR_SMS_WEBHOOK_TOKEN, sent as ?token=
        self.admin_port = free_port()
        self.box_port = free_port()
        self.smsc_port = free_port()
        self.sendsms_port = free_port()
        self.config_path = directory / "kannel.conf"
        self.log_dir = directory / "kannel-logs"
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._turn = threading.Lock()

    # --- configuration -------------------------------------------------------------------
    def config_text(self) -> str:
        template = SHARED_TEMPLATE if SHARED_TEMPLATE.exists() else LOCAL_TEMPLATE
        return self.render(template.read_text())

    def render(self, template: str) -> str:
        group = ""
        out: list[str] = []
        for line in template.splitlines():
            stripped = line.strip()
            key, _, value = (part.strip() for part in stripped.partition("="))
            if key == "group":
                group = value
            replacement = self._replace(group, key, value)
            if replacement is None:
                out.append(line)
            else:
                out.extend(replacement)
        return "\n".join(out) + "\n"

    def _replace(self, group: str, key: str, value: str) -> list[str] | None:
        ports = {
            ("core", "admin-port"): self.admin_port,
            ("core", "smsbox-port"): self.box_port,
            ("smsc", "port"): self.smsc_port,
            ("smsbox", "bearerbox-port"): self.box_port,
            ("smsbox", "sendsms-port"): self.sendsms_port,
        }
        if (group, key) in ports:
            return [f"{key} = {ports[(group, key)]}"]
        if key == "log-file":
            name = Path(value.strip('"')).name
            return [f'{key} = "{self.log_dir / name}"']
        if group == "sms-service" and key == "get-url":
            if self.mode == "get":
                return [f'get-url = "{self.intake_url}/channels/sms?{self._query(value, True)}"']
            return [
                f'post-url = "{self.intake_url}/channels/sms?{self._query(value, False)}"',
                "send-sender = true",
            ]
        return None

    def _query(self, url: str, with_text: bool) -> str:
        query = url.strip('"').partition("?")[2]
        parts = [p for p in query.split("&") if not p.startswith("token=")]
        if not with_text:
            parts = [p for p in parts if not p.startswith("text=")]
        return "&".join([f"token={self.token}", *parts])

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> KannelGateway:
        try:
            self.start()
        except BaseException:
            self.stop()  # bearerbox may be up while smsbox is not
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)  # Kannel does not create it
        self.config_path.write_text(self.config_text())
        self._spawn(BEARERBOX)
        wait_for_port(self.admin_port)
        self._spawn(SMSBOX)
        wait_for(
            lambda: "smsbox:" in (status := self.status()) and "on-line" in status,
            timeout=20,
            what="smsbox attached to bearerbox",
        )

    def _spawn(self, name: str) -> None:
        out = (self.log_dir / f"{name}.out").open("ab")
        try:
            process = subprocess.Popen(
                [_binary(name), str(self.config_path)], stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            out.close()
        self._processes[name] = process

    def status(self) -> str:
        response = httpx.get(
            f"http://127.0.0.1:{self.admin_port}/status.txt",
            params={"password": "status"},
            timeout=2,
        )
        return response.text

    def stop(self) -> None:
        """SIGINT to bearerbox (smsbox follows); whatever does not stop in time is killed."""
        bearerbox = self._processes.get(BEARERBOX)
        if bearerbox is not None and bearerbox.poll() is None:
            bearerbox.send_signal(signal.SIGINT)
        for name, grace in ((BEARERBOX, 15), (SMSBOX, 5)):
            process = self._processes.get(name)
            if process is None:
                continue
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)

    def log(self, name: str = "smsbox") -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def sendsms_url(self) -> str:
        return (
            f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"
            f"?username={USERNAME}&password={PASSWORD}"
        )

    def sendsms(self, to: str, text: str, **params: str) -> httpx.Response:
        """What notify does: Kannel's sendsms (202 accepted, 403 wrong password, 400 no `to`)."""
        query = urllib.parse.urlencode({"to": to, "text": text, **params})
        return httpx.get(f"{self.sendsms_url}&{query}", timeout=10)

    # --- the citizen's handset ---------------------------------------------------------------
    def _fakesmsc(self, *messages: str) -> _Client:
        args = [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.smsc_port), "-i", "0.05"]
        # -m 0 only receives; fakesmsc still wants one message argument
        args += ["-m", str(len(messages)), *(messages or ("0 0 text -",))]
        client = _Client(
            subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        )
        client.start_reading()
        return client

    def _connect(self, *messages: str) -> _Client:
        """Start fakesmsc; retry while bearerbox still holds the previous client's place."""
        deadline = time.monotonic() + 20 * load_factor()
        while True:
            self._wait_smsc_free(deadline)
            client = self._fakesmsc(*messages)
            connected = wait_for(
                lambda: self._client_state(client),
                timeout=max(0.5, deadline - time.monotonic()),
                what="fake SMSC client connected",
            )
            if connected == "ok":
                return client
            client.stop()
            if time.monotonic() > deadline:
                raise AssertionError(f"fakesmsc could not connect: {client.errors[-3:]}")

    def _client_state(self, client: _Client) -> str | None:
        if client.process.poll() is not None:
            return "lost"  # refused: bearerbox still held the previous client
        return "ok" if self._smsc_online() else None

    def _smsc_line(self) -> str:
        return next((line for line in self.status().splitlines() if "FAKE:" in line), "")

    def _smsc_online(self) -> bool:
        return "(online" in self._smsc_line()

    def _wait_smsc_free(self, deadline: float) -> None:
        wait_for(
            lambda: "(online" not in self._smsc_line(),
            timeout=max(0.5, deadline - time.monotonic()),
            what="fake SMSC free for a new client",
        )

    def send(
        self, sender: str, text: str, to: str = "1708", timeout: float = 20.0, ucs2: bool = False
    ) -> str:
        """The citizen sends one SMS; returns the text of the reply SMS Kannel delivers.

        `ucs2=True` sends it as a phone does when the text is not GSM-7 (emoji, other scripts).
        """
        if any(c.isspace() for c in sender + to):
            raise ValueError("sender and receiver are single words")
        if ucs2:
            message = f"{sender} {to} ucs2 {urllib.parse.quote(text.encode('utf-16-be'))}"
        elif "\n" in text or "\r" in text:
            raise ValueError("fakesmsc's text type is one line (use ucs2=True)")
        else:
            message = f"{sender} {to} text {text}"
        with self._turn:
            client = self._connect(message)
            try:
                try:
                    sms = client.messages.get(timeout=timeout)
                except queue.Empty:
                    raise AssertionError(
                        f"no reply SMS within {timeout}s; fakesmsc: {client.lines[-5:]}; "
                        f"smsbox log: {self.log()[-2000:]}"
                    ) from None
                return sms.text
            finally:
                client.stop()

    @contextmanager
    def handset(self) -> Iterator[Handset]:
        """A receiving-only fakesmsc for the duration of the block (MT messages land here)."""
        with self._turn:
            client = self._connect()
            try:
                yield Handset(client)
            finally:
                client.stop()
