"""Run the double in a process of its own: `python -m tests.kurrentdb_double [--port N]`.

Prints its connection string on the first line of stdout once it accepts calls, and stops when
stdin closes. Used where the test process and the double would fight over one interpreter lock
(the 100,000-event migration); everything else runs the double in-process.
"""

from __future__ import annotations

import argparse
import sys

from tests.kurrentdb_double.server import KurrentDbDouble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    double = KurrentDbDouble(host=args.host)
    double.port = args.port
    double.start()
    print(double.url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    finally:
        double.stop(grace=None)


if __name__ == "__main__":
    main()
