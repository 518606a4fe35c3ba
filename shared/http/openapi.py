"""The error answers of every service, documented the same way in its OpenAPI document.

Every error is `{"detail": …}` naming the field. Each route already declares the errors it can
give (its `responses=`); this fills in what an integrator needs to code against them: the one
`Problem` schema, an example body for each status, the `Retry-After` header of a 429, and 401/403
on every route that takes a bearer token.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from fastapi import FastAPI

PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "description": "Every error: `detail` says what is wrong, naming the field where there is one.",
    "properties": {
        "detail": {
            "description": "A sentence naming the field; a list of `{loc, field, msg, type}` for "
            "invalid input; an object with `msg` and the state for a conflict.",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object"}},
                {"type": "object"},
            ],
        }
    },
}

EXAMPLES: dict[str, tuple[str, Any]] = {
    "400": ("Bad request", "agency_code: DINKES-KOTA-XYZ is not under the same parent"),
    "401": ("No or bad credentials", "Authorization: a valid bearer token is required"),
    "403": ("Not allowed for this caller", "not allowed: this report is not with your institution"),
    "404": ("Not found", "tracking_id: no report 7XK4PQ2MHT"),
    "409": (
        "The report's state does not allow it (nothing was changed)",
        {"msg": "cannot return a report that is followed_up", "status": "followed_up"},
    ),
    "413": ("Body too large", "body: request body too large (at most 2000000 bytes)"),
    "422": (
        "Invalid input (nothing was stored)",
        [{"loc": ["body", "text"], "field": "text", "msg": "Field required", "type": "missing"}],
    ),
    "429": (
        "Too many requests from your address: wait Retry-After seconds",
        "X-Access-Code: too many requests from your address; retry in 42 s",
    ),
    "503": (
        "Unavailable for a moment (nothing was stored): retry",
        "the event store is unavailable; nothing was stored, please retry",
    ),
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _secured(operation: dict[str, Any]) -> bool:
    return bool(operation.get("security"))


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with every error response documented as above (a new dict)."""
    spec = deepcopy(spec)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    problem = {"$ref": "#/components/schemas/Problem"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            if _secured(operation):
                for code in ("401", "403"):
                    responses.setdefault(code, {})
            for code, response in responses.items():
                if code not in EXAMPLES:
                    continue
                description, example = EXAMPLES[code]
                if not response.get("description") or response["description"] in (
                    "Validation Error",
                    "Additional Response",
                ):
                    response["description"] = description
                content = response.setdefault("content", {})
                body = content.setdefault("application/json", {"schema": problem})
                body.setdefault("schema", problem)
                body.setdefault("example", {"detail": example})
                if code == "429":
                    response.setdefault("headers", {}).update(RETRY_AFTER)
    return spec


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` carry the documented errors (computed once, like FastAPI's own)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
