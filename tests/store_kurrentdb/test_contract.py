"""The store contract, against the KurrentDB adapter: the in-process double always, a real
server too when LAPOR_TEST_KURRENTDB_URL is set (see conftest.py)."""

from __future__ import annotations

from tests.contract.store_contract import EventStoreContract


class TestKurrentDbStoreKeepsTheContract(EventStoreContract):
    """Every test of the contract, against the KurrentDB adapter."""
