"""The framework ceiling: FastAPI as an experienced user would write it, serving the same tickets from memory.

Async routes (no thread pool hop), response models, no disk work, no validation of the file: what any
FastAPI service pays per request on this machine. bench.py runs it on the same server stack as ours.
"""

from __future__ import annotations

import json
import os
from typing import Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()


class Ticket(BaseModel):
    id: int
    title: str
    description: str
    status: Literal["open", "in_progress", "closed"]
    priority: Literal["low", "medium", "high", "urgent"]
    assignee: str | None
    created_at: str
    updated_at: str


class TicketCreate(BaseModel):
    title: str
    description: str = ""
    status: Literal["open", "in_progress", "closed"] = "open"
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    assignee: str | None = None


with open(os.environ["TICKETS_FILE"], encoding="utf-8") as f:
    DATA = json.load(f)
TICKETS = {t["id"]: Ticket(**t) for t in DATA["tickets"]}
NEXT = [DATA["next_id"]]


@app.get("/tickets")
async def list_tickets(status: str | None = None, limit: int | None = None) -> list[Ticket]:
    found = [t for t in TICKETS.values() if status is None or t.status == status]
    return found[:limit] if limit else found


@app.get("/tickets/{ticket_id}")
async def read_ticket(ticket_id: int) -> Ticket:
    if ticket_id not in TICKETS:
        raise HTTPException(404)
    return TICKETS[ticket_id]


@app.post("/tickets", status_code=201)
async def create_ticket(data: TicketCreate) -> Ticket:
    ticket = Ticket(
        id=NEXT[0], **data.model_dump(), created_at="2026-11-26T00:00:00Z", updated_at="2026-11-26T00:00:00Z"
    )
    TICKETS[ticket.id] = ticket
    NEXT[0] += 1
    return ticket
