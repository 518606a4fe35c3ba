"""An in-process gRPC test double of KurrentDB (see server.py for what it implements)."""

from tests.kurrentdb_double.log import Log
from tests.kurrentdb_double.server import KurrentDbDouble

__all__ = ["KurrentDbDouble", "Log"]
