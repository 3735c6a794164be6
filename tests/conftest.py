"""Fixtures: every test works on its own temporary copy of the shipped tickets.json."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from main import app, get_store
from script import Store

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "tickets.json"


@pytest.fixture(autouse=True, scope="session")
def shipped_file_is_never_touched() -> Iterator[None]:
    before = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    yield
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == before, "a test modified the shipped tickets.json"


@pytest.fixture(autouse=True)
def no_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even code that forgets the override uses a temporary file, never the shipped one."""
    monkeypatch.setenv("TICKETS_FILE", str(tmp_path / "default-tickets.json"))
    monkeypatch.setenv("TICKETS_LOCK_TIMEOUT", "10")


@pytest.fixture
def tickets_file(tmp_path: Path) -> Path:
    """A copy of the shipped sample data (14 tickets, ids 1-15 without 12, next_id 17)."""
    copy = tmp_path / "tickets.json"
    shutil.copyfile(SHIPPED, copy)
    return copy


@pytest.fixture
def store(tickets_file: Path) -> Store:
    return Store(tickets_file)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app.dependency_overrides[get_store] = lambda: store
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.clear()
