"""OpenAPI that integrators can code against: every error documented with its body and an
example, 401/403 on every route that takes a token, Retry-After on 429; and /docs works offline,
with Swagger UI served by LAPOR itself (no CDN)."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.settings import Settings

SERVICES = ["intake", "verification", "routing", "sla", "notify"]


def app_of(service: str, tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, secret_key="openapi-test")
    return import_module(f"services.{service}.bootstrap").create_app(settings, in_process=True)


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_is_documented_with_its_body_and_an_example(
    service: str, tmp_path: Path
) -> None:
    spec = app_of(service, tmp_path).openapi()
    assert "Problem" in spec["components"]["schemas"]
    undocumented: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), where
            for code, response in responses.items():
                if not code.startswith(("4", "5")):
                    continue
                body = response.get("content", {}).get("application/json", {})
                if not (body.get("schema") and "detail" in body.get("example", {})):
                    undocumented.append(f"{where} {code}")
                if code == "429":
                    assert "Retry-After" in response.get("headers", {}), where
    assert undocumented == []


@pytest.mark.parametrize("service", ["routing", "intake"])
async def test_the_api_docs_load_nothing_from_elsewhere(service: str, tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=app_of(service, tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://lapor") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "https://" not in page.text
        assert "/docs-static/swagger-ui-bundle.js" in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            served = await client.get(f"/docs-static/{asset}")
            assert served.status_code == 200 and len(served.content) > 100_000, asset
        assert (await client.get("/openapi.json")).json()["components"]["schemas"]["Problem"]
