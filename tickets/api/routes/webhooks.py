"""The webhooks (admin keys only): endpoints told of every change, their secrets, their tries, and a replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tickets.api.dependencies import ONCE, get_store, listing
from tickets.api.responses import BAD_REQUEST, FORBIDDEN, NO_WEBHOOK, TOO_LARGE, WEBHOOK_LOCATION, _header
from tickets.api.routes import resource_router
from tickets.engine.history import Page
from tickets.engine.values import NUMBER_MAX
from tickets.engine.webhooks import (
    Attempt,
    Webhook,
    WebhookCreate,
    WebhookUpdate,
    changed,
    new_secret,
    public,
    rewound,
    rotated,
)
from tickets.worker import addresses

router = resource_router("webhooks", {400: BAD_REQUEST, 403: FORBIDDEN})

WebhookId = Annotated[int, Path(ge=1, le=NUMBER_MAX, description="The webhook's id.", examples=[1])]


class Redelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: int = Field(
        alias="from", ge=1, le=NUMBER_MAX, description="Deliver again every event from this id on, in order."
    )


def _allow_private(request: Request) -> bool:
    return bool(request.app.state.settings.webhooks_allow_private)


@router.post(
    "/webhooks",
    summary="Add a webhook",
    status_code=status.HTTP_201_CREATED,
    response_model=Webhook,
    responses={201: {"headers": WEBHOOK_LOCATION}, 400: BAD_REQUEST, 413: TOO_LARGE},
)
async def create_webhook(data: WebhookCreate, request: Request, response: Response) -> Webhook:
    """A new endpoint, told of every event written from now on (redeliver replays older ones). The answer
    carries its signing `secret`, shown this once: keep it where the receiver can read it."""
    await addresses.check(data.url, _allow_private(request))
    store = get_store(request)
    secret = new_secret()
    hook = await store.webhooks.create(data, secret, store.now(), await store.last_event_id())
    store.webhooks.tell_changed()  # this process's delivery looks at once
    response.headers["Location"] = f"/webhooks/{hook['id']}"
    return {**public(hook), "secret": secret}


@router.get("/webhooks", summary="List the webhooks", response_model=list[Webhook])
async def list_webhooks(request: Request) -> Response:
    """Every endpoint, in id order (never their secrets)."""
    return listing([public(hook) for hook in await get_store(request).webhooks.all()])


@router.get("/webhooks/{webhook_id}", summary="Read a webhook", responses={404: NO_WEBHOOK})
async def read_webhook(webhook_id: WebhookId, request: Request) -> Webhook:
    return public(await get_store(request).webhooks.get(webhook_id))


@router.patch(
    "/webhooks/{webhook_id}",
    summary="Change a webhook",
    responses={400: BAD_REQUEST, 404: NO_WEBHOOK, 413: TOO_LARGE},
)
async def update_webhook(webhook_id: WebhookId, changes: WebhookUpdate, request: Request) -> Webhook:
    """Change its URL, events, description, or enable it again (it starts where it stopped) or disable it."""
    if changes.url is not None:
        await addresses.check(changes.url, _allow_private(request))
    hooks = get_store(request).webhooks
    hook = await hooks.change(webhook_id, lambda hook: changed(hook, changes))
    hooks.tell_changed()  # this process's delivery looks at once
    return public(hook)


@router.delete(
    "/webhooks/{webhook_id}",
    summary="Delete a webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: NO_WEBHOOK},
)
async def delete_webhook(webhook_id: WebhookId, request: Request) -> Response:
    hooks = get_store(request).webhooks
    await hooks.delete(webhook_id)
    hooks.tell_changed()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    summary="Give a webhook a new secret",
    response_model=Webhook,
    responses={404: NO_WEBHOOK},
)
async def rotate_secret(webhook_id: WebhookId, request: Request) -> Webhook:
    """A new signing secret, shown this once. For 24 hours the old one signs too (webhook-signature then holds
    both signatures, space-separated), so the receiver can switch without missing a message."""
    store, secret = get_store(request), new_secret()
    now = store.now()
    hook = await store.webhooks.change(webhook_id, lambda hook: rotated(hook, secret, now))
    return {**public(hook), "secret": secret}


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="List a webhook's delivery tries",
    response_model=list[Attempt],
    dependencies=ONCE,
    responses={
        200: {"headers": {"X-Total-Count": _header("How many tries are kept, before limit and offset", "12")}},
        400: BAD_REQUEST,
        404: NO_WEBHOOK,
    },
)
async def list_deliveries(webhook_id: WebhookId, request: Request, page: Annotated[Page, Query()]) -> Response:
    """Every try, the newest first: the event, the try's number, when, the receiver's status code or the error,
    and how long it took (the latest 10,000 are kept)."""
    return listing(*await get_store(request).webhooks.attempts(webhook_id, page))


@router.post(
    "/webhooks/{webhook_id}/redeliver",
    summary="Deliver a webhook's events again",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Webhook,
    dependencies=ONCE,
    responses={400: BAD_REQUEST, 404: NO_WEBHOOK},
)
async def redeliver(webhook_id: WebhookId, request: Request, query: Annotated[Redelivery, Query()]) -> Webhook:
    """Move the webhook back: every event from `from` on is delivered again, in order (with the same webhook-id
    as the first time, so a receiver that keeps them drops repeats). A disabled webhook stays disabled until it
    is enabled again."""
    after = query.from_ - 1
    hooks = get_store(request).webhooks
    hook = await hooks.change(webhook_id, lambda hook: rewound(hook, after))
    hooks.tell_changed()
    return public(hook)
