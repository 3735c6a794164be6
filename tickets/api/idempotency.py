"""The Idempotency-Key header of the two creations (POST /tickets, POST /tickets/{id}/comments) on the HTTP side: the
parameter, whose key it is, and the answer sent (given again: with Idempotent-Replayed: true). The rules are the
engine's (tickets.engine.idempotency); docs/idempotency.md tells them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, WithJsonSchema

from tickets.api.http_rules import KEY_NAME
from tickets.api.responses import JSON
from tickets.engine.idempotency import HEADER, PATTERN, REPLAYED, Answer, Keyed, fingerprint, parse_key
from tickets.engine.messages import Problem, message

IdempotencyKey = Annotated[
    Annotated[str, WithJsonSchema({"type": "string", "pattern": PATTERN})] | None,
    Header(
        alias=HEADER,
        description="A key of your own for this request (1 to 255 printable ASCII characters; a UUID is a good "
        'one), as a string ("…") or bare. Sent again within 24 hours with the same request, it gets the first '
        "answer again, with Idempotent-Replayed: true, and nothing is written twice; with another request, a 422; "
        "while the first is still being answered, a 409. Each API key has its own keys.",
        examples=["4c9e1a52-7d1f-4b8e-9a57-0c2f6d3e8b41"],
    ),
]


def keyed(request: Request, header: str | None, route: str, actor: str | None, body: BaseModel) -> Keyed | None:
    """What a request sent with an Idempotency-Key asks (None without one); a 400 naming a bad or repeated header.

    The key's scope is the client that sent it: the name of its API key with named keys (TICKETS_API_KEYS), or
    one client for the whole service with one key or none. X-Actor is a claim, not an identity: it is part of the
    request (a key sent again with another actor is another request, a 422), not of the scope."""
    if header is None:
        return None
    try:
        if len(request.headers.getlist(HEADER)) > 1:
            raise Problem(message("key_once", header=HEADER))
        key = parse_key(header)
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "idempotency_key", "loc": ("header", HEADER), "msg": str(exc), "ctx": {"error": exc}}]
        ) from None
    scope = request.scope.get(KEY_NAME) or ""
    return Keyed(scope, key, route, fingerprint(route, actor, body.model_dump(mode="json")))


def answered(answer: Answer) -> Response:
    """The answer of a creation as sent: a kept one given again says so (Idempotent-Replayed: true)."""
    headers = dict(answer.headers)
    if answer.replayed:
        headers[REPLAYED] = "true"
    return Response(answer.body, answer.status, headers=headers, media_type=JSON)
