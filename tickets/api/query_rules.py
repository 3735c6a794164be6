"""Unknown query parameters are refused on every route: a typo (?stauts=open, ?force=true) is a 400 naming it,
never silently ignored. One route class knows each route's declared query parameters, read from its dependant,
and checks them before the route's own validation runs, so every route answers in the same words."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tickets.engine.messages import Problem, message


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route takes, its own and its dependencies', by the name they have in the URL (their
    alias); a model given as Query() (TicketQuery, Page, ...) counts for each of its fields."""
    names: set[str] = set()
    dependants = [dependant]
    while dependants:
        current = dependants.pop()
        dependants.extend(current.dependencies)
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(info.alias or name for name, info in model.model_fields.items())
            else:
                names.add(field.alias)
    return frozenset(names)


def unknown_parameters(given: Iterable[str], declared: frozenset[str]) -> RequestValidationError | None:
    """The 400 naming each query parameter given that the route does not declare (once each); None if none."""
    unknown = [name for name in dict.fromkeys(given) if name not in declared]
    if not unknown:
        return None
    accepted = ", ".join(sorted(declared))
    return RequestValidationError(
        [
            {
                "type": "extra_forbidden",
                "loc": ("query", name),
                "msg": "",  # told in the client's language by the handler, from the Problem's message
                "ctx": {
                    "error": Problem(
                        message("query_unknown", name=name, accepted=accepted)
                        if accepted
                        else message("query_none", name=name)
                    )
                },
            }
            for name in unknown
        ]
    )


class QueryChecked(APIRoute):
    """An APIRoute that refuses a query parameter it does not declare, before its own parameters are read.

    Every router of the API is made with it (route_class=QueryChecked); tests/api/test_query_parameters.py goes
    over every route of the app to keep it so."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        declared = declared_query_names(self.dependant)

        async def checked(request: Request) -> Response:
            refusal = unknown_parameters(request.query_params.keys(), declared)
            if refusal is not None:
                raise refusal
            return await handler(request)

        return checked
