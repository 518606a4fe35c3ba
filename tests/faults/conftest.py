from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import Faults, start_faults


@pytest.fixture(scope="package")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    """The whole system, shared by this folder's tests; each test starts by mending it."""
    yield from start_faults(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def whole(faults: Faults) -> Faults:
    faults.ensure_up()
    return faults


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fuzzing goes last in this folder: it changes the directory and routing rules through
    the admin API, which the load test's expected agencies rely on. The folder's tests stay
    together, so the shared system starts once."""
    ours = [i for i, item in enumerate(items) if item.nodeid.startswith("tests/faults/")]
    if not ours:
        return
    block = [items[i] for i in ours]
    fuzz = [item for item in block if item.nodeid.startswith("tests/faults/test_bad_input.py")]
    reordered = [item for item in block if item not in fuzz] + fuzz
    rest = [item for i, item in enumerate(items) if i not in set(ours)]
    items[:] = rest[: ours[0]] + reordered + rest[ours[0] :]
