"""Intake's abuse limits are the shared ones (shared/limits.py)."""

from shared.http.limits import (
    BodySizeLimit,
    RateLimiter,
    client_address,
    enforce,
    too_large,
    too_many,
)

__all__ = ["BodySizeLimit", "RateLimiter", "client_address", "enforce", "too_large", "too_many"]
