"""The `lapor` command."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from shared.auth import Role, create_token
from shared.settings import SERVICE_NAMES, get_settings

app = typer.Typer(
    help="LAPOR: event-sourced complaint handling for public services.", no_args_is_help=True
)
token_app = typer.Typer(help="Bearer tokens for officers and systems.", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper evidence of the event store.", no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence packs for the Ombudsman.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(evidence_app, name="evidence")
console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


# SQLite's answers that say the disk or the files are at fault, not LAPOR (sqlite_errorname).
_STORAGE_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")


def stops_cleanly_on_storage_failure(command: Callable[P, R]) -> Callable[P, R]:
    """An operator's command on a full or read-only disk: the cause and what to do, exit 2,
    not a traceback that buries them."""

    @functools.wraps(command)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        from shared.store.port import StoreUnavailable

        try:
            return command(*args, **kwargs)
        except (StoreUnavailable, sqlite3.OperationalError) as error:
            name = getattr(error, "sqlite_errorname", "") or ""
            if isinstance(error, sqlite3.OperationalError) and not name.startswith(_STORAGE_ERRORS):
                raise
            data_dir = os.environ.get("LAPOR_DATA_DIR", "./data")
            console.print(
                f"stopped: {error} (data directory {data_dir}). Free space there or make it"
                " writable, then run the command again.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from error

    return guarded


# SQLite's WAL index (`<db>-shm`): every connection to the database holds a read lock on this
# byte (the "DMS" slot, after the 8 lock bytes at 120) as long as it is open, in any process.
_SHM_DMS_BYTE = 128


def open_elsewhere(db: Path) -> bool:
    """True when another process has the WAL database `db` open. Call it before this process
    opens `db`: closing our descriptor drops every POSIX lock this process holds on the file."""
    import fcntl

    try:
        fd = os.open(db.with_name(f"{db.name}-shm"), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the probe's lock with it
    return False


def _service_module(name: str) -> object:
    if name not in SERVICE_NAMES:
        raise typer.BadParameter(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    return importlib.import_module(f"services.{name}.bootstrap")


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="intake|verification|routing|sla|notify|relay")],
) -> None:
    """Run one service (or the relay) in the foreground."""
    settings = get_settings()
    if name == "relay":
        from services.relay.relay import run_relay

        asyncio.run(run_relay(settings, metrics_port=settings.relay_metrics_port))
        return
    module = _service_module(name)
    from shared.runtime.service import run as run_service

    run_service(name, module.create_app(settings), settings)  # type: ignore[attr-defined]


@app.command()
def up() -> None:
    """Start nats-server, the relay and all five services; restart any that die; Ctrl-C stops."""
    from cli.supervisor import mail_defaults, supervise
    from services.intake.channels.config import ensure_sms_webhook_token

    settings = get_settings()
    os.environ.update(mail_defaults(os.environ, settings.host))  # for every child, and told below
    _ = settings.master_secret  # generated once here (when unset), before the children start
    sms_token = ensure_sms_webhook_token(settings.data_dir)  # the same: intake reads the file

    def ready() -> None:
        print("LAPOR is up. Data in", settings.data_dir.resolve(), flush=True)
        for name in SERVICE_NAMES:
            print(
                f"  {name:<13} {settings.url_of(name)}   (API docs: {settings.url_of(name)}/docs)"
            )
        print(
            f"  {'nats':<13} nats://{settings.host}:{settings.nats_port}"
            "   (no anonymous clients: lapor nats credentials --ops | --agency CODE)"
        )
        print("Citizens: open the intake URL. Officers: get a token with")
        print("  .venv/bin/lapor token create --role admin")
        print("  .venv/bin/lapor token create --role agency --agency DINKES-KOTA-KUPANG")
        print("Watch one report go through its whole life: .venv/bin/lapor demo")
        if os.environ.get("LAPOR_INTAKE_SMTP_PORT"):
            print(
                f"E-mail: intake takes mail on {settings.host}:"
                f"{os.environ['LAPOR_INTAKE_SMTP_PORT']}; notices invite replies to"
                f" {os.environ.get('LAPOR_INTAKE_EMAIL_FROM', '')} (lapor+<ID>@…)"
            )
        print("SMS 1708: put this get-url in Kannel's sms-service (the token is the gateway's):")
        print(
            f'  get-url = "{settings.url_of("intake")}/channels/sms?token={sms_token}'
            '&from=%p&to=%P&text=%b&id=%I&coding=%c&charset=%C"'
        )
        print(
            "Logs in",
            (settings.data_dir / "logs").resolve(),
            "- Ctrl-C stops everything.",
            flush=True,
        )

    raise typer.Exit(supervise(settings, ready))


@token_app.command("create")
@stops_cleanly_on_storage_failure
def token_create(
    role: Annotated[Role, typer.Option(help="admin|agency|ombudsman|client")],
    agency: Annotated[str | None, typer.Option(help="Agency code (required for agency)")] = None,
    region: Annotated[str | None, typer.Option(help="Region code scope")] = None,
    subject: Annotated[str | None, typer.Option(help="Who the token is for")] = None,
    ttl_days: Annotated[
        int, typer.Option(help="Days until it expires (at most 90 admin, 180 agency/ombudsman)")
    ] = 30,
) -> None:
    """Print a signed bearer token on the last line."""
    from cli.tokens import check_agency, check_region

    settings = get_settings()
    if role is Role.AGENCY and not agency:
        raise typer.BadParameter("--agency is required with --role agency", param_hint="--agency")
    if agency is not None:
        check_agency(settings, agency)
    if region is not None:
        region = check_region(region)
    try:
        token = create_token(
            settings.master_secret,
            role,
            agency=agency,
            region=region,
            subject=subject,
            ttl=timedelta(days=ttl_days),
        )
    except ValueError as error:
        raise typer.BadParameter(
            str(error).removeprefix("ttl: "), param_hint="--ttl-days"
        ) from None
    console.print(
        f"Token for role {role.value}"
        + (f", agency {agency}" if agency else "")
        + (f", region {region}" if region else "")
        + f", valid {ttl_days} days:"
    )
    print(token)


@token_app.command("revoke")
@stops_cleanly_on_storage_failure
def token_revoke(
    token: Annotated[str | None, typer.Argument(help="The token, or its id (jti)")] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="Instead: every token issued so far to this subject (`sub`)"),
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")] = None,
) -> None:
    """Revoke a token, or every token of one subject (an officer who left): every service refuses
    it from the moment it sees the revocation."""
    from cli.tokens import revoke, revoke_subject

    if (token is None) == (subject is None):
        raise typer.BadParameter("give exactly one of TOKEN or --subject", param_hint="TOKEN")
    if subject is not None:
        issued_before = revoke_subject(get_settings(), subject, note)
        print(f"revoked every token of {subject} issued up to {issued_before.isoformat()}")
        return
    assert token is not None
    token_id = revoke(get_settings(), token, note)
    print(f"revoked {token_id}")


@audit_app.command("verify")
def audit_verify(
    tracking_id: Annotated[str | None, typer.Argument(help="One report; default: all")] = None,
) -> None:
    """Recompute every hash chain; name any altered, missing or reordered event; exit 1 if any."""
    from cli.audit import AuditResult, audit_sqlite_positions, audit_store
    from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
    from shared.signing import public_key_of
    from shared.store import open_store
    from shared.store.port import StoreUnavailable

    settings = get_settings()
    if tracking_id is not None:
        try:
            tracking_id = normalize_tracking_id(tracking_id)
        except InvalidTrackingId as error:
            raise typer.BadParameter(str(error), param_hint="TRACKING_ID") from error

    async def go() -> AuditResult:
        problems: list[str] = []
        url = settings.event_store_url
        store = open_store(url, create=False)  # a store that is not there: StoreUnavailable
        try:
            if url.startswith("sqlite:///") and tracking_id is None:
                problems.extend(audit_sqlite_positions(Path(url.removeprefix("sqlite:///"))))
            result = await audit_store(
                store, tracking_id, public_key_of(settings.data_dir / "keys")
            )
        finally:
            await store.close()
        result.problems.extend(problems)
        return result

    try:
        result = asyncio.run(go())
    except StoreUnavailable as error:
        print(f"audit stopped: {error}")
        raise typer.Exit(2) from error
    streams, events, problems = result.streams, result.events, result.problems
    for problem in problems:
        print(f"TAMPERED: {problem}")
    for note in result.notes:
        print(f"note: {note}")
    if problems:
        print(f"audit FAILED: {len(problems)} problem(s) in {streams} stream(s), {events} event(s)")
        raise typer.Exit(1)
    covered = f"{result.checkpoints} signed checkpoint(s)"
    if tracking_id is None and result.uncovered:
        covered += f"; {result.uncovered} newest event(s) not checkpointed yet"
    print(f"audit OK: {streams} stream(s), {events} event(s), every hash chain intact; {covered}")


@evidence_app.command("verify")
def evidence_verify(
    file: Annotated[Path, typer.Argument(help="The pack (evidence.json)", exists=True)],
    key: Annotated[
        Path | None,
        typer.Option(
            help="The sla service's public key: what GET /api/v1/evidence-key answers (saved to a"
            " file), a PEM public key, or base64; default: this machine's sla key"
        ),
    ] = None,
) -> None:
    """Check an evidence pack offline: its signature, hash chain and digests; exit 1 if not."""
    from cli.evidence import KeyProblem, check_pack, local_key, read_public_key

    try:
        public = read_public_key(key.read_text()) if key else local_key(get_settings().data_dir)
    except (KeyProblem, ValueError, OSError) as error:
        raise typer.BadParameter(str(error), param_hint="--key") from error
    if public is None:
        raise typer.BadParameter(
            "no key: save GET /api/v1/evidence-key of the sla service and pass it",
            param_hint="--key",
        )
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"not a JSON evidence pack: {error}", param_hint="FILE") from error
    verdict = check_pack(document, public)
    for line in verdict.checks:
        print(f"OK: {line}")
    for line in verdict.problems:
        print(f"FAILED: {line}")
    tid = document.get("tracking_id") if isinstance(document, dict) else None
    if not verdict.ok:
        print(f"evidence FAILED: {len(verdict.problems)} problem(s) in the pack of {tid}")
        raise typer.Exit(1)
    signer = "the key given" if key else "this machine's key (DATA_DIR/keys)"
    print(f"evidence OK: the pack of {tid} is intact and signed by {signer}")


@app.command()
@stops_cleanly_on_storage_failure
def rebuild(
    service: Annotated[str, typer.Argument(help="intake|verification|routing|sla|notify")],
    force: Annotated[bool, typer.Option(help="Rebuild even if the service answers")] = False,
) -> None:
    """Rebuild a service's read models from the event store (stop the service first)."""
    from shared.store import open_store

    settings = get_settings()
    module = _service_module(service)
    if not force:
        import httpx  # here: importing it costs a fifth of a second on every command

        try:
            httpx.get(f"{settings.url_of(service)}/healthz", timeout=1.0)
            console.print(
                f"{service} is running at {settings.url_of(service)}: stop it first (or --force)"
            )
            raise typer.Exit(2)
        except httpx.HTTPError:
            pass
        # The port says nothing when this shell names other ports than the running system.
        view = settings.view_db(service)
        if open_elsewhere(view):
            console.print(
                f"{view} is open in another process ({service} running?): stop it first"
                " (or --force)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2)
    projectors = module.create_projectors(settings)  # type: ignore[attr-defined]
    if not projectors:
        print(f"{service} keeps no read models")
        return

    async def go() -> int:
        store = open_store(settings.event_store_url)
        count = 0
        try:
            for projector in projectors:
                with Progress(
                    TextColumn(f"[bold]rebuild {projector.name}"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total} positions"),
                    TimeRemainingColumn(),
                    console=console,
                ) as bar:
                    task = bar.add_task("rebuild", total=await store.last_position() or 1)

                    def progress(position: int, total: int, task: TaskID = task) -> None:
                        bar.update(task, completed=position, total=total or 1)

                    count = int(await projector.rebuild(store, progress))
        finally:
            for projector in projectors:
                projector.close()
            await store.close()
        return count

    count = asyncio.run(go())
    print(f"rebuilt {service}: {count} events replayed")


store_app = typer.Typer(help="The event store itself.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("migrate")
@stops_cleanly_on_storage_failure
def store_migrate(
    from_url: Annotated[
        str, typer.Option("--from", help="Source store: sqlite:///PATH or kurrentdb://…")
    ],
    to_url: Annotated[
        str, typer.Option("--to", help="Target store: kurrentdb://… or sqlite:///PATH")
    ],
    relay_checkpoint: Annotated[
        Path | None,
        typer.Option(help="The relay's relay.db: move its checkpoint to the new store's positions"),
    ] = None,
    batch: Annotated[int, typer.Option(help="Events read per page")] = 2000,
) -> None:
    """Copy every event to another store (order, ids, hash chains kept) and verify; re-runnable."""
    from cli.store_migrate import run_migration

    raise typer.Exit(run_migration(from_url, to_url, console, batch, relay_checkpoint))


privacy_app = typer.Typer(help="Reporters' personal data (UU 27/2022).", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("erase")
@stops_cleanly_on_storage_failure
def privacy_erase(
    tracking_id: Annotated[str, typer.Argument(help="The report whose reporter is erased")],
) -> None:
    """Crypto-shred the reporter's identity and contact (delete the report's data key)."""
    from cli.privacy import erase_command

    raise typer.Exit(erase_command(get_settings(), tracking_id))


directory_app = typer.Typer(help="The institution directory.", no_args_is_help=True)
app.add_typer(directory_app, name="directory")


@directory_app.command("import")
@stops_cleanly_on_storage_failure
def directory_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Directory file (seed format)")
    ],
    dry_run: Annotated[bool, typer.Option(help="Validate and count; append nothing")] = False,
) -> None:
    """Import a directory file (a whole directory, or an institution's own OPDs and units under
    parents already in it): one event per new or changed entry; a re-import appends nothing."""
    from cli.progress import ImportProgress
    from services.routing.directory_import import run_import
    from shared.directory.model import DirectoryError

    try:
        with ImportProgress() as progress:
            result = run_import(get_settings(), file, dry_run=dry_run, progress=progress)
    except DirectoryError as error:
        print(error)
        raise typer.Exit(1) from error
    for warning in result.warnings:
        print("warning:", warning)
    print(result.summary())


nats_app = typer.Typer(
    help="NATS: users from the directory, credentials, the server.", no_args_is_help=True
)
app.add_typer(nats_app, name="nats")


@nats_app.command("accounts")
@stops_cleanly_on_storage_failure
def nats_accounts(
    out: Annotated[
        Path | None, typer.Option(help="Write here (mode 0600) instead of printing")
    ] = None,
) -> None:
    """The accounts block of nats-server's configuration, generated from the directory."""
    from cli.nats import accounts_text, read_codes, write_private

    settings = get_settings()
    text = accounts_text(settings, asyncio.run(read_codes(settings)))
    if out is None:
        print(text, end="")
        return
    write_private(out, text)
    print(f"wrote {out}")


@nats_app.command("credentials")
@stops_cleanly_on_storage_failure
def nats_credentials(
    agency: Annotated[str | None, typer.Option(help="An institution's code")] = None,
    ops: Annotated[bool, typer.Option("--ops", help="Read-only monitoring")] = False,
) -> None:
    """Print a NATS URL with credentials on the last line (--agency CODE or --ops)."""
    from cli.nats import credentials

    if ops == (agency is not None):
        raise typer.BadParameter(
            "give exactly one of --agency CODE or --ops", param_hint="--agency"
        )
    settings = get_settings()
    if agency is not None:
        from cli.tokens import check_agency

        check_agency(settings, agency)
    lines = credentials(settings, agency, ops)
    for line in lines[:-1]:
        console.print(line, highlight=False, markup=False)
    print(lines[-1])


@nats_app.command("serve")
def nats_serve(
    base: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Server configuration without accounts (deploy/nats)"
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Where the full configuration is written")
    ] = None,
) -> None:
    """Run nats-server with the generated accounts; reload it when the directory changes."""
    from cli.nats import serve

    settings = get_settings()
    target = config or settings.data_dir / "nats" / "nats.conf"
    raise typer.Exit(asyncio.run(serve(settings, base, target)))


@app.command()
def demo() -> None:
    """Drive one report through its whole life against the running system; print its timeline."""
    from cli.demo import run_demo

    raise typer.Exit(run_demo(get_settings()))


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(app())
