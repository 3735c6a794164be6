"""The API tells its messages in French for a client that asks (Accept-Language: fr…), in English otherwise;
field names and values stay the API's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from conftest import TEST_DATA, _serving, ticket
from tickets.engine.settings import Settings
from tickets.stores.json_file import JsonStore

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def test_the_api_answers_in_french_when_asked(client: TestClient) -> None:
    assert client.get("/tickets/99").json() == {"detail": "ticket 99 not found"}
    assert client.get("/tickets/99", headers=FRENCH).json() == {"detail": "ticket 99 introuvable"}
    extra = client.post("/tickets", json={"title": "x", "prioriy": "high"}, headers=FRENCH).json()["detail"]
    assert extra == [
        {"type": "extra_forbidden", "loc": ["body", "prioriy"], "msg": "champ inconnu\u00a0: il n'est pas accepté"}
    ]
    stale = client.patch("/tickets/3", json={"priority": "low"}, headers={**FRENCH, "If-Match": '"abc"'}).json()
    assert stale["detail"].startswith("le ticket 3 a changé\u00a0: son ETag est")
    not_json = client.post("/tickets", content=b'{"title": "x"}', headers=FRENCH).json()["detail"]
    assert not_json[0]["msg"] == "envoyez le corps en JSON, avec l'en-tête Content-Type: application/json"
    refused = client.put("/tickets", headers=FRENCH)
    assert refused.json()["detail"].startswith("méthode non permise\u00a0: ce chemin répond à GET")
    # field names and values stay the API's own
    wrong = client.get("/tickets", params={"sort": "couleur"}, headers=FRENCH).json()["detail"][0]
    assert wrong["loc"] == ["query", "sort"] and wrong["msg"].startswith("valeur attendue\u00a0: 'id', '-id'")
    assert wrong["msg"].endswith("'due' ou '-due'")  # pydantic's list of choices, joined in French
    broken = client.post("/tickets", content=b"{bad", headers={**FRENCH, "Content-Type": "application/json"})
    assert broken.json()["detail"][0]["msg"].startswith("JSON invalide (")  # with the parser's own words


def test_keys_and_roles_answer_in_french_when_asked(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_bytes(TEST_DATA.read_bytes())
    settings = Settings.from_environment({"TICKETS_API_KEYS": "vera:k-vera:viewer,karim:k-karim:agent"})
    with _serving(JsonStore(tmp_path / "t.json"), settings) as client:
        assert client.get("/tickets", headers=FRENCH).json() == {
            "detail": "clé d'API manquante\u00a0: envoyez l'en-tête X-API-Key"
        }
        assert client.get("/tickets", headers={**FRENCH, "X-API-Key": "nope"}).json() == {
            "detail": "mauvaise clé d'API"
        }
        viewer = client.patch("/tickets/3", json={"status": "closed"}, headers={**FRENCH, "X-API-Key": "k-vera"})
        assert viewer.status_code == 403
        assert viewer.json()["detail"] == (
            "le rôle de cette clé d'API est viewer\u00a0: elle ne peut que lire (GET, HEAD, OPTIONS), pas PATCH"
        )
        actor = client.patch(
            "/tickets/3", json={"status": "closed"}, headers={**FRENCH, "X-API-Key": "k-karim", "X-Actor": "zoe"}
        )
        assert actor.status_code == 403
        assert (
            actor.json()["detail"]
            == "X-Actor nomme «\u00a0zoe\u00a0», mais cette clé d'API est celle de «\u00a0karim\u00a0»"
        )


def test_a_validators_complaint_is_told_in_french(client: TestClient) -> None:
    """A validator's message comes from the catalog (no "Value error, " prefix, in either language)."""
    english = client.get("/tickets", params={"status": "lost"}).json()["detail"][0]["msg"]
    assert english.startswith("unknown status 'lost'; expected one of open, in_progress, waiting, closed (or ouvert")
    french = client.get("/tickets", params={"status": "perdu"}, headers=FRENCH).json()["detail"][0]
    assert french["loc"] == ["query", "status", 0]
    assert french["msg"].startswith(
        "status inconnu «\u00a0perdu\u00a0»\u00a0; valeurs possibles\u00a0: open, in_progress"
    )
    empty = client.patch("/tickets/3", json={}, headers=FRENCH).json()["detail"][0]["msg"]
    assert empty.startswith("la modification est vide\u00a0; donnez au moins un de ces champs\u00a0: title,")


def test_refusals_moved_to_the_catalog_are_told_in_french(json_client: TestClient) -> None:
    """Webhook URLs, the Idempotency-Key header, a parameter given twice, a comment without author: French on
    request, the same English words as ever without it."""

    def msg(answer: Any) -> str:
        assert answer.status_code == 400, answer.text
        return str(answer.json()["detail"][0]["msg"])

    ftp = {"url": "ftp://example.com/hook", "events": ["*"]}
    assert msg(json_client.post("/webhooks", json=ftp)) == "a webhook URL starts with http:// or https://"
    assert msg(json_client.post("/webhooks", json=ftp, headers=FRENCH)) == (
        "l'URL d'un webhook commence par http:// ou https://"
    )
    local = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    assert msg(json_client.post("/webhooks", json=local, headers=FRENCH)) == (
        "l'hôte «\u00a0127.0.0.1\u00a0» de l'URL du webhook se résout en 127.0.0.1, une adresse de "
        "bouclage\u00a0: le service n'appelle que des adresses publiques (TICKETS_WEBHOOKS_ALLOW_PRIVATE=1 permet "
        "les autres)"
    )
    too_long = {**FRENCH, "Idempotency-Key": "k" * 300}
    assert msg(json_client.post("/tickets", json={"title": "x"}, headers=too_long)) == (
        "Idempotency-Key doit avoir de 1 à 255 caractères, pas 300"
    )
    twice = json_client.get("/tickets?assignee=a&assignee=b", headers=FRENCH)
    assert msg(twice) == "donnez assignee au plus une fois"
    assert msg(json_client.get("/tickets?assignee=a&assignee=b")) == "give assignee at most once"
    nobody = json_client.post("/tickets/3/comments", json={"body": "Bonjour"}, headers=FRENCH)
    assert msg(nobody) == "donnez l'auteur, ou nommez-vous dans l'en-tête X-Actor"


def test_a_store_problem_is_told_in_french(tmp_path: Path) -> None:
    """A file the service cannot read: a 503 whose detail names the file and its problem, in French on request."""
    broken = tmp_path / "t.json"
    broken.write_text('{"next_id": 2, "tickets": [{"id": 1}]}', encoding="utf-8")
    with _serving(JsonStore(broken)) as client:
        english = client.get("/tickets/1")
        assert english.status_code == 503
        assert english.json()["detail"] == f"{broken}: tickets[0].title: Field required"
        french = client.get("/tickets/1", headers=FRENCH)
        assert french.json()["detail"] == f"{broken}\u00a0: tickets[0].title\u00a0: champ obligatoire"
        whole = json.dumps({"next_id": 2, "tickets": [ticket(1)]})
        broken.write_text(whole.replace('"id": 1', '"id": 1, "id": 1'), encoding="utf-8")
        repeated = client.get("/tickets/1", headers=FRENCH)
        assert repeated.json()["detail"] == (
            f"{broken}\u00a0: la clé «\u00a0id\u00a0» apparaît deux fois dans un même objet\u00a0; gardez-en une"
        )
