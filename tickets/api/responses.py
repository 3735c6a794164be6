"""What the OpenAPI schema documents besides the success: the error bodies with their examples, and the headers
of the answers (ETag, Location, X-Total-Count)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tickets.engine.messages import message

JSON = "application/json"
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE_DETAIL = message("too_large", limit=MAX_BODY_BYTES)


class Message(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ValidationProblem(BaseModel):
    detail: list[ValidationIssue]


def _error(model: type[BaseModel], description: str, example: Any) -> dict[str, Any]:
    return {"model": model, "description": description, "content": {JSON: {"example": {"detail": example}}}}


BAD_REQUEST = _error(
    ValidationProblem,
    "Invalid input: body, query parameter, header or id",
    [{"type": "extra_forbidden", "loc": ["body", "prioriy"], "msg": "Extra inputs are not permitted"}],
)
NOT_FOUND = _error(Message, "No ticket has this id", "ticket 42 not found")
TOO_LARGE = _error(Message, "The body is over 1 MiB", str(TOO_LARGE_DETAIL))
STALE = _error(Message, "If-Match does not match the ticket as it is now", "ticket 3 has changed: ...")
FORBIDDEN = _error(
    Message,
    "With named API keys: X-Actor or author names someone else than the key's owner",
    "X-Actor names 'julie.martin', but this API key belongs to 'karim.benali'",
)
KEY_IN_FLIGHT = _error(
    Message,
    "Idempotency-Key: a request with this key is still being answered (retry once it is done)",
    "a request with Idempotency-Key '4c9e1a52-7d1f-4b8e-9a57-0c2f6d3e8b41' is still being answered; retry once it "
    "is done, and get its answer",
)
KEY_REUSED = _error(
    Message,
    "Idempotency-Key: this key was used within 24 hours for another request (another body, actor or route)",
    "Idempotency-Key '4c9e1a52-7d1f-4b8e-9a57-0c2f6d3e8b41' was first used at 2026-11-28T09:30:00Z for another "
    "body or actor on POST /tickets; it stands for that request for 24 hours: send a new key for a new request",
)
NO_TICKET_EVER = _error(Message, "No ticket ever had this id", "ticket 42 not found")
NO_WEBHOOK = _error(Message, "No webhook has this id", "webhook 4 not found")
NO_COMMENT = _error(Message, "No such ticket, or no such comment on it", "comment 9 of ticket 3 not found")
UNAUTHORIZED = _error(
    Message, "TICKETS_API_KEY or TICKETS_API_KEYS is set and X-API-Key is missing or wrong", "wrong API key"
)
UNAVAILABLE = _error(
    Message,
    "The tickets file or database cannot be used (the message names the problem)",
    "tickets.json: the file is empty; ...",
)


def _header(description: str, example: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", "example": example}}


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag: 304 without a body when the ticket still has it",
}
ETAG = {"ETag": _header("Version of the ticket, for If-Match and If-None-Match", '"6f1c2a9e0b7d4c3a8e5f1b2d"')}
LOCATION = {"Location": _header("Where the new ticket lives", "/tickets/17")}
TOTAL = {"X-Total-Count": _header("How many tickets match the filters, before limit and offset", "11")}
TOTAL_OF_TICKET = {"X-Total-Count": _header("How many the ticket has in all, before limit and offset", "4")}
REPLAYED = {
    "Idempotent-Replayed": _header(
        "true when this is the answer kept for the request's Idempotency-Key, given again (nothing was written)",
        "true",
    )
}
TICKET_ETAG = {
    "Ticket-ETag": _header(
        "The commented ticket's new ETag (a comment changes it): send it as If-Match to change or delete the ticket",
        '"6f1c2a9e0b7d4c3a8e5f1b2d"',
    )
}
COMMENT_LOCATION = {"Location": _header("Where the new comment lives", "/tickets/3/comments/7")}
WEBHOOK_LOCATION = {"Location": _header("Where the new webhook lives", "/webhooks/1")}
