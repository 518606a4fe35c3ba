"""The polls' HTTP contract: what `/api/v1/polls…` takes and answers.

The answers' field names and shapes are public (institutions and integrators code against them):
dates are the ISO 8601 text the events carry, nullable fields say so.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import HTTPException
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.polls.events import (
    AGENCY_PATTERN,
    MAX_COMMENT,
    CloseReason,
    PollChoice,
    PollQuestion,
    QuestionKind,
)
from shared.regions.checks import RegionCodeIn
from shared.values import Attachment


def normalize_code(code: str) -> str:
    """A poll code from a path, in capitals (`air26` is `AIR26`); 404 when it cannot be one."""
    text = code.strip().upper()
    if not (4 <= len(text) <= 8 and text.isascii() and text.isalnum()):
        raise HTTPException(404, "poll not found")
    return text


# --- requests ---------------------------------------------------------------------------------
class AttachmentIn(BaseModel):
    """A file uploaded before (POST /api/v1/attachments), named by its sha256 and the
    upload_token that upload answered with."""

    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str | None = Field(default=None, max_length=255)
    upload_token: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="From POST /api/v1/attachments' answer"
    )


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str | None = Field(default=None, pattern=r"^[A-Za-z]$", description="Default: A, B, …")
    label: str = Field(min_length=1, max_length=200)


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    kind: QuestionKind = QuestionKind.SINGLE
    choices: list[ChoiceIn | str] = Field(min_length=2, max_length=26)


class PollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]{4,8}$",
        description="The SMS code (4-8 letters/digits); default: 5 unambiguous random ones",
    )
    title: str = Field(min_length=3, max_length=200)
    policy_text: str = Field(min_length=1, max_length=20_000)
    attachment: AttachmentIn | None = None
    questions: list[QuestionIn] = Field(min_length=1, max_length=10)
    allow_comment: bool = True
    region_code: RegionCodeIn | None = None
    opens_at: AwareDatetime | None = Field(default=None, description="Default: now")
    closes_at: AwareDatetime
    agency_code: str | None = Field(
        default=None, pattern=AGENCY_PATTERN, description="For administrators: the institution"
    )

    def poll_questions(self) -> tuple[PollQuestion, ...]:
        questions = []
        for index, question in enumerate(self.questions, start=1):
            choices = []
            for n, choice in enumerate(question.choices):
                if isinstance(choice, str):
                    choice = ChoiceIn(label=choice)
                key = (choice.key or chr(ord("A") + n)).upper()
                choices.append(PollChoice(key=key, label=choice.label.strip()))
            questions.append(
                PollQuestion(
                    key=str(index), text=question.text, kind=question.kind, choices=tuple(choices)
                )
            )
        return tuple(questions)


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    identity: str | None = Field(default=None, max_length=254, description="Phone or e-mail")

    @model_validator(mode="after")
    def _one(self) -> VerificationIn:
        if sum(v is not None for v in (self.phone, self.email, self.identity)) != 1:
            raise ValueError("give exactly one of phone, email, identity")
        return self

    def raw(self) -> tuple[str, str]:
        for name in ("phone", "email", "identity"):
            value = getattr(self, name)
            if value is not None:
                return name, str(value)
        raise AssertionError("unreachable")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: str = Field(min_length=3, max_length=254, description="The verified phone/e-mail")
    code: str = Field(pattern=r"^\s*[0-9]{6}\s*$", description="The 6-digit code sent to it")
    answers: dict[str, list[str] | str] = Field(
        description='question key -> choice key(s), e.g. {"1": "B", "2": ["A", "C"]}'
    )
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    region_code: RegionCodeIn | None = Field(
        default=None, description="Where you live (for the breakdown); digits or dotted"
    )

    def raw_answers(self) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else v for k, v in self.answers.items()}


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    attachment: AttachmentIn | None = None


# --- answers ----------------------------------------------------------------------------------
class ChoiceOut(BaseModel):
    key: str = Field(description="A, B, C, … as typed in an SMS")
    label: str


class QuestionOut(BaseModel):
    key: str = Field(description="1, 2, 3, … in order")
    text: str
    kind: QuestionKind
    choices: list[ChoiceOut]


class ResponseOut(BaseModel):
    """The institution's response to the consultation."""

    agency_code: str
    text: str
    attachment: Attachment | None
    attachment_url: str | None = Field(description="The document, when there is one")
    published_at: str


