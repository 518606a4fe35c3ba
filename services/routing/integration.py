"""What an institution's own system needs to integrate: the AsyncAPI document of the events
(`GET /asyncapi.json`) and a readable page of it (`GET /asyncapi`), served by routing.

The document is built on first request (FastStream and every schema are not worth loading at
start-up for a page few people open) and kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.routing.pages import page
from shared.settings import Settings


def asyncapi_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["integration"])

    def document() -> dict[str, Any]:
        from services.routing.asyncapi import document as build

        return build(settings.nats_public_url)

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(document(), headers={"Cache-Control": "public, max-age=300"})

    @router.get("/asyncapi", include_in_schema=False, response_class=HTMLResponse)
    async def asyncapi_page(request: Request) -> HTMLResponse:
        from services.routing.asyncapi import event_types

        doc = document()
        messages = doc["components"]["messages"]
        rows = [
            {
                "name": name,
                "address": doc["channels"][name]["address"],
                "description": doc["channels"][name].get("description", ""),
            }
            for name in event_types(doc)
        ]
        answer = page(
            request,
            "asyncapi.html",
            {
                "doc": doc,
                "rows": rows,
                "servers": doc["servers"],
                "consumer": doc["operations"]["AgencyConsumer"],
                "headers": next(iter(messages.values()))["headers"]["properties"],
            },
        )
        assert isinstance(answer, HTMLResponse)
        return answer

    return router
