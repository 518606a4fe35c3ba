"""structlog JSON logs. Bind correlation_id / tracking_id; never log personal data."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_PII_KEYS = frozenset(
    {"name", "phone", "email", "contact", "reporter", "from", "msisdn", "address"}
)


def _drop_personal_data(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in _PII_KEYS & event_dict.keys():
        event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON line per record, whoever logs it: structlog, and through the standard library
    uvicorn, FastStream, nats-py, httpx and the rest (no coloured or plain lines in between).
    Context bound with structlog's contextvars (service, correlation_id, tracking_id) is on every
    line, a library's too."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_personal_data,
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                # A library's own context (FastStream: subject, stream, message_id).
                structlog.stdlib.ExtraAdder(),
                _drop_personal_data,
                _library_message,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # These libraries log request URLs and SMTP dialogue at INFO: query strings carry phone
    # numbers and gateway passwords, SMTP lines carry addresses. Keep them to warnings.
    for noisy in ("httpx", "httpcore", "mail.log", "aiosmtplib", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Libraries that bring their own handlers (coloured, plain text) log through the root's.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "nats"):
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True


def _library_message(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # A library's record keeps its text as `event`; its logger name says where it came from.
    event_dict.pop("color_message", None)
    return event_dict


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
