"""The working-day calendar and the SLA policy every deadline is counted with, as the settings
`LAPOR_SLA_POLICY_FILE` and `LAPOR_SLA_CALENDAR_FILE` select them: read once per process by every
service that counts a deadline (sla, and the desks and channels that tell people their dates), so
they all count alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.calendar import WorkingDayCalendar
from shared.reports.policy import SlaPolicy, load_policy


class SlaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_SLA_", extra="ignore")

    policy_file: Path | None = Field(
        default=None,
        description="Policy file (JSON or TOML, see shared.reports.policy); unset: national limits",
    )
    calendar_file: Path | None = Field(
        default=None,
        description="Calendar override file (see shared.calendar); the shipped one if unset",
    )


@dataclass(frozen=True)
class Rules:
    """The calendar and policy every deadline of this process is counted with."""

    calendar: WorkingDayCalendar
    policy: SlaPolicy


def load_rules(settings: SlaSettings | None = None) -> Rules:
    """The calendar and policy of this process's settings (read from files: call it once, at
    start-up)."""
    settings = settings or SlaSettings()
    calendar = (
        WorkingDayCalendar.from_file(settings.calendar_file)
        if settings.calendar_file is not None
        else WorkingDayCalendar.default()
    )
    return Rules(calendar, load_policy(settings.policy_file))
