"""From an administrator's request to the domain command: one place for the JSON API (`api.py`)
and the console's forms (`pages.py`), so both decide the same thing from the same input.

Each edge parses its own input (a JSON body, a form) into the request model of `models.py` and
checks what it answers itself (403 and 404 first, a tracking ID's form); the command follows
from the model alone.
"""

from __future__ import annotations

from services.verification import models
from services.verification.process import refer_command
from services.verification.usecases import Desk, protection_command, verify_command
from shared.auth import Principal
from shared.reports.commands import Command, ReplyAsAdministrator, SetPublicText

ActionIn = (
    models.VerifyIn
    | models.RequestCompletionIn
    | models.RejectIn
    | models.PostponeIn
    | models.NotOurAuthorityIn
    | models.ForwardIn
    | models.AdminReplyIn
    | models.PublicTextIn
    | models.ProtectionIn
)


async def command_for(
    desk: Desk, principal: Principal, tracking_id: str, body: ActionIn
) -> Command:
    """The command an administrator's request asks for (the desk adds the process's dates)."""
    match body:
        case models.VerifyIn():
            return verify_command(body)
        case models.RequestCompletionIn():
            return await desk.completion_command(tracking_id, body.note)
        case models.RejectIn():
            return await desk.reject_command(body.reason, body.note, body.duplicate_of, tracking_id)
        case models.PostponeIn():
            return await desk.postpone_command(tracking_id, body.until, body.note)
        case models.NotOurAuthorityIn():
            return refer_command(principal, body.to_region, body.note)
        case models.ForwardIn():
            return await desk.forward_command(tracking_id, body.agency_code)
        case models.AdminReplyIn():
            return ReplyAsAdministrator(text=body.text)
        case models.PublicTextIn():
            return SetPublicText(title=body.title, body=body.body, note=body.note)
        case models.ProtectionIn():
            return protection_command(body)
