"""An in-process gRPC test double of KurrentDB's Streams API (and Gossip), for kurrentdbclient.

Built on the protobuf messages and servicer base classes that `kurrentdbclient` ships, so the
real client talks to it over real gRPC. It implements what the client calls:

- Streams.Append (client streaming) and Streams.BatchAppend (bidirectional; the client uses it
  for every `append_to_stream` with a list of events);
- Streams.Read: stream reads (forwards/backwards, from start, end or a revision, `count`), `$all`
  reads (forwards/backwards from start, end or a commit position, with event-type or stream-name
  filters given as a regex or prefixes), and catch-up subscriptions to `$all` and to a stream
  (confirmation, catch-up, `caught_up`, then live events, checkpoints for filtered ones);
- Gossip.Read (one member, the leader), used when the connection string names several hosts or
  a `+discover` scheme.

Optional TLS (a self-signed certificate) with HTTP basic credentials checked on every call, and
fault injection for tests (`fail_next`, `drop_subscriptions`, `stop`/`start` on the same port).
Not implemented: Delete/Tombstone, persistent subscriptions, projections, users, ACLs, links.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc  # type: ignore[import-untyped]
from google.protobuf import any_pb2, empty_pb2, timestamp_pb2  # type: ignore[import-untyped]
from kurrentdbclient.protos.v1 import (
    gossip_pb2,
    gossip_pb2_grpc,
    shared_pb2,
    status_pb2,
    streams_pb2,
    streams_pb2_grpc,
)

from tests.kurrentdb_double.log import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    EventFilter,
    InvalidPosition,
    Log,
    Proposed,
    Record,
    TooBig,
    Written,
    WrongExpected,
)

FAILED_PRECONDITION = 9  # google.rpc.Code
INVALID_ARGUMENT = 3
LIVE_POLL = 0.05  # how often a live subscription re-checks that its caller is still there


@dataclass
class Faults:
    """Calls to fail on purpose, to exercise the adapter's retries."""

    fail_next: int = 0
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> grpc.StatusCode | None:
        with self.lock:
            if self.fail_next <= 0:
                return None
            self.fail_next -= 1
            return self.code


def _uuid(value: str) -> shared_pb2.UUID:
    return shared_pb2.UUID(string=value)


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _read_event(record: Record) -> streams_pb2.ReadResp:
    event = streams_pb2.ReadResp.ReadEvent.RecordedEvent(
        id=_uuid(record.event_id),
        stream_identifier=shared_pb2.StreamIdentifier(stream_name=record.stream.encode()),
        stream_revision=record.revision,
        prepare_position=record.position,
        commit_position=record.position,
        metadata={
            "type": record.event_type,
            "content-type": record.content_type,
            "created": str(record.created),
        },
        custom_metadata=record.custom_metadata,
        data=record.data,
    )
    return streams_pb2.ReadResp(
        event=streams_pb2.ReadResp.ReadEvent(event=event, commit_position=record.position)
    )


def _parse_filter(options: streams_pb2.ReadReq.Options) -> tuple[EventFilter | None, int]:
    if options.WhichOneof("filter_option") != "filter":
        return None, 0
    spec = options.filter
    on_stream = spec.WhichOneof("filter") == "stream_identifier"
    expression = spec.stream_identifier if on_stream else spec.event_type
    regex = re.compile(expression.regex) if expression.regex else None
    window = spec.max if spec.WhichOneof("window") == "max" else 32
    interval = max(1, window) * max(1, spec.checkpointIntervalMultiplier or 1)
    return EventFilter(on_stream, regex, tuple(expression.prefix)), interval


