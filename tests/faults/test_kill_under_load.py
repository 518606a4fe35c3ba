"""A thousand reports while the relay, every service and nats-server are SIGKILLed in turn.

The story: citizens submit (retrying with the same Idempotency-Key when a request dies with the
process that served it), administrators bulk-verify what was acknowledged, routing forwards it,
notify tells the reporters and the agencies by e-mail. Meanwhile each component is killed at a
random moment and started again on the same port and data. Afterwards:
- every report acknowledged with 201 is in the store exactly once, and no retried request made a
  second report;
- every report went submitted -> verified -> forwarded, to the agency the rules name, once each;
- JetStream holds each stored event exactly once;
- no notification was sent twice (one outcome per notice; one e-mail per notice, except where the
  delivery log says `possible_duplicate`, the documented one-request window of a crash), and none
  was lost;
- every service's views equal a rebuild from the store (`lapor rebuild NAME`);
- `lapor audit verify` passes.

`LAPOR_FAULT_REPORTS` sets the number of reports (default 1000: each component is killed within
its slice of about 140; bench/RELIABILITY.md has runs of 2,000 and 5,000). The figures are printed
(run with `-s`) and, with `LAPOR_FAULT_SUMMARY=path`, written as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import nats
import pytest

from shared.runtime.messaging import STREAM_NAME
from shared.settings import SERVICE_NAMES
from tests.faults.harness import Faults, view_differences
from tests.faults.load import Load, LoadReport, Submission, make_submissions
from tests.support import wait_for

pytestmark = pytest.mark.timeout(900)

REPORTS = int(os.environ.get("LAPOR_FAULT_REPORTS", "1000"))
# In turn, each at a random moment of its slice of the load.
KILL_ORDER = ("relay", "intake", "verification", "nats", "routing", "notify", "sla")
REPORTER_TEMPLATES = ("received", "verified", "forwarded")


def streams_of_run(faults: Faults, run: str) -> dict[str, list[str]]:
    """The title each submission carries -> every stream holding a ReportSubmitted with it."""
    found: dict[str, list[str]] = defaultdict(list)
    for row in faults.store(
        "SELECT stream, json_extract(data, '$.title') AS title FROM events"
        " WHERE event_type = 'ReportSubmitted' AND json_extract(data, '$.title') LIKE ?",
        (f"Uji ketahanan {run}-%",),
    ):
        found[row["title"]].append(row["stream"])
    return found


def forwarded_count(faults: Faults, streams: list[str]) -> int:
    rows = faults.store(
        "SELECT COUNT(DISTINCT stream) FROM events WHERE event_type = 'ForwardedToOPD'"
        " AND stream IN (SELECT value FROM json_each(?))",
        (json.dumps(streams),),
    )
    return int(rows[0][0])


async def jetstream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(STREAM_NAME)
        return int(info.state.messages)
    finally:
        await nc.close()


def check_exactly_once(faults: Faults, subs: list[Submission], run: str) -> None:
    by_title = streams_of_run(faults, run)
    problems = []
    for sub in subs:
        streams = by_title.get(sub.body["title"], [])
        if streams != [f"report-{sub.tracking_id}"]:
            problems.append(f"{sub.key} (acknowledged {sub.tracking_id}): stored as {streams}")
    assert not problems, f"{len(problems)} reports not stored exactly once: {problems[:10]}"
    assert len(by_title) == len(subs)


def check_lifecycles(faults: Faults, subs: list[Submission]) -> None:
    streams = [f"report-{s.tracking_id}" for s in subs]
    history: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for row in faults.store(
        "SELECT stream, event_type, agency_code FROM events"
        " WHERE stream IN (SELECT value FROM json_each(?)) ORDER BY stream, stream_version",
        (json.dumps(streams),),
    ):
        history[row["stream"]].append((row["event_type"], row["agency_code"]))
    wrong = []
    for sub in subs:
        events = history[f"report-{sub.tracking_id}"]
        if [e for e, _ in events] != ["ReportSubmitted", "ReportVerified", "ForwardedToOPD"] or (
            events[-1][1] != sub.agency
        ):
            wrong.append((sub.tracking_id, sub.agency, events))
    assert not wrong, f"{len(wrong)} reports with another history: {wrong[:5]}"
    views = {
        row["tracking_id"]: (row["status"], row["agency_code"])
        for row in faults.store_view(
            "intake",
            "SELECT tracking_id, status, agency_code FROM reports"
            " WHERE tracking_id IN (SELECT value FROM json_each(?))",
            (json.dumps([s.tracking_id for s in subs]),),
        )
    }
    stale = [
        (s.tracking_id, views.get(str(s.tracking_id)))
        for s in subs
        if views.get(str(s.tracking_id)) != ("forwarded", s.agency)
    ]
    assert not stale, f"{len(stale)} public views not forwarded: {stale[:5]}"


def check_notifications(faults: Faults, subs: list[Submission]) -> dict[str, int]:
    outcomes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in faults.store(
        "SELECT event_type, data FROM events WHERE stream LIKE 'notifications-%'"
        " AND event_type IN ('NotificationSent', 'NotificationFailed', 'NotificationSkipped')"
    ):
        data = json.loads(row["data"])
        outcomes[data["notification_id"]].append({"type": row["event_type"], **data})
    twice = {nid: o for nid, o in outcomes.items() if len(o) > 1}
    assert not twice, f"notices with more than one outcome: {list(twice.items())[:3]}"

    unfinished = faults.store_outbox(
        "SELECT notification_id, state, recorded FROM outbox"
        " WHERE recorded = 0 OR state NOT IN ('sent', 'failed', 'skipped')"
    )
    assert not unfinished, [tuple(r) for r in unfinished[:5]]

    # None lost: each report told its reporter three times and its agency once.
    per_report: dict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    for (outcome,) in outcomes.values():
        per_report[outcome["tracking_id"]][
            (outcome["recipient_kind"], outcome["template"], outcome["type"])
        ] += 1
    missing = []
    for sub in subs:
        channel_outcome = "NotificationSent"
        want = Counter(
            {("reporter", t, channel_outcome): 1 for t in REPORTER_TEMPLATES}
            | {("officer", "officer_forwarded", "NotificationSent"): 1}
        )
        if per_report[str(sub.tracking_id)] != want:
            missing.append((sub.tracking_id, dict(per_report[str(sub.tracking_id)])))
    assert not missing, f"{len(missing)} reports not told exactly once: {missing[:3]}"

    # Sent once: one e-mail per notice, unless the delivery log owns up to a possible duplicate.
    mails = Counter(str(m.message["X-LAPOR-Notification-ID"]) for m in faults.sink.received())
    sent_by_email = {
        nid: o[0]
        for nid, o in outcomes.items()
        if o[0]["type"] == "NotificationSent" and o[0]["channel"] == "email"
    }
    lost = [nid for nid in sent_by_email if mails[nid] == 0]
    assert not lost, f"{len(lost)} e-mails recorded as sent never arrived: {lost[:5]}"
    doubled = {nid: n for nid, n in mails.items() if n > 1}
    unexplained = [
        nid for nid in doubled if not sent_by_email.get(nid, {}).get("possible_duplicate")
    ]
    assert not unexplained, f"e-mails sent twice without possible_duplicate: {unexplained}"
    return {
        "notices": len(outcomes),
        "emails": sum(mails.values()),
        "emails_twice": len(doubled),
        "possible_duplicate": sum(1 for o in outcomes.values() if o[0].get("possible_duplicate")),
    }


def summary(report: LoadReport, notices: dict[str, int], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "reports": len(report.submissions),
        "seconds": round(report.seconds, 1),
        "kills": [
            {
                "component": k.component,
                "at_acknowledged": k.at_acknowledged,
                "down_seconds": round(k.down_seconds or 0, 1),
                "citizen_requests_failed_meanwhile": k.failures_during,
            }
            for k in report.kills
        ],
        "submissions_retried": len(report.retried),
        "submission_failures": dict(report.failure_kinds()),
        "bulk_requests": report.bulk_requests,
        "bulk_retries": report.bulk_retries,
        "bulk_failures": dict(report.bulk_failures),
        **notices,
        **extra,
    }


def test_kills_under_load_lose_and_duplicate_nothing(whole: Faults) -> None:
    faults = whole
    run = uuid.uuid4().hex[:8]
    subs = make_submissions(REPORTS, run)
    started = time.monotonic()

    report = asyncio.run(Load(faults, subs, components=KILL_ORDER).run())
    assert not report.unexpected, report.unexpected[:10]
    assert [k.component for k in report.kills] == list(KILL_ORDER)
    assert report.verified == {s.tracking_id for s in subs}

    phases: dict[str, float] = {"load": round(time.monotonic() - started, 1)}
    streams = [f"report-{s.tracking_id}" for s in subs]
    wait_for(
        lambda: forwarded_count(faults, streams) == len(subs),
        timeout=300,
        interval=1.0,
        what=f"all {len(subs)} reports forwarded",
    )
    phases["forwarded"] = round(time.monotonic() - started, 1)
    quiet = faults.wait_quiet(timeout=300)
    phases["quiet"] = round(time.monotonic() - started, 1)

    check_exactly_once(faults, subs, run)
    check_lifecycles(faults, subs)
    notices = check_notifications(faults, subs)
    # Each stored event once in JetStream (plus the copies another test put there on purpose).
    published = asyncio.run(jetstream_messages(faults.nats.url))
    assert published == quiet.last_position + faults.copies_published

    phases["checked"] = round(time.monotonic() - started, 1)
    rebuilt = faults.rebuild_all()
    phases["rebuilt"] = round(time.monotonic() - started, 1)
    assert faults.observe() == quiet, "something moved while the views were compared"
    differences = [
        problem
        for name in SERVICE_NAMES
        for problem in view_differences(faults.view_path(name), rebuilt[name], name)
    ]
    assert not differences, differences
    phases["compared"] = round(time.monotonic() - started, 1)
    audit = faults.audit()
    phases["audited"] = round(time.monotonic() - started, 1)

    figures = summary(
        report,
        notices,
        {
            "events_in_store": quiet.last_position,
            "audit": audit,
            "total_seconds": round(time.monotonic() - started, 1),
            "phases": phases,
        },
    )
    print(json.dumps(figures, indent=2))
    target = os.environ.get("LAPOR_FAULT_SUMMARY")
    if target:
        Path(target).write_text(json.dumps(figures, indent=2) + "\n")
