"""The settings: read from the environment once, at each edge (the app's factory, the command line's main), and
passed down to the store and the middlewares. This is the only module that reads os.environ.

Settings fail closed: a value that cannot be used stops the server or the command with one line naming the
setting (SettingInvalid), never a silently open API or an endless wait. No message ever quotes a key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from tickets.engine.errors import SettingInvalid
from tickets.engine.history import AUTHOR_MAX, NameIn
from tickets.engine.messages import Language, language_of_environment, message
from tickets.engine.values import Timestamp

# The sample data set shipped with the project, beside script.py: the file used when TICKETS_FILE is unset.
SAMPLE_FILE = Path(__file__).resolve().parents[2] / "tickets.json"
LOCK_TIMEOUT_DEFAULT = 10.0
NAME = TypeAdapter(NameIn)
TIMESTAMP = TypeAdapter(Timestamp)
Role = Literal["admin", "agent", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "agent", "viewer")


@dataclass(frozen=True)
class Settings:
    """What the service is told by its environment. Built by from_environment(), or by hand in tests.

    file and database_url are the environment's own (TICKETS_FILE, TICKETS_DATABASE_URL; None when unset):
    which store they name, and what a --file or --db given on the command line changes, is the stores'
    choice (tickets.stores.choice).
    """

    file: Path | None = None
    database_url: str | None = None
    lock_timeout: float = LOCK_TIMEOUT_DEFAULT
    #: The keys the API accepts, {key: its name, or None for the one TICKETS_API_KEY}; empty: an open API.
    api_keys: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    #: TICKETS_VERIFY_ON_START=1: a server verifies the whole history at start-up, and /health tells the result.
    verify_on_start: bool = False
    #: The role of each named key ({key: role}); a key not named here is an admin's.
    key_roles: Mapping[str, Role] = field(default_factory=lambda: MappingProxyType({}))
    #: TICKETS_NOW: the service's clock stands at this time (tests, demonstrations, training); None: the real clock.
    now: str | None = None
    #: TICKETS_WEBHOOKS=off: the server does not deliver webhooks itself (`python script.py deliver` does).
    webhooks: bool = True
    #: TICKETS_WEBHOOK_TIME_SCALE: every delay of the webhooks' retry schedule is multiplied by it (tests: 0.001).
    webhook_time_scale: float = 1.0
    #: TICKETS_WEBHOOKS_ALLOW_PRIVATE=1: webhooks may call loopback and private addresses (a local receiver).
    webhooks_allow_private: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of this process (or of environ); SettingInvalid names the first unusable one."""
        env = os.environ if environ is None else environ
        return cls(
            file=Path(env["TICKETS_FILE"]) if env.get("TICKETS_FILE") else None,
            database_url=env.get("TICKETS_DATABASE_URL") or None,
            lock_timeout=parse_lock_timeout(env.get("TICKETS_LOCK_TIMEOUT")),
            api_keys=MappingProxyType(parse_api_keys(env.get("TICKETS_API_KEY"), env.get("TICKETS_API_KEYS"))),
            verify_on_start=parse_switch("TICKETS_VERIFY_ON_START", env.get("TICKETS_VERIFY_ON_START")),
            key_roles=MappingProxyType(parse_key_roles(env.get("TICKETS_API_KEYS"))),
            now=parse_now(env.get("TICKETS_NOW")),
            webhooks=parse_on_off("TICKETS_WEBHOOKS", env.get("TICKETS_WEBHOOKS")),
            webhook_time_scale=parse_time_scale(env.get("TICKETS_WEBHOOK_TIME_SCALE")),
            webhooks_allow_private=parse_switch(
                "TICKETS_WEBHOOKS_ALLOW_PRIVATE", env.get("TICKETS_WEBHOOKS_ALLOW_PRIVATE")
            ),
        )

    @property
    def data_file(self) -> Path:
        """The JSON file the environment names: TICKETS_FILE, else tickets.json beside script.py."""
        return self.file or SAMPLE_FILE


def user_language(environ: Mapping[str, str] | None = None) -> Language:
    """The language of the command line's messages: French for a French LC_ALL, LC_MESSAGES or LANG."""
    return language_of_environment(os.environ if environ is None else environ)


