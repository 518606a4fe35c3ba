"""From an administrator's request to the domain command: one place for the JSON API (`api.py`)
and the console's forms (`pages.py`), so both decide the same thing from the same input.

Each edge parses its own input (a JSON body, a form) into the request model of `models.py` and
checks what it answers itself (403 and 404 first, a tracking ID's form); the command follows
from the model alone.
"""

from __future__ import annotations

from services.verification.models import (
    AdminReplyIn,
    ForwardIn,
    NotOurAuthorityIn,
    PostponeIn,
    ProtectionIn,
    PublicTextIn,
    RejectIn,
    RequestCompletionIn,
    VerifyIn,
)
from services.verification.process import refer_command
from services.verification.usecases import Desk, protection_command, verify_command
from shared.auth import Principal
from shared.reports.commands import Command, ReplyAsAdministrator, SetPublicText

ActionIn = (
    VerifyIn
    | RequestCompletionIn
    | RejectIn
    | PostponeIn
    | NotOurAuthorityIn
    | ForwardIn
    | AdminReplyIn
    | PublicTextIn
    | ProtectionIn
)


async def command_for(
    desk: Desk, principal: Principal, tracking_id: str, body: ActionIn
) -> Command:
    """The command an administrator's request asks for (the desk adds the process's dates)."""
    match body:
        case VerifyIn():
            return verify_command(body)
        case RequestCompletionIn():
            return await desk.completion_command(tracking_id, body.note)
        case RejectIn():
            return await desk.reject_command(body.reason, body.note, body.duplicate_of, tracking_id)
        case PostponeIn():
            return await desk.postpone_command(tracking_id, body.until, body.note)
        case NotOurAuthorityIn():
            return refer_command(principal, body.to_region, body.note)
        case ForwardIn():
            return await desk.forward_command(tracking_id, body.agency_code)
        case AdminReplyIn():
            return ReplyAsAdministrator(text=body.text)
        case PublicTextIn():
            return SetPublicText(title=body.title, body=body.body, note=body.note)
        case ProtectionIn():
            return protection_command(body)
