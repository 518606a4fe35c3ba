"""Intake's own knobs (`LAPOR_INTAKE_*`): body sizes, attachment limits and rate limits; the
map's tiles (`LAPOR_MAP_TILES_URL`, `LAPOR_MAP_ATTRIBUTION`); and how long its views keep a
finished report's text (`LAPOR_VIEW_*`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAPOR_INTAKE_", extra="ignore")

    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest JSON / form body (413 above it)"
    )
    max_multipart_bytes: int = Field(
        default=27_000_000,
        ge=1024,
        description="Largest multipart body (uploads, web form): the 5 files of 5 MB the form"
        " promises, and the form around them",
    )
    max_attachment_bytes: int = Field(default=5_000_000, ge=1024, description="Per file stored")
    max_photo_bytes: int = Field(
        default=20_000_000,
        ge=1024,
        description="A photo as sent: larger than the limit per file is fine, it is scaled down"
        " (long side 2048 px) and must then fit",
    )
    max_attachments: int = Field(default=5, ge=0, le=20, description="Per submission or action")
    max_image_pixels: int = Field(default=40_000_000, ge=1, description="Decompression-bomb guard")
    submissions_per_minute: float = Field(
        default=60.0, ge=0, description="Per client address: reports and uploads; 0 = no limit"
    )
    failed_access_codes_per_minute: float = Field(
        default=20.0, ge=0, description="Per client address: wrong access codes; 0 = no limit"
    )
    secure_cookies: bool = Field(
        default=False, description="Mark cookies Secure (set when served over HTTPS)"
    )
    map_tiles_url: str = Field(
        default=OSM_TILES,
        validation_alias=AliasChoices("LAPOR_MAP_TILES_URL", "LAPOR_INTAKE_MAP_TILES_URL"),
        pattern=r"^https?://[^\s\"'<>]+\{z\}[^\s\"'<>]*$",
        description="Map tiles, a Leaflet URL template with {z}/{x}/{y} (and {s}); the map pages'"
        " Content-Security-Policy allows images from its host. Default: OpenStreetMap's tiles",
    )
    map_attribution: str = Field(
        default=OSM_ATTRIBUTION,
        validation_alias=AliasChoices("LAPOR_MAP_ATTRIBUTION", "LAPOR_INTAKE_MAP_ATTRIBUTION"),
        max_length=300,
        description="Shown on the map: what the tile server's licence asks for",
    )


class ViewRetention(BaseSettings):
    """Security hook (issue 12): how long intake's views keep a finished report's text."""

    model_config = SettingsConfigDict(env_prefix="LAPOR_VIEW_", extra="ignore")

    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Closed and rejected reports' body, address and free text in the timeline"
        " are dropped from intake's views this many days after their last change; unset: kept",
    )
    retention_check_seconds: float = Field(default=3600.0, gt=0, description="How often")