def parse_switch(name: str, text: str | None) -> bool:
    """A setting that is on or off: 1 or 0 (unset: off); anything else is refused, never guessed."""
    if text is None or text == "0":
        return False
    if text == "1":
        return True
    raise SettingInvalid(message("setting_switch", name=name, text=text))


def parse_on_off(name: str, text: str | None) -> bool:
    """A setting that is on by default: on or off (1 or 0 also); anything else is refused."""
    if text is None or text in ("on", "1"):
        return True
    if text in ("off", "0"):
        return False
    raise SettingInvalid(message("setting_on_off", name=name, text=text))


def parse_time_scale(text: str | None) -> float:
    """TICKETS_WEBHOOK_TIME_SCALE: a finite number > 0 (default 1); 0.001 makes 5 minutes 0.3 s."""
    if text is None:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:
        raise SettingInvalid(message("setting_time_scale", text=text))
    return scale


def parse_lock_timeout(text: str | None) -> float:
    """TICKETS_LOCK_TIMEOUT: how long a write waits for another process's lock (default 10 s).

    Anything but a finite number >= 0 is refused (nan would wait forever, a typo would silently
    become the default).
    """
    if text is None:
        return LOCK_TIMEOUT_DEFAULT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise SettingInvalid(message("setting_lock_timeout", text=text))
    return seconds


def parse_api_keys(single: str | None, named: str | None) -> dict[str, str | None]:
    """TICKETS_API_KEY (one key, no name) or TICKETS_API_KEYS (name:key,...) as {key: name or None}."""
    if named is not None and single is not None:
        raise SettingInvalid(message("setting_both_keys"))
    if named is not None:
        return dict(parse_named_keys(named))
    if single == "":
        raise SettingInvalid(message("setting_key_empty"))
    if single is not None and not _usable_key(single):
        raise SettingInvalid(message("setting_key_ascii"))
    return {single: None} if single is not None else {}


def _usable_key(key: str) -> bool:
    # A browser sends 'é' in a header as one Latin-1 byte, curl as two UTF-8 bytes: no key could match both.
    return bool(key) and key.isascii() and key.isprintable()


def parse_now(text: str | None) -> str | None:
    """TICKETS_NOW: a time such as 2026-11-27T16:50:00Z at which the service's clock stands still."""
    if text is None:
        return None
    try:
        return TIMESTAMP.validate_python(text)
    except ValidationError:
        raise SettingInvalid(message("setting_now", text=text[:40])) from None


def parse_key_roles(text: str | None) -> dict[str, Role]:
    """The role of each key of TICKETS_API_KEYS (name:key:role; admin when no role is written)."""
    return {} if text is None else {key: role for _, key, role in _named_entries(text)}


def _named_entries(text: str) -> list[tuple[str, str, Role]]:
    """The entries of TICKETS_API_KEYS as (name, key, role)."""
    entries: list[tuple[str, str, Role]] = []
    for number, entry in enumerate(text.split(","), start=1):
        parts = [part.strip() for part in entry.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise SettingInvalid(message("setting_keys_entry", number=number))
        role = parts[2] if len(parts) == 3 else "admin"
        if role not in ROLES:
            raise SettingInvalid(message("setting_keys_role", number=number, role=role, roles=", ".join(ROLES)))
        entries.append((parts[0], parts[1], role))
    return entries


def parse_named_keys(text: str) -> dict[str, str]:
    """TICKETS_API_KEYS=name:key[:role],... as {key: name}: each request's actor is its key's name.
    The entries are never quoted in a message: they hold the keys."""
    if not text.strip():
        raise SettingInvalid(message("setting_keys_empty"))
    keys: dict[str, str] = {}
    for number, (name, key, _) in enumerate(_named_entries(text), start=1):
        try:
            name = NAME.validate_python(name)
        except ValidationError:
            raise SettingInvalid(message("setting_keys_name", number=number, most=AUTHOR_MAX)) from None
        if not _usable_key(key):
            raise SettingInvalid(message("setting_keys_ascii", number=number))
        if key in keys:
            raise SettingInvalid(message("setting_keys_repeat", number=number, first=list(keys).index(key) + 1))
        if name in keys.values():
            raise SettingInvalid(message("setting_keys_name_twice", name=name))
        keys[key] = name
    return keys
