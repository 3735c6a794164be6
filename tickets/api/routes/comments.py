"""The comments of a ticket: add one, list them, read one."""

from __future__ import annotations

from typing import Annotated

import pydantic_core
from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError

from tickets.api.dependencies import (
    ONCE,
    ActorHeader,
    CommentId,
    Forbidden,
    TicketId,
    actor_of,
    corrector,
    get_store,
    listing,
    sees_internal,
)
from tickets.api.http_rules import KEY_NAME
from tickets.api.idempotency import IdempotencyKey, answered, keyed
from tickets.api.responses import (
    BAD_REQUEST,
    COMMENT_LOCATION,
    FORBIDDEN,
    JSON,
    KEY_IN_FLIGHT,
    KEY_REUSED,
    NO_COMMENT,
    NOT_FOUND,
    REPLAYED,
    TICKET_ETAG,
    TOO_LARGE,
    TOTAL_OF_TICKET,
)
from tickets.api.routes import resource_router
from tickets.engine.history import Comment, CommentCreate, CommentEdit, NewComment, Page
from tickets.engine.idempotency import comment_answer
from tickets.engine.messages import Problem, message

router = resource_router("comments")


@router.post(
    "/tickets/{ticket_id}/comments",
    summary="Comment on a ticket",
    status_code=201,
    response_model=Comment,
    responses={
        201: {"headers": {**COMMENT_LOCATION, **TICKET_ETAG, **REPLAYED}},
        400: BAD_REQUEST,
        403: FORBIDDEN,
        404: NOT_FOUND,
        409: KEY_IN_FLIGHT,
        413: TOO_LARGE,
        422: KEY_REUSED,
    },
)
async def add_comment(
    ticket_id: TicketId,
    data: CommentCreate,
    request: Request,
    x_actor: ActorHeader = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a public reply or an internal note (internal: true). The author is the one given, else the
    request's actor; the ticket's updated_at (and ETag) moves, and its history records the comment. Ticket-ETag
    gives the ticket's new ETag, for a next If-Match. With an
    Idempotency-Key, a retry of the same request gets the same answer and adds nothing more."""
    actor = actor_of(request, x_actor)
    key_name = request.scope.get(KEY_NAME)
    if key_name is not None and data.author is not None and data.author != key_name:
        raise Forbidden(message("author_not_key", author=data.author, key_name=key_name))
    author = data.author or actor
    if author is None:
        missing = Problem(message("author_missing"))
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body", "author"), "msg": str(missing), "ctx": {"error": missing}}]
        )
    new, store = NewComment(author, data.body, data.internal), get_store(request)
    key = keyed(request, idempotency_key, f"POST /tickets/{ticket_id}/comments", actor, data)
    if key is not None:
        return answered(await store.add_comment_keyed(key, ticket_id, new, actor or author))
    return answered(comment_answer(*await store.add_comment(ticket_id, new, actor or author)))


@router.get(
    "/tickets/{ticket_id}/comments",
    summary="Read a ticket's comments",
    response_model=list[Comment],
    dependencies=ONCE,
    responses={200: {"headers": TOTAL_OF_TICKET}, 400: BAD_REQUEST, 404: NOT_FOUND},
)
async def list_comments(request: Request, ticket_id: TicketId, page: Annotated[Page, Query()]) -> Response:
    """The ticket's comments, oldest first; X-Total-Count counts them all, before limit and offset."""
    return listing(*await get_store(request).comments(ticket_id, page, sees_internal(request)))


@router.get(
    "/tickets/{ticket_id}/comments/{comment_id}",
    summary="Read a comment",
    response_model=Comment,
    responses={400: BAD_REQUEST, 404: NO_COMMENT},
)
async def read_comment(request: Request, ticket_id: TicketId, comment_id: CommentId) -> Response:
    """One comment of a ticket: where the Location of a new comment points."""
    comment = await get_store(request).comment(ticket_id, comment_id, sees_internal(request))
    return Response(pydantic_core.to_json(comment), media_type=JSON)


@router.patch(
    "/tickets/{ticket_id}/comments/{comment_id}",
    summary="Correct a comment",
    response_model=Comment,
    responses={400: BAD_REQUEST, 403: FORBIDDEN, 404: NO_COMMENT, 413: TOO_LARGE},
)
async def edit_comment(
    request: Request, ticket_id: TicketId, comment_id: CommentId, changes: CommentEdit, x_actor: ActorHeader = None
) -> Response:
    """Change a comment's text or its internal flag; edited_at tells when. With named API keys, only its author
    or an admin key may. The ticket's history records the old and new values (comment_edited)."""
    comment = await get_store(request).edit_comment(
        ticket_id, comment_id, changes, corrector(request), actor_of(request, x_actor)
    )
    return Response(pydantic_core.to_json(comment), media_type=JSON)


@router.delete(
    "/tickets/{ticket_id}/comments/{comment_id}",
    summary="Delete a comment",
    status_code=204,
    responses={400: BAD_REQUEST, 403: FORBIDDEN, 404: NO_COMMENT},
)
async def delete_comment(
    request: Request, ticket_id: TicketId, comment_id: CommentId, x_actor: ActorHeader = None
) -> Response:
    """Delete a comment for good (its place in the history's chain keeps only its digest); with named API keys,
    only its author or an admin key may. The ticket's history records it (comment_deleted)."""
    await get_store(request).delete_comment(ticket_id, comment_id, corrector(request), actor_of(request, x_actor))
    return Response(status_code=204)
