"""Intake's channels besides the JSON API: SMS (Kannel), e-mail, social webhooks, Open311, offline.

Each channel module exposes a FastAPI router; `routers` wires them into the intake app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

if TYPE_CHECKING:
    from services.intake.app import Intake
    from shared.service import Context


def routers(ctx: Context, intake: Intake) -> list[APIRouter]:
    return []
