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
