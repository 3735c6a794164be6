"""The service itself: its health, and the home page (the documentation)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from tickets.api.dependencies import (
    get_store,
)

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    tickets: int


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    """The documentation is the home page."""
    return RedirectResponse("/docs")


@router.get("/health", summary="Service health")
async def health(request: Request) -> Health:
    """ok and the number of tickets; 503 naming the problem when the file or the database cannot be used."""
    return Health(status="ok", tickets=await get_store(request).count())
