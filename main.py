"""The FastAPI app, for `uvicorn main:app`: the API over the store that the environment names.

The app itself is made by tickets.api.app.create_app (routes in tickets/api/routes/). Settings fail closed: an
empty TICKETS_API_KEY or a TICKETS_LOCK_TIMEOUT of "nan" stops the server before it serves anything, with one
line naming the setting (uvicorn prints a SystemExit's message).
"""

from __future__ import annotations

from tickets.api.app import create_app
from tickets.engine.errors import SettingInvalid
from tickets.engine.messages import message
from tickets.engine.settings import user_language

try:
    app = create_app()
except SettingInvalid as problem:
    raise SystemExit(message("server_error", problem=problem.told(user_language())).told(user_language())) from None