class StreamsServicer(streams_pb2_grpc.StreamsServicer):
    def __init__(self, double: KurrentDbDouble) -> None:
        self.double = double
        self.log = double.log

    # -- appends ----------------------------------------------------------------------------
    def Append(
        self, request_iterator: Iterator[streams_pb2.AppendReq], context: grpc.ServicerContext
    ) -> streams_pb2.AppendResp:
        self.double.admit(context, "Append")
        first = next(request_iterator)
        if first.WhichOneof("content") != "options":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "options expected first")
        options = first.options
        stream = options.stream_identifier.stream_name.decode()
        which = options.WhichOneof("expected_stream_revision")
        expected = {"no_stream": NO_STREAM, "any": ANY, "stream_exists": STREAM_EXISTS}.get(
            which or "any", options.revision
        )
        proposed = [
            Proposed(
                event_id=req.proposed_message.id.string,
                event_type=req.proposed_message.metadata["type"],
                content_type=req.proposed_message.metadata["content-type"],
                data=req.proposed_message.data,
                custom_metadata=req.proposed_message.custom_metadata,
            )
            for req in request_iterator
        ]
        outcome = self.log.append(stream, expected, proposed)
        if isinstance(outcome, TooBig):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Maximum Append Size of {self.log.max_append_size} Exceeded.",
            )
        if isinstance(outcome, Written):
            success = streams_pb2.AppendResp.Success(
                position=streams_pb2.AppendResp.Position(
                    commit_position=outcome.position, prepare_position=outcome.position
                )
            )
            if outcome.current_revision < 0:
                success.no_stream.CopyFrom(shared_pb2.Empty())
            else:
                success.current_revision = outcome.current_revision
            return streams_pb2.AppendResp(success=success)
        assert isinstance(outcome, WrongExpected)
        wrong = streams_pb2.AppendResp.WrongExpectedVersion()
        if outcome.current_revision < 0:
            wrong.current_no_stream.CopyFrom(shared_pb2.Empty())
        else:
            wrong.current_revision = outcome.current_revision
        if expected == NO_STREAM:
            wrong.expected_no_stream.CopyFrom(shared_pb2.Empty())
        elif expected == ANY:
            wrong.expected_any.CopyFrom(shared_pb2.Empty())
        elif expected == STREAM_EXISTS:
            wrong.expected_stream_exists.CopyFrom(shared_pb2.Empty())
        else:
            wrong.expected_revision = expected
        return streams_pb2.AppendResp(wrong_expected_version=wrong)

    def BatchAppend(
        self,
        request_iterator: Iterator[streams_pb2.BatchAppendReq],
        context: grpc.ServicerContext,
    ) -> Iterator[streams_pb2.BatchAppendResp]:
        self.double.admit(context, "BatchAppend")
        pending: dict[str, tuple[streams_pb2.BatchAppendReq.Options, list[Proposed]]] = {}
        for request in request_iterator:
            correlation = request.correlation_id.string
            if request.HasField("options"):
                pending[correlation] = (request.options, [])
            if correlation not in pending:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "options expected first")
            pending[correlation][1].extend(
                Proposed(
                    event_id=message.id.string,
                    event_type=message.metadata["type"],
                    content_type=message.metadata["content-type"],
                    data=message.data,
                    custom_metadata=message.custom_metadata,
                )
                for message in request.proposed_messages
            )
            if request.is_final:
                options, proposed = pending.pop(correlation)
                yield self._batch_append(correlation, options, proposed)

    def _batch_append(
        self,
        correlation: str,
        options: streams_pb2.BatchAppendReq.Options,
        proposed: list[Proposed],
    ) -> streams_pb2.BatchAppendResp:
        stream = options.stream_identifier.stream_name.decode()
        which = options.WhichOneof("expected_stream_position")
        expected = {"no_stream": NO_STREAM, "any": ANY, "stream_exists": STREAM_EXISTS}.get(
            which or "any", options.stream_position
        )
        response = streams_pb2.BatchAppendResp(
            correlation_id=_uuid(correlation),
            stream_identifier=options.stream_identifier,
        )
        if expected >= 0:
            response.stream_position = expected
        elif expected == NO_STREAM:
            response.no_stream.CopyFrom(empty_pb2.Empty())
        elif expected == ANY:
            response.any.CopyFrom(empty_pb2.Empty())
        else:
            response.stream_exists.CopyFrom(empty_pb2.Empty())
        outcome = self.log.append(stream, expected, proposed)
        if isinstance(outcome, Written):
            success = streams_pb2.BatchAppendResp.Success(
                position=shared_pb2.AllStreamPosition(
                    commit_position=outcome.position, prepare_position=outcome.position
                )
            )
            if outcome.current_revision < 0:
                success.no_stream.CopyFrom(empty_pb2.Empty())
            else:
                success.current_revision = outcome.current_revision
            response.success.CopyFrom(success)
            return response
        details = any_pb2.Any()
        if isinstance(outcome, TooBig):
            details.Pack(
                shared_pb2.MaximumAppendSizeExceeded(maxAppendSize=self.log.max_append_size)
            )
            code, message = INVALID_ARGUMENT, "Maximum Append Size Exceeded"
        else:
            assert isinstance(outcome, WrongExpected)
            wrong = shared_pb2.WrongExpectedVersion()
            if outcome.current_revision < 0:
                wrong.current_no_stream.CopyFrom(empty_pb2.Empty())
            else:
                wrong.current_stream_revision = outcome.current_revision
            if expected >= 0:
                wrong.expected_stream_position = expected
            elif expected == NO_STREAM:
                wrong.expected_no_stream.CopyFrom(empty_pb2.Empty())
            elif expected == ANY:
                wrong.expected_any.CopyFrom(empty_pb2.Empty())
            else:
                wrong.expected_stream_exists.CopyFrom(empty_pb2.Empty())
            details.Pack(wrong)
            code, message = FAILED_PRECONDITION, "WrongExpectedVersion"
        response.error.CopyFrom(status_pb2.Status(code=code, message=message, details=details))  # type: ignore[arg-type]
        return response

    # -- reads and subscriptions ------------------------------------------------------------
    def Read(
        self, request: streams_pb2.ReadReq, context: grpc.ServicerContext
    ) -> Iterator[streams_pb2.ReadResp]:
        self.double.admit(context, "Read")
        try:
            yield from self._read(request, context)
        except StopSubscription:  # the caller went away or the server stops
            return

    def _read(
        self, request: streams_pb2.ReadReq, context: grpc.ServicerContext
    ) -> Iterator[streams_pb2.ReadResp]:
        options = request.options
        backwards = options.read_direction == streams_pb2.ReadReq.Options.Backwards
        subscribe = options.WhichOneof("count_option") == "subscription"
        event_filter, interval = _parse_filter(options)
        if options.WhichOneof("stream_option") == "stream":
            stream = options.stream.stream_identifier.stream_name.decode()
            which = options.stream.WhichOneof("revision_option")
            revision = options.stream.revision if which == "revision" else None
            if subscribe:
                yield from self._subscribe_stream(stream, which, revision, context)
                return
            if which == "end" and not backwards:
                records: list[Record] | None = []
                if stream not in self.log.streams:
                    records = None
            else:
                records = self.log.read_stream(stream, revision, backwards, options.count)
            if records is None:
                yield streams_pb2.ReadResp(
                    stream_not_found=streams_pb2.ReadResp.StreamNotFound(
                        stream_identifier=options.stream.stream_identifier
                    )
                )
                return
            for record in records:
                yield _read_event(record)
            return
        all_option = options.all.WhichOneof("all_option")
        if all_option == "position":
            start = self.log.index_at(options.all.position.commit_position)
            if isinstance(start, InvalidPosition):
                kind = "FilteredReadAllResult" if event_filter else "ReadAllResult"
                context.abort(grpc.StatusCode.UNKNOWN, f"Unexpected {kind}: InvalidPosition")
        elif all_option == "end":
            start = len(self.log)
        else:
            start = 0
        assert isinstance(start, int)
        if subscribe:
            yield from self._subscribe_all(start, all_option, event_filter, interval, context)
            return
        yield from self._read_all(start, backwards, options.count, event_filter)

    def _read_all(
        self, start: int, backwards: bool, count: int, event_filter: EventFilter | None
    ) -> Iterator[streams_pb2.ReadResp]:
        sent = 0
        page = 512
        if backwards:
            top = start  # records strictly before the position
            while top > 0 and sent < count:
                chunk = self.log.slice(max(0, top - page), top)
                top -= len(chunk)
                for record in reversed(chunk):
                    if event_filter is None or event_filter.matches(record):
                        yield _read_event(record)
                        sent += 1
                        if sent >= count:
                            return
            return
        index = start
        while sent < count:
            chunk = self.log.slice(index, index + page)
            if not chunk:
                return
            index += len(chunk)
            for record in chunk:
                if event_filter is None or event_filter.matches(record):
                    yield _read_event(record)
                    sent += 1
                    if sent >= count:
                        return

    def _subscribe_all(
        self,
        start: int,
        which: str | None,
        event_filter: EventFilter | None,
        interval: int,
        context: grpc.ServicerContext,
    ) -> Iterator[streams_pb2.ReadResp]:
        subscription_id = str(uuid.uuid4())
        yield streams_pb2.ReadResp(
            confirmation=streams_pb2.ReadResp.SubscriptionConfirmation(
                subscription_id=subscription_id
            )
        )
        index = start
        if which == "position":
            # A subscription delivers only what was recorded after the given position.
            first = self.log.slice(index, index + 1)
            if first:
                index += 1
        generation = self.double.subscription_generation
        caught_up = False
        scanned = 0
        while True:
            chunk = self.log.slice(index, index + 512)
            for record in chunk:
                index += 1
                scanned += 1
                if event_filter is None or event_filter.matches(record):
                    yield _read_event(record)
                elif scanned % interval == 0:
                    yield streams_pb2.ReadResp(
                        checkpoint=streams_pb2.ReadResp.Checkpoint(
                            commit_position=record.position,
                            prepare_position=record.position,
                            timestamp=_now(),
                        )
                    )
            if chunk:
                continue
            if not caught_up:
                caught_up = True
                yield streams_pb2.ReadResp(
                    caught_up=streams_pb2.ReadResp.CaughtUp(
                        timestamp=_now(),
                        position=streams_pb2.ReadResp.Position(
                            commit_position=self.log.next_position,
                            prepare_position=self.log.next_position,
                        ),
                    )
                )
            while not self.log.wait_beyond(index, LIVE_POLL):
                self._check_live(context, generation)
            self._check_live(context, generation)

    def _subscribe_stream(
        self,
        stream: str,
        which: str | None,
        revision: int | None,
        context: grpc.ServicerContext,
    ) -> Iterator[streams_pb2.ReadResp]:
        yield streams_pb2.ReadResp(
            confirmation=streams_pb2.ReadResp.SubscriptionConfirmation(
                subscription_id=str(uuid.uuid4())
            )
        )
        if which == "end":
            last = len(self.log.streams.get(stream, ())) - 1
        else:
            last = -1 if revision is None else revision
        generation = self.double.subscription_generation
        caught_up = False
        while True:
            seen = len(self.log)
            records = self.log.stream_records_after(stream, last)
            for record in records:
                last = record.revision
                yield _read_event(record)
            if not caught_up:
                caught_up = True
                yield streams_pb2.ReadResp(
                    caught_up=streams_pb2.ReadResp.CaughtUp(
                        timestamp=_now(), stream_revision=max(last, 0)
                    )
                )
            while not self.log.wait_beyond(seen, LIVE_POLL):
                self._check_live(context, generation)
            self._check_live(context, generation)

    def _check_live(self, context: grpc.ServicerContext, generation: int) -> None:
        if not context.is_active() or self.double.stopping.is_set():
            raise StopSubscription
        if self.double.subscription_generation != generation:
            context.abort(grpc.StatusCode.UNAVAILABLE, "Server is shutting down.")