class PollOut(BaseModel):
    """A poll as citizens and institutions see it (never with answers or running tallies)."""

    code: str = Field(description="The poll's id and SMS code")
    title: str
    policy_text: str = Field(description="The draft policy")
    attachment: Attachment | None = Field(description="The draft as a document")
    attachment_url: str | None = Field(description="Where to download the draft's document")
    questions: list[QuestionOut]
    allow_comment: bool
    region_code: str | None
    region_name: str | None
    agency_code: str = Field(description="The consulting institution")
    opens_at: str
    closes_at: str
    status: Literal["upcoming", "open", "closed"]
    closed_at: str | None
    close_reason: CloseReason | None
    results_published: bool
    response: ResponseOut | None = Field(description="The institution's response, once given")
    sms: str = Field(description="How to answer by SMS to 1708, e.g. `POLL AIR26 A`")


class CodeSentOut(BaseModel):
    poll: str
    sent_to: str = Field(description="The phone number or e-mail address, masked")
    channel: Literal["sms", "email"]
    expires_in: int = Field(description="Seconds the code stays valid")


class AnswerOut(BaseModel):
    poll: str
    outcome: Literal["submitted", "changed", "unchanged"] = Field(
        description="submitted (201): a first answer; changed (200): it replaces your earlier"
        " one; unchanged (200): the same answer again"
    )


class ClosedOut(BaseModel):
    code: str
    status: Literal["closed"]
    closed_at: str
    close_reason: CloseReason
    results_published: bool


class RespondedOut(BaseModel):
    code: str
    published: bool = Field(description="False: the same response was published before")
    text: str


class ResultChoiceOut(BaseModel):
    key: str
    label: str
    votes: int


class ResultQuestionOut(BaseModel):
    key: str
    text: str
    kind: QuestionKind
    choices: list[ResultChoiceOut]


class RegionResultOut(BaseModel):
    name: str | None = Field(description="None for `unknown` (not given) and unlisted codes")
    voters: int
    tallies: dict[str, dict[str, int]] = Field(description="question key -> choice key -> voters")


class CommentOut(BaseModel):
    text: str
    region_code: str | None


class ResultsOut(BaseModel):
    """Published results, for everyone: tallies of each voter's latest answer."""

    model_config = ConfigDict(extra="forbid")

    code: str
    total_voters: int
    tallies: dict[str, dict[str, int]] = Field(description="question key -> choice key -> voters")
    questions: list[ResultQuestionOut]
    by_region: dict[str, RegionResultOut] = Field(
        description="region code (or `unknown`) -> voters and tallies"
    )
    by_channel: dict[str, int] = Field(description="channel -> voters")
    comment_count: int
    published_at: str | None


class OwnerResultsOut(ResultsOut):
    """The results with the comments, for the poll's institution and administrators (free text
    may name people)."""

    comments: list[CommentOut]


# --- errors -----------------------------------------------------------------------------------
class FieldProblem(BaseModel):
    loc: list[str | int]
    field: str
    msg: str


class PhaseProblem(BaseModel):
    msg: str
    status: Literal["upcoming", "closed", "sealed"]
    closes_at: str | None = Field(default=None, description="When sealed results come out")


class Problem(BaseModel):
    """An error: `detail` names the field to blame (`field: message`), lists the fields (400), or
    gives the poll's phase (409 for an answer outside the window or sealed results)."""

    detail: str | list[FieldProblem] | PhaseProblem


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` documenting these error codes with `Problem`."""
    return {code: {"model": Problem} for code in codes}
