"""The messages for people, in one catalog: each has a key and its text in English and in French. A message is made
where the problem is found (`message("ticket_not_found", ticket_id=3)`) and told in a language only at the edge:
the API in French for `Accept-Language: fr…`, the command line for a French `LC_ALL`/`LC_MESSAGES`/`LANG`, English
otherwise. Field names and values (`status`, `open`) are the API's and stay as they are in both.

French texts quote with « » and put a no-break space before `:`, `;`, `?` and `!`, as French typography does."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")

CATALOG: dict[str, dict[Language, str]] = {
    # ---- what the command line prints
    "cli_no_ticket": {"en": "no ticket (0 of {everything})", "fr": "aucun ticket (0 sur {everything})"},
    "cli_shown_matching": {
        "en": "{shown} shown, {total} matching, {everything} in all",
        "fr": "{shown} affiché{shown:s}, {total} retenu{total:s}, {everything} en tout",
    },
    "cli_created": {"en": "created ticket {ticket_id}: {title}", "fr": "ticket {ticket_id} créé\u00a0: {title}"},
    "cli_unchanged": {
        "en": "ticket {ticket_id} unchanged: it already had these values",
        "fr": "ticket {ticket_id} inchangé\u00a0: il avait déjà ces valeurs",
    },
    "cli_updated": {"en": "updated ticket {ticket_id}", "fr": "ticket {ticket_id} modifié"},
    "cli_bulk_summary": {
        "en": "{count} tickets: {changed} updated, {unchanged} unchanged",
        "fr": "{count} tickets\u00a0: {changed} modifié{changed:s}, {unchanged} inchangé{unchanged:s}",
    },
    "cli_deleted": {"en": "deleted ticket {ticket_id}", "fr": "ticket {ticket_id} supprimé"},
    "cli_comment_added": {
        "en": "added comment {comment_id} to ticket {ticket_id}",
        "fr": "commentaire {comment_id} ajouté au ticket {ticket_id}",
    },
    "cli_note_added": {
        "en": "added comment {comment_id} to ticket {ticket_id} (internal)",
        "fr": "note interne {comment_id} ajoutée au ticket {ticket_id}",
    },
    "cli_comment_unchanged": {
        "en": "comment {comment_id} of ticket {ticket_id} unchanged: it already had these values",
        "fr": "commentaire {comment_id} du ticket {ticket_id} inchangé\u00a0: il avait déjà ces valeurs",
    },
    "cli_comment_edited": {
        "en": "edited comment {comment_id} of ticket {ticket_id}",
        "fr": "commentaire {comment_id} du ticket {ticket_id} corrigé",
    },
    "cli_note_edited": {
        "en": "edited comment {comment_id} of ticket {ticket_id} (internal)",
        "fr": "note interne {comment_id} du ticket {ticket_id} corrigée",
    },
    "cli_comment_deleted": {
        "en": "deleted comment {comment_id} of ticket {ticket_id}",
        "fr": "commentaire {comment_id} du ticket {ticket_id} supprimé",
    },
    "cli_no_comment": {"en": "no comment on ticket {ticket_id}", "fr": "aucun commentaire sur le ticket {ticket_id}"},
    "cli_shown_total": {"en": "{shown} shown, {total} in all", "fr": "{shown} affiché{shown:s}, {total} en tout"},
    "cli_no_history": {
        "en": "no history for ticket {ticket_id} (it was made before the history began)",
        "fr": "aucun historique pour le ticket {ticket_id} (il date d'avant le début de l'historique)",
    },
    "cli_breach_events_one": {
        "en": "1 SLA breach event written on {store}",
        "fr": "1 événement de dépassement SLA écrit dans {store}",
    },
    "cli_breach_events": {
        "en": "{count} SLA breach events written on {store}",
        "fr": "{count} événements de dépassement SLA écrits dans {store}",
    },
    "cli_copied_what": {
        "en": "{tickets} tickets, {comments} comments and {events} events",
        "fr": "{tickets} ticket{tickets:s}, {comments} commentaire{comments:s} et {events} événement{events:s}",
    },
    "cli_copied": {
        "en": "copied {what} from {source} to {target} (next id {next_id}, and the SLA policy)",
        "fr": "{what} copiés de {source} vers {target} (prochain id {next_id}, et la politique SLA)",
    },
    "cli_backed_up": {
        "en": "backed up {what} from {source} to {target}, and the SLA policy",
        "fr": "{what} sauvegardés de {source} vers {target}, et la politique SLA",
    },
    "cli_no_webhook": {"en": "No webhook on {store}.", "fr": "Aucun webhook sur {store}."},
    "cli_webhook_added": {
        "en": "Webhook {hook_id} added: {url} ({events}).",
        "fr": "Webhook {hook_id} ajouté\u00a0: {url} ({events}).",
    },
    "cli_webhook_secret": {
        "en": "Its secret, shown only now (the receiver verifies signatures with it): {secret}",
        "fr": "Son secret, montré seulement maintenant (le destinataire vérifie les signatures avec "
        "lui)\u00a0: {secret}",
    },
    "cli_webhook_removed": {"en": "Webhook {hook_id} removed.", "fr": "Webhook {hook_id} supprimé."},
    "cli_webhook_no_try": {
        "en": "Webhook {hook_id} has tried no delivery yet.",
        "fr": "Le webhook {hook_id} n'a encore tenté aucune livraison.",
    },
    "cli_webhook_newest": {
        "en": "(the newest {shown} of {total}; --limit shows more)",
        "fr": "(les {shown} plus récents sur {total}\u00a0; --limit en montre plus)",
    },
    "cli_delivering": {
        "en": "Delivering the webhooks of {store} (Ctrl-C stops).",
        "fr": "Livraison des webhooks de {store} (Ctrl-C l'arrête).",
    },
    "cli_stopped": {"en": "Stopped.", "fr": "Arrêté."},
    # ---- the command line's line on stderr
    "cli_error": {"en": "script.py: error: {problem}", "fr": "script.py\u00a0: erreur\u00a0: {problem}"},
    # ---- what was asked for does not exist
    "ticket_not_found": {"en": "ticket {ticket_id} not found", "fr": "ticket {ticket_id} introuvable"},
    "comment_not_found": {
        "en": "comment {comment_id} of ticket {ticket_id} not found",
        "fr": "commentaire {comment_id} du ticket {ticket_id} introuvable",
    },
    "webhook_not_found": {"en": "webhook {hook_id} not found", "fr": "webhook {hook_id} introuvable"},
    # ---- a write that cannot happen as asked
    "precondition_failed": {
        "en": "ticket {ticket_id} has changed: its ETag is {current}, not {expected}",
        "fr": "le ticket {ticket_id} a changé\u00a0: son ETag est {current}, pas {expected}",
    },
    "not_author": {
        "en": "comment {comment_id} of ticket {ticket_id} was written by {author!q}: only its author or an admin key "
        "may change it",
        "fr": "le commentaire {comment_id} du ticket {ticket_id} a été écrit par {author!q}\u00a0: seuls son auteur "
        "ou une clé admin peuvent le changer",
    },
    "invalid_change": {"en": "ticket {ticket_id}: {problem}", "fr": "ticket {ticket_id}\u00a0: {problem}"},
    "key_reused_same_route": {
        "en": "Idempotency-Key {key!q} was first used at {first_at} for another body or actor on {route}; it stands "
        "for that request for 24 hours: send a new key for a new request",
        "fr": "la clé Idempotency-Key {key!q} a servi le {first_at} pour un autre corps ou un autre acteur sur "
        "{route}\u00a0; elle désigne cette requête pendant 24 heures\u00a0: envoyez une nouvelle clé pour une "
        "nouvelle requête",
    },
    "key_reused_other_route": {
        "en": "Idempotency-Key {key!q} was first used at {first_at} for {first_route}; it stands for that request for "
        "24 hours: send a new key for a new request",
        "fr": "la clé Idempotency-Key {key!q} a servi le {first_at} pour {first_route}\u00a0; elle désigne cette "
        "requête pendant 24 heures\u00a0: envoyez une nouvelle clé pour une nouvelle requête",
    },
    "key_in_flight": {
        "en": "a request with Idempotency-Key {key!q} is still being answered; retry once it is done, and get its "
        "answer",
        "fr": "une requête avec la clé Idempotency-Key {key!q} est encore en cours\u00a0; réessayez une fois "
        "qu'elle est finie, vous aurez sa réponse",
    },
    # ---- the store
    "store_write_failed": {
        "en": "could not save {path}: {reason}; nothing was changed",
        "fr": "impossible d'enregistrer {path}\u00a0: {reason}\u00a0; rien n'a été changé",
    },
    "store_busy": {
        "en": "store busy: {path} stayed locked by another process for {seconds} s; try again",
        "fr": "stockage occupé\u00a0: {path} est resté verrouillé par un autre processus pendant "
        "{seconds}\u00a0s\u00a0; réessayez",
    },
    "store_not_empty": {
        "en": "{name} already holds {count} tickets; add --replace to replace them",
        "fr": "{name} contient déjà {count} tickets\u00a0; ajoutez --replace pour les remplacer",
    },
    # ---- keys and roles
    "api_key_missing": {
        "en": "missing API key: send the X-API-Key header",
        "fr": "clé d'API manquante\u00a0: envoyez l'en-tête X-API-Key",
    },
    "api_key_wrong": {"en": "wrong API key", "fr": "mauvaise clé d'API"},
    "role_needs_admin": {
        "en": "this API key's role is {role}: {method} {path} needs an admin key",
        "fr": "le rôle de cette clé d'API est {role}\u00a0: {method} {path} demande une clé admin",
    },
    "role_reads_only": {
        "en": "this API key's role is viewer: it may only read (GET, HEAD, OPTIONS), not {method}",
        "fr": "le rôle de cette clé d'API est viewer\u00a0: elle ne peut que lire (GET, HEAD, OPTIONS), pas {method}",
    },
    "author_not_key": {
        "en": "the author is {author!q}, but this API key belongs to {key_name!q}",
        "fr": "l'auteur est {author!q}, mais cette clé d'API est celle de {key_name!q}",
    },
    "actor_not_key": {
        "en": "X-Actor names {claimed!q}, but this API key belongs to {key_name!q}",
        "fr": "X-Actor nomme {claimed!q}, mais cette clé d'API est celle de {key_name!q}",
    },
    # ---- request shapes
    "not_json": {
        "en": "send the body as JSON, with the header Content-Type: application/json",
        "fr": "envoyez le corps en JSON, avec l'en-tête Content-Type: application/json",
    },
    "method_not_allowed": {
        "en": "Method Not Allowed: this path answers {allowed}",
        "fr": "méthode non permise\u00a0: ce chemin répond à {allowed}",
    },
    "query_unknown": {
        "en": "unknown query parameter {name!q}: this route takes {accepted}",
        "fr": "paramètre de requête inconnu {name!q}\u00a0: cette route accepte {accepted}",
    },
    "query_none": {
        "en": "unknown query parameter {name!q}: this route takes none",
        "fr": "paramètre de requête inconnu {name!q}\u00a0: cette route n'en accepte aucun",
    },
    "too_large": {
        "en": "Content Too Large: the body is over {limit} bytes (1 MiB)",
        "fr": "corps trop grand\u00a0: il dépasse {limit} octets (1 Mio)",
    },
}

# pydantic's own complaints, by their type; their context (ctx) gives the values. Types not named here are told
# in pydantic's English words.
VALIDATION: dict[str, dict[Language, str]] = {
    "missing": {"en": "Field required", "fr": "champ obligatoire"},
    "extra_forbidden": {"en": "Extra inputs are not permitted", "fr": "champ inconnu\u00a0: il n'est pas accepté"},
    "literal_error": {"en": "Input should be {expected}", "fr": "valeur attendue\u00a0: {expected}"},
    "enum": {"en": "Input should be {expected}", "fr": "valeur attendue\u00a0: {expected}"},
    "string_type": {"en": "Input should be a valid string", "fr": "un texte est attendu"},
    "int_type": {"en": "Input should be a valid integer", "fr": "un nombre entier est attendu"},
    "int_parsing": {
        "en": "Input should be a valid integer, unable to parse string as an integer",
        "fr": "un nombre entier est attendu",
    },
    "bool_type": {"en": "Input should be a valid boolean", "fr": "true ou false est attendu"},
    "list_type": {"en": "Input should be a valid list", "fr": "une liste est attendue"},
    "dict_type": {"en": "Input should be a valid dictionary", "fr": "un objet JSON est attendu"},
    "model_attributes_type": {
        "en": "Input should be a valid dictionary or object to extract fields from",
        "fr": "un objet JSON est attendu",
    },
    "json_invalid": {"en": "JSON decode error", "fr": "JSON invalide"},
    "string_too_short": {
        "en": "String should have at least {min_length} characters",
        "fr": "le texte doit avoir au moins {min_length} caractères",
    },
    "string_too_long": {
        "en": "String should have at most {max_length} characters",
        "fr": "le texte doit avoir au plus {max_length} caractères",
    },
    "string_pattern_mismatch": {
        "en": "String should match pattern {pattern!q}",
        "fr": "le texte n'a pas la forme attendue ({pattern!q})",
    },
    "too_short": {
        "en": "List should have at least {min_length} items after validation, not {actual_length}",
        "fr": "la liste doit avoir au moins {min_length} éléments, pas {actual_length}",
    },
    "too_long": {
        "en": "List should have at most {max_length} items after validation, not {actual_length}",
        "fr": "la liste doit avoir au plus {max_length} éléments, pas {actual_length}",
    },
    "greater_than_equal": {"en": "Input should be greater than or equal to {ge}", "fr": "au moins {ge} est attendu"},
    "less_than_equal": {"en": "Input should be less than or equal to {le}", "fr": "au plus {le} est attendu"},
    "greater_than": {"en": "Input should be greater than {gt}", "fr": "plus de {gt} est attendu"},
    "less_than": {"en": "Input should be less than {lt}", "fr": "moins de {lt} est attendu"},
}


def _quoted(value: Any, language: Language) -> str:
    """A name or value quoted for a sentence: 'karim' in English, « karim » in French."""
    return f"«\u00a0{value}\u00a0»" if language == "fr" else repr(value)


class _Formatter(string.Formatter):
    """str.format, with !q for a quoted value in the message's language, and Messages told in it too."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "q":
            return _quoted(value, self.language)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Message):
            return value.told(self.language)
        if format_spec == "s":  # the plural mark of the count: {count:s} ("1 ticket", "2 tickets"; French: "0 ticket")
            plural = abs(int(value)) >= 2 if self.language == "fr" else abs(int(value)) != 1
            return "s" if plural else ""
        return super().format_field(value, format_spec)