class StopSubscription(Exception):
    """The caller went away or the server stops: end the response stream."""


class GossipServicer(gossip_pb2_grpc.GossipServicer):
    def __init__(self, double: KurrentDbDouble) -> None:
        self.double = double

    def Read(
        self, request: shared_pb2.Empty, context: grpc.ServicerContext
    ) -> gossip_pb2.ClusterInfo:
        self.double.admit(context, "Gossip.Read")
        member = gossip_pb2.MemberInfo(
            instance_id=_uuid(self.double.instance_id),
            time_stamp=int(time.time() * 10_000_000),
            state=gossip_pb2.MemberInfo.VNodeState.Leader,
            is_alive=True,
            http_end_point=gossip_pb2.EndPoint(address=self.double.host, port=self.double.port),
        )
        return gossip_pb2.ClusterInfo(members=[member])


class KurrentDbDouble:
    """Start with `start()`, connect with `url`, stop with `stop()`; `start()` again resumes on
    the same port with the same data (a node restart)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        tls_dir: Path | None = None,
        credentials: tuple[str, str] | None = None,
        log: Log | None = None,
        max_workers: int = 32,
    ) -> None:
        self.host = host
        self.port = 0
        self.log = log or Log()
        self.tls_dir = tls_dir
        self.credentials = credentials
        self.max_workers = max_workers
        self.instance_id = str(uuid.uuid4())
        self.faults = Faults()
        self.stopping = threading.Event()
        self.subscription_generation = 0
        self.calls: dict[str, int] = {}
        self._calls_lock = threading.Lock()
        self._server: grpc.Server | None = None
        self._ca_file: Path | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> KurrentDbDouble:
        self.stopping.clear()
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="kdb-double"),
            maximum_concurrent_rpcs=self.max_workers * 4,
        )
        streams = StreamsServicer(self)
        streams_pb2_grpc.add_StreamsServicer_to_server(streams, server)  # type: ignore[no-untyped-call]
        gossip_pb2_grpc.add_GossipServicer_to_server(GossipServicer(self), server)  # type: ignore[no-untyped-call]
        address = f"{self.host}:{self.port}"
        if self.tls_dir is not None:
            from tests.kurrentdb_double.tls import self_signed

            key, cert, self._ca_file = self_signed(self.tls_dir, self.host)
            bound = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
        else:
            bound = server.add_insecure_port(address)
        if bound == 0:
            raise RuntimeError(f"the KurrentDB double could not bind {address}")
        self.port = bound
        server.start()
        self._server = server
        return self

    def stop(self, grace: float | None = 0.5) -> None:
        if self._server is None:
            return
        self.stopping.set()
        with self.log.changed:
            self.log.changed.notify_all()
        self._server.stop(grace).wait()
        self._server = None

    def __enter__(self) -> KurrentDbDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connecting -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.url_for(self.credentials)

    def url_for(self, credentials: tuple[str, str] | None) -> str:
        userinfo = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
        query = f"TlsCaFile={self._ca_file}" if self._ca_file is not None else "Tls=false"
        return f"kurrentdb://{userinfo}{self.host}:{self.port}?{query}"

    # -- what every call goes through -------------------------------------------------------
    def admit(self, context: grpc.ServicerContext, method: str) -> None:
        with self._calls_lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        fault = self.faults.take()
        if fault is not None:
            context.abort(fault, "injected fault")
        if self.credentials is not None:
            metadata = dict(context.invocation_metadata())
            token = base64.b64encode(":".join(self.credentials).encode()).decode()
            if metadata.get("authorization") != f"Basic {token}":
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "Bad username or password.")

    # -- fault injection --------------------------------------------------------------------
    def fail_next(self, calls: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        with self.faults.lock:
            self.faults.fail_next = calls
            self.faults.code = code

    def drop_subscriptions(self) -> None:
        """End every live subscription with UNAVAILABLE, as a node that loses leadership does."""
        self.subscription_generation += 1
        with self.log.changed:
            self.log.changed.notify_all()

    def append_system_event(self, stream: str = "$stats-127.0.0.1:2113") -> Record:
        return self.log.write_system_event(stream, "$statsCollected", b"{}")
