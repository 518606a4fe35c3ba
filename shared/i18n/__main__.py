"""`python -m shared.i18n extract | check` (see shared/i18n/catalogs.py)."""

from __future__ import annotations

import sys

from shared.i18n import catalogs


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        missing = catalogs.update(catalogs.extract())
        for language, keys in missing.items():
            for key in keys:
                print(f"{language}: {key} needs a text")
        return 0
    if command == "check":
        found = catalogs.problems()
        for line in found:
            print(line)
        return 1 if found else 0
    print("usage: python -m shared.i18n extract | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
