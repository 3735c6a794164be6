"""The service itself: its health, and the home page (the documentation)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from tickets.api.dependencies import (
    get_store,
)
from tickets.api.routes import resource_router

router = resource_router("service")


class Verification(BaseModel):
    """The history verified at start-up (TICKETS_VERIFY_ON_START=1): ok and its summary, or the first problem."""

    ok: bool
    summary: str | None = None
    problem: str | None = None


class Health(BaseModel):
    status: str
    tickets: int
    verification: Verification | None = Field(
        default=None, description="Only when the server verified the history at start-up (TICKETS_VERIFY_ON_START=1)."
    )


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    """The documentation is the home page."""
    return RedirectResponse("/docs")


@router.get("/health", summary="Service health", response_model_exclude_none=True)
async def health(request: Request) -> Health:
    """ok and the number of tickets; 503 naming the problem when the file or the database cannot be used
    (on PostgreSQL: unreachable, or a table this service may not read or write)."""
    store = get_store(request)
    await store.check_usable()
    verification = request.app.state.verification
    return Health(
        status="ok",
        tickets=await store.count(),
        verification=None if verification is None else Verification(**verification),
    )