@dataclass(frozen=True)
class Message:
    """A message for people: its key in the catalog and its values, told in a language when it is shown."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)
    table: Mapping[str, Mapping[Language, str]] = field(default_factory=lambda: CATALOG, repr=False, compare=False)

    def told(self, language: Language = "en") -> str:
        texts = self.table[self.key]
        return _Formatter(language).format(texts.get(language) or texts["en"], **self.values)

    def __str__(self) -> str:
        return self.told("en")


def message(name: str, /, **values: Any) -> Message:
    """The catalog's message `name` with its values (KeyError for a name the catalog does not hold)."""
    if name not in CATALOG:
        raise KeyError(f"no message {name!r} in the catalog")
    return Message(name, values)


class Problem(ValueError):
    """A validator's complaint as a message of the catalog: pydantic keeps it, and the edge tells it in the
    client's language."""

    def __init__(self, told: Message) -> None:
        super().__init__(str(told))
        self.message = told


def validation_message(error: Mapping[str, Any], language: Language) -> str:
    """One complaint of a pydantic validation error, in the language (pydantic's "Value error, " prefix left out:
    the message of a validator is a sentence of its own)."""
    context = error.get("ctx") or {}
    raised = context.get("error")
    if isinstance(raised, Problem):
        return raised.message.told(language)
    if error["type"] == "value_error" and isinstance(raised, Exception):
        return str(raised)
    if error["type"] in VALIDATION:
        try:
            return Message(error["type"], dict(context), VALIDATION).told(language)
        except (KeyError, IndexError, ValueError):
            pass
    return str(error["msg"])


_WEIGHTED = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def language_of_request(accept_language: str | None) -> Language:
    """The language an HTTP client asks for (Accept-Language: its most wanted one that the catalog speaks), English
    when it names none of them. `fr`, `fr-FR`, `fr-CA;q=0.9, en;q=0.8` ask for French."""
    best: tuple[float, Language] = (0.0, "en")
    for part in (accept_language or "").split(","):
        found = _WEIGHTED.match(part)
        if not found:
            continue
        try:
            weight = float(found.group(2)) if found.group(2) else 1.0
        except ValueError:
            continue
        language = found.group(1).lower()
        if language in LANGUAGES and weight > best[0]:
            best = (weight, language)
    return best[1]


def language_of_environment(environ: Mapping[str, str]) -> Language:
    """The language of the command line's user: the first of LC_ALL, LC_MESSAGES and LANG that is set (as gettext
    reads them), French when it is fr or fr_XX."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "fr" if value.split(".")[0].split("_")[0].lower() == "fr" else "en"
    return "en"
