"""The sla service's settings (`LAPOR_SLA_*`): the calendar and policy every service shares."""

from __future__ import annotations

from shared.runtime.rules import Rules, SlaSettings, load_rules

__all__ = ["Rules", "SlaSettings", "load_rules"]
