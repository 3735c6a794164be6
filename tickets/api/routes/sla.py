"""The SLA policy: read it (any key), replace it (an admin key)."""

from __future__ import annotations

from fastapi import Request

from tickets.api.dependencies import get_store
from tickets.api.responses import BAD_REQUEST, FORBIDDEN, TOO_LARGE
from tickets.api.routes import resource_router
from tickets.engine.sla import Policy

router = resource_router("sla")


@router.get("/sla", summary="Read the SLA policy")
async def read_policy(request: Request) -> Policy:
    """The time zone, business hours, holidays and targets per priority that every ticket's due times follow.
    Without a policy: UTC, every hour counts, no target (every ticket's sla_state is none)."""
    return await get_store(request).policy()


@router.put("/sla", summary="Replace the SLA policy", responses={400: BAD_REQUEST, 403: FORBIDDEN, 413: TOO_LARGE})
async def replace_policy(policy: Policy, request: Request) -> Policy:
    """Put a new policy in place (an admin key). Every ticket's due times follow it at once, from the times it
    stores (its waits are kept); a ticket breached under the old policy stays breached."""
    return await get_store(request).set_policy(policy)
