"""Every refusal a staff page can show has its own sentence in Indonesian and English.

The consoles translate a rule's refusal by its words (`shared.i18n.refusals`); a rule whose
wording changes, or a new rule, would fall back to "tidak dapat diterima (<English words>)".
This test reads every refusal the staff-facing rules raise, straight from their source, and
asks the translator for each: none may fall back.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from shared.i18n import translator
from shared.i18n.refusals import in_both_languages, refusal

ROOT = Path(__file__).resolve().parents[2]
# What officers and administrators act through: the rules, the desks, the region checks.
SOURCES = [
    *sorted((ROOT / "shared" / "reports").glob("*.py")),
    *sorted((ROOT / "services" / "verification").glob("*.py")),
    *sorted((ROOT / "services" / "routing").glob("*.py")),
    ROOT / "shared" / "auth.py",
]
# Raised for a program's mistake or for the JSON API only, never shown on a staff page.
NOT_SHOWN = {
    "unknown command {}",  # lifecycle.decide given a command it has no rule for: a bug
    "a limit override needs days, unit or both",  # sla policy file, checked at start-up
    "tracking_id: {} belongs to another report",  # intake draws another id and submits again
    # `lapor token create` (the operator's command line), not a staff page.
    "an agency token needs --agency",
    "ttl: a token must be valid for some time",
    "ttl: {} tokens may live at most {} days",
    "an agency token must name its agency",
}
# Exceptions whose first argument is a field and the second what is wrong with it.
FIELD_FIRST = {"Invalid"}
# What a formatted value ({code}, {region}, {day}, …) stands for: the message passes if its
# sentence is found with any of these in the places of its values.
SAMPLES = ("5371", "2026-12-01", "DINKES-5371")


def _text(node: ast.expr) -> str | None:
    """The words of a string literal, an f-string (values as `{}`) or "a" "b" concatenations."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _raised_refusals() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            call = node.exc if isinstance(node, ast.Raise) else None
            if not isinstance(call, ast.Call) or not call.args:
                continue
            name = call.func.id if isinstance(call.func, ast.Name) else ""
            if not name or name in {"TypeError", "RuntimeError", "AssertionError", "KeyError"}:
                continue
            if name in FIELD_FIRST and len(call.args) == 2:
                field, what = _text(call.args[0]), _text(call.args[1])
                message = f"{field}: {what}" if field and what else None
            else:
                message = _text(call.args[0])
            if message is None or message in NOT_SHOWN:
                continue
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            found.append((where, message))
    return found


RAISED = _raised_refusals()


def test_the_rules_refusals_were_found() -> None:
    # The reading above must keep finding the refusals (a refactor that hides them from it
    # would make the test below pass on nothing).
    assert len(RAISED) >= 20
    assert any("outside your region" in message for _, message in RAISED)


@pytest.mark.parametrize(("where", "message"), RAISED, ids=[w for w, _ in RAISED])
@pytest.mark.parametrize("language", ["id", "en"])
def test_every_refusal_a_staff_page_shows_has_its_own_sentence(
    where: str, message: str, language: str
) -> None:
    fallback = translator(language)("refusal.unknown", detail="").split("(")[0].strip()
    tried = []
    for sample in SAMPLES:
        text = message.replace("{}", sample)
        said = refusal(text, language)
        # Indonesian first: the sentence is not the rule's English words again.
        english = text.split(": ", 1)[-1]
        if fallback not in said and (language == "en" or english not in said):
            return
        tried.append(said)
    raise AssertionError(f"{where}: {message!r} has no sentence of its own: {tried[0]!r}")


# --- the JSON API: every refusal said in Bahasa Indonesia, then English ----------------------
# What the HTTP edges answer a person or a system with (`{"detail": …}`), read from the source.
API_SOURCES = [
    *sorted((ROOT / "services").glob("*/api.py")),
    *sorted((ROOT / "services").glob("*/usecases.py")),
    *sorted((ROOT / "services" / "intake" / "polls").glob("*.py")),
    *sorted((ROOT / "shared" / "polls").glob("*.py")),
    *sorted((ROOT / "shared" / "http").glob("*.py")),
]
API_RAISERS = {
    "HTTPException",
    "field_error",
    "_invalid",
    "DomainError",
    "InvalidInput",
    "PollError",
    "InvalidAnswer",
    "NotYourPoll",
    "ResponseNotAllowed",
    "PollCodeTaken",
    "Forbidden",
    "Conflict",
    "OtherInstitution",
    "ReportNotFound",
}
API_NOT_SHOWN = {
    "unknown command {}",  # a bug, not a refusal
    "nonce: a sealed answer needs a fresh nonce",  # a program's sealed ballot, never a person
}


def _api_refusals() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in API_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in API_RAISERS:
                continue
            for arg in node.args:
                message = _text(arg)
                if message is None or " " not in message or message in API_NOT_SHOWN:
                    continue
                words = re.sub(r"^[\w.{}-]+: ", "", message).replace("{}", "")
                # Wholly a value (another error's words, said where it is made): no words here.
                if re.search(r"[a-z]{2}", words):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", message))
    return found


API_RAISED = _api_refusals()


def test_the_api_refusals_were_found() -> None:
    assert len(API_RAISED) >= 40
    assert any("an agency opens polls for itself" in message for _, message in API_RAISED)


@pytest.mark.parametrize(("where", "message"), API_RAISED, ids=[w for w, _ in API_RAISED])
def test_every_refusal_the_api_answers_is_said_in_indonesian_first(
    where: str, message: str
) -> None:
    fallback = translator("id")("refusal.not_accepted")
    tried = []
    holes = message.count("{}")
    for values in itertools.product(SAMPLES, repeat=holes):
        text = message
        for value in values:
            text = text.replace("{}", value, 1)
        said = in_both_languages(text)
        indonesian, _, english = said.partition(" / ")
        if english and not indonesian.endswith(fallback):
            return
        tried.append(said)
    raise AssertionError(f"{where}: {message!r} is not said in Indonesian: {tried[0]!r}")
