"""Settings fail closed: a value that cannot be used is refused with a message naming the setting."""

from __future__ import annotations

import pytest

from tickets.engine.errors import SettingInvalid
from tickets.engine.settings import Settings


def test_settings_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("nan", "inf", "-1", "dix", ""):
        monkeypatch.setenv("TICKETS_LOCK_TIMEOUT", value)
        with pytest.raises(SettingInvalid, match="TICKETS_LOCK_TIMEOUT"):
            Settings.from_environment()
    monkeypatch.setenv("TICKETS_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("TICKETS_API_KEY", "")
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEY is set but empty"):
        Settings.from_environment()
    monkeypatch.setenv("TICKETS_API_KEY", "clé")  # a browser would send it as Latin-1, curl as UTF-8
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEY must be printable ASCII"):
        Settings.from_environment()


@pytest.mark.parametrize("setting", ["", "zoé", "zoé:", ":key", "a:k,b:k", "a:k1,a:k2", "a:clé", " :k"])
def test_unusable_named_keys_are_refused_without_showing_a_key(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETS_API_KEYS", setting)
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEYS") as problem:
        Settings.from_environment()
    assert "k1" not in str(problem.value) and "clé" not in str(problem.value)


def test_key_names_are_read_in_nfc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETS_API_KEYS", "zo\u0065\u0301:k1")  # 'e' and a combining accent
    assert dict(Settings.from_environment().api_keys) == {"k1": "zo\u00e9"}
    monkeypatch.setenv("TICKETS_API_KEYS", "zo\u00e9:k1,zo\u0065\u0301:k2")  # one name, spelled two ways
    with pytest.raises(SettingInvalid, match="is given twice"):
        Settings.from_environment()


def test_named_keys_take_a_role_admin_by_default() -> None:
    settings = Settings.from_environment({"TICKETS_API_KEYS": "ana:k1, karim:k2:agent ,vera:k3:viewer"})
    assert dict(settings.api_keys) == {"k1": "ana", "k2": "karim", "k3": "vera"}
    assert dict(settings.key_roles) == {"k1": "admin", "k2": "agent", "k3": "viewer"}


@pytest.mark.parametrize("setting", ["ana:k1:boss", "ana:k1:admin:x", "ana:k1:", "ana:k:1:agent"])
def test_an_unknown_role_or_a_colon_in_a_key_is_refused(setting: str) -> None:
    with pytest.raises(SettingInvalid, match="TICKETS_API_KEYS: entry 1") as problem:
        Settings.from_environment({"TICKETS_API_KEYS": setting})
    assert "k1" not in str(problem.value)


def test_tickets_now_pins_the_clock_or_is_refused() -> None:
    assert Settings.from_environment({"TICKETS_NOW": "2026-11-27T16:50:00Z"}).now == "2026-11-27T16:50:00Z"
    assert Settings.from_environment({}).now is None
    for value in ("demain", "2026-11-27 16:50", "2026-13-01T00:00:00Z"):
        with pytest.raises(SettingInvalid, match="TICKETS_NOW"):
            Settings.from_environment({"TICKETS_NOW": value})
