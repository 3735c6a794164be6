"""The messages for people, in one catalog: each has a key and its text in English and in French. A message is made
where the problem is found (`message("ticket_not_found", ticket_id=3)`) and told in a language only at the edge:
the API in French for `Accept-Language: fr…`, the command line for a French `LC_ALL`/`LC_MESSAGES`/`LANG`, English
otherwise. Field names and values (`status`, `open`) are the API's and stay as they are in both.

French texts quote with « » and put a no-break space before `:`, `;`, `?` and `!`, as French typography does."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")

CATALOG: dict[str, dict[Language, str]] = {
    # ---- validators' complaints (pydantic keeps them; the edge tells them)
    "unknown_choice": {
        "en": "unknown {kind} {value!q}; expected one of {choices} (or {french})",
        "fr": "{kind} inconnu {value!q}\u00a0; valeurs possibles\u00a0: {choices} (ou {french})",
    },
    "blank_text": {
        "en": "must contain a visible character, not only spaces or zero-width characters",
        "fr": "doit contenir un caractère visible, pas seulement des espaces ou des caractères sans largeur",
    },
    "nul_in_text": {
        "en": "must not contain the NUL character (\\u0000)",
        "fr": "ne doit pas contenir le caractère NUL (\\u0000)",
    },
    "not_a_time": {
        "en": "{value!q} is not a real date and time",
        "fr": "{value!q} n'est pas une date et une heure qui existent",
    },
    "invalid_id": {
        "en": "invalid id {value!q}: expected a whole number from 1 to {most}",
        "fr": "id invalide {value!q}\u00a0: un nombre entier de 1 à {most} est attendu",
    },
    "invalid_tag": {
        "en": "invalid tag {value!q}: 1 to {most} letters, digits, '-' or '_' (no spaces or punctuation)",
        "fr": "étiquette invalide {value!q}\u00a0: de 1 à {most} lettres, chiffres, «\u00a0-\u00a0» ou «\u00a0_\u00a0» "
        "(ni espace ni ponctuation)",
    },
    "invalid_email": {
        "en": "invalid email address {value!q}: expected name@domain.tld",
        "fr": "adresse électronique invalide {value!q}\u00a0: nom@domaine.tld est attendu",
    },
    "target_twice": {"en": "a target is named twice", "fr": "un objectif est nommé deux fois"},
    "update_empty": {
        "en": "the update is empty; give at least one of {fields}",
        "fr": "la modification est vide\u00a0; donnez au moins un de ces champs\u00a0: {fields}",
    },
    "tags_both_ways": {
        "en": "give tags (the new list) or add_tags/remove_tags, not both",
        "fr": "donnez tags (la nouvelle liste) ou add_tags/remove_tags, pas les deux",
    },
    "tag_added_and_removed": {
        "en": "the tag {tag!q} is both added and removed",
        "fr": "l'étiquette {tag!q} est à la fois ajoutée et retirée",
    },
    "id_twice": {"en": "the id {ticket_id} is given twice", "fr": "l'id {ticket_id} est donné deux fois"},
    "not_a_date": {
        "en": "{value!q} is not a real date (YYYY-MM-DD)",
        "fr": "{value!q} n'est pas une date qui existe (AAAA-MM-JJ)",
    },
    "response_after_resolution": {
        "en": "the first response ({first} min) cannot be due after the resolution ({last} min)",
        "fr": "la première réponse ({first}\u00a0min) ne peut pas être due après la résolution ({last}\u00a0min)",
    },
    "unknown_zone": {
        "en": "unknown time zone {value!q}: expected an IANA name such as Europe/Paris or UTC",
        "fr": "fuseau horaire inconnu {value!q}\u00a0: un nom IANA comme Europe/Paris ou UTC est attendu",
    },
    "range_backwards": {
        "en": "{day}: the range {start}-{end} ends before it starts",
        "fr": "{day}\u00a0: la plage {start}-{end} finit avant de commencer",
    },
    "range_overlaps": {
        "en": "{day}: the range {start}-{end} overlaps or precedes the one before it",
        "fr": "{day}\u00a0: la plage {start}-{end} chevauche ou précède la précédente",
    },
    "no_business_hours": {
        "en": "no day has business hours: give some, or null for every hour",
        "fr": "aucun jour n'a d'heures ouvrées\u00a0: donnez-en, ou null pour toutes les heures",
    },
    "correction_empty": {
        "en": "the correction is empty; give body, internal or both",
        "fr": "la correction est vide\u00a0; donnez body, internal ou les deux",
    },
    # ---- settings (the server does not start, the command line exits with 2)
    "setting_switch": {
        "en": "{name}={text!q}: expected 1 (on) or 0 (off)",
        "fr": "{name}={text!q}\u00a0: 1 (oui) ou 0 (non) est attendu",
    },
    "setting_on_off": {
        "en": "{name}={text!q}: expected on or off",
        "fr": "{name}={text!q}\u00a0: on ou off est attendu",
    },
    "setting_time_scale": {
        "en": "TICKETS_WEBHOOK_TIME_SCALE={text!q} is not a number > 0",
        "fr": "TICKETS_WEBHOOK_TIME_SCALE={text!q} n'est pas un nombre > 0",
    },
    "setting_lock_timeout": {
        "en": "TICKETS_LOCK_TIMEOUT={text!q} is not a number of seconds >= 0",
        "fr": "TICKETS_LOCK_TIMEOUT={text!q} n'est pas un nombre de secondes >= 0",
    },
    "setting_both_keys": {
        "en": "TICKETS_API_KEY and TICKETS_API_KEYS are both set: keep the named keys, or the one key",
        "fr": "TICKETS_API_KEY et TICKETS_API_KEYS sont toutes deux définies\u00a0: gardez les clés nommées, ou "
        "la clé unique",
    },
    "setting_key_empty": {
        "en": "TICKETS_API_KEY is set but empty: give it a value, or unset it for an open local API",
        "fr": "TICKETS_API_KEY est définie mais vide\u00a0: donnez-lui une valeur, ou retirez-la pour une API "
        "locale ouverte",
    },
    "setting_key_ascii": {
        "en": "TICKETS_API_KEY must be printable ASCII (letters, digits, punctuation)",
        "fr": "TICKETS_API_KEY doit être en ASCII imprimable (lettres, chiffres, ponctuation)",
    },
    "setting_now": {
        "en": "TICKETS_NOW={text!q}: expected a UTC time such as 2026-11-27T16:50:00Z",
        "fr": "TICKETS_NOW={text!q}\u00a0: un instant UTC comme 2026-11-27T16:50:00Z est attendu",
    },
    "setting_keys_entry": {
        "en": "TICKETS_API_KEYS: entry {number} is not name:key or name:key:role (entries are separated by "
        "commas; a key may not hold ':' or ',')",
        "fr": "TICKETS_API_KEYS\u00a0: l'entrée {number} n'est ni nom:clé ni nom:clé:rôle (les entrées sont "
        "séparées par des virgules\u00a0; une clé ne peut contenir ni «\u00a0:\u00a0» ni «\u00a0,\u00a0»)",
    },
    "setting_keys_role": {
        "en": "TICKETS_API_KEYS: entry {number} has no role {role!q}; roles: {roles}",
        "fr": "TICKETS_API_KEYS\u00a0: le rôle {role!q} de l'entrée {number} n'existe pas\u00a0; rôles\u00a0: {roles}",
    },
    "setting_keys_empty": {
        "en": "TICKETS_API_KEYS is set but empty: give name:key,name:key, or unset it",
        "fr": "TICKETS_API_KEYS est définie mais vide\u00a0: donnez nom:clé,nom:clé, ou retirez-la",
    },
    "setting_keys_name": {
        "en": "TICKETS_API_KEYS: the name of entry {number} must be 1 to {most} visible characters",
        "fr": "TICKETS_API_KEYS\u00a0: le nom de l'entrée {number} doit avoir de 1 à {most} caractères visibles",
    },
    "setting_keys_ascii": {
        "en": "TICKETS_API_KEYS: the key of entry {number} must be printable ASCII",
        "fr": "TICKETS_API_KEYS\u00a0: la clé de l'entrée {number} doit être en ASCII imprimable",
    },
    "setting_keys_repeat": {
        "en": "TICKETS_API_KEYS: entry {number} repeats the key of entry {first}: each name needs its own key",
        "fr": "TICKETS_API_KEYS\u00a0: l'entrée {number} reprend la clé de l'entrée {first}\u00a0: chaque nom a "
        "besoin de sa propre clé",
    },
    "setting_keys_name_twice": {
        "en": "TICKETS_API_KEYS: the name {name!q} is given twice",
        "fr": "TICKETS_API_KEYS\u00a0: le nom {name!q} est donné deux fois",
    },
    # ---- the command line's refusals (exit 2)
    "cli_email_needs_name": {
        "en": "--requester-email needs --requester-name (a requester has a name, and maybe an email)",
        "fr": "--requester-email demande --requester-name (un demandeur a un nom, et peut-être une adresse)",
    },
    "cli_no_requester_with": {
        "en": "--no-requester cannot go with --requester-name or --requester-email",
        "fr": "--no-requester ne va pas avec --requester-name ni --requester-email",
    },
    "cli_tags_with_add": {
        "en": "--tags (the new list) cannot go with --add-tag or --remove-tag",
        "fr": "--tags (la nouvelle liste) ne va pas avec --add-tag ni --remove-tag",
    },
    "cli_nothing_to_update": {
        "en": "nothing to update; give at least one of {options}",
        "fr": "rien à modifier\u00a0; donnez au moins une de ces options\u00a0: {options}",
    },
    "cli_if_match_one": {
        "en": "--if-match guards one ticket; it cannot go with {count} ids",
        "fr": "--if-match protège un seul ticket\u00a0; il ne va pas avec {count} ids",
    },
    "cli_policy_too_big": {
        "en": "{where}: a policy file is at most {most} bytes",
        "fr": "{where}\u00a0: un fichier de politique fait au plus {most} octets",
    },
    "cli_policy_key_twice": {
        "en": "{where}: the key {key!q} is given twice",
        "fr": "{where}\u00a0: la clé {key!q} est donnée deux fois",
    },
    "cli_backup_exists": {
        "en": "{dest} already exists; a backup goes into a new file",
        "fr": "{dest} existe déjà\u00a0; une sauvegarde va dans un nouveau fichier",
    },
    "cli_give_author": {
        "en": "give --author (the login name is unknown here)",
        "fr": "donnez --author (le nom de connexion est inconnu ici)",
    },
    "cli_nothing_to_change": {
        "en": "nothing to change; give --body, --internal or --public",
        "fr": "rien à changer\u00a0; donnez --body, --internal ou --public",
    },
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
    "server_error": {"en": "error: {problem}", "fr": "erreur\u00a0: {problem}"},
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
    "query_once": {"en": "give {name} at most once", "fr": "donnez {name} au plus une fois"},
    "author_missing": {
        "en": "give the author, or name yourself in the X-Actor header",
        "fr": "donnez l'auteur, ou nommez-vous dans l'en-tête X-Actor",
    },
    "too_large": {
        "en": "Content Too Large: the body is over {limit} bytes (1 MiB)",
        "fr": "corps trop grand\u00a0: il dépasse {limit} octets (1 Mio)",
    },
    # ---- problems put together (a field and its problem; several problems on one line)
    "field_problem": {"en": "{where}: {problem}", "fr": "{where}\u00a0: {problem}"},
    "problems": {"en": "{problems:list}", "fr": "{problems:list}"},
    "not_this_input": {"en": "{problem}, not {value!q}", "fr": "{problem}, pas {value!q}"},
    # ---- where the store is (the command line exits with 2, the server does not start)
    "setting_database_url": {
        "en": "the database URL must start with postgresql:// (as in postgresql://user@host/tickets)",
        "fr": "l'URL de la base de données doit commencer par postgresql:// (comme dans "
        "postgresql://user@host/tickets)",
    },
    "setting_file_or_url": {
        "en": "give either a tickets file or a database URL, not both",
        "fr": "donnez un fichier de tickets ou une URL de base de données, pas les deux",
    },
    "setting_file_with_url": {
        "en": "--file was given while TICKETS_DATABASE_URL is set: unset it to use a file",
        "fr": "--file est donné alors que TICKETS_DATABASE_URL est définie\u00a0: retirez-la pour utiliser un fichier",
    },
    "setting_file_and_url": {
        "en": "TICKETS_FILE and TICKETS_DATABASE_URL are both set: unset the one you do not use",
        "fr": "TICKETS_FILE et TICKETS_DATABASE_URL sont toutes deux définies\u00a0: retirez celle que vous "
        "n'utilisez pas",
    },
    "setting_needs_psycopg": {
        "en": "PostgreSQL needs psycopg ({problem}): pip install -r requirements-postgres.txt",
        "fr": "PostgreSQL demande psycopg ({problem})\u00a0: pip install -r requirements-postgres.txt",
    },
    # ---- webhook URLs
    "webhook_url_invalid": {
        "en": "a webhook URL must be a valid URL ({problem})",
        "fr": "l'URL d'un webhook doit être une URL valide ({problem})",
    },
    "webhook_url_scheme": {
        "en": "a webhook URL starts with http:// or https://",
        "fr": "l'URL d'un webhook commence par http:// ou https://",
    },
    "webhook_url_host": {"en": "a webhook URL names a host", "fr": "l'URL d'un webhook nomme un hôte"},
    "webhook_url_credentials": {
        "en": "a webhook URL carries no user name or password (the signature proves the sender)",
        "fr": "l'URL d'un webhook ne porte ni nom d'utilisateur ni mot de passe (la signature prouve l'expéditeur)",
    },
    "webhook_url_fragment": {"en": "a webhook URL has no #fragment", "fr": "l'URL d'un webhook n'a pas de #fragment"},
    "webhook_url_port": {
        "en": "the port of the webhook URL is not a number from 0 to 65535",
        "fr": "le port de l'URL du webhook n'est pas un nombre de 0 à 65535",
    },
    "webhook_url_spaces": {
        "en": "a webhook URL has no spaces or control characters",
        "fr": "l'URL d'un webhook n'a ni espace ni caractère de contrôle",
    },
    "address_unresolved": {
        "en": "the host {host!q} of the webhook URL does not resolve ({problem})",
        "fr": "l'hôte {host!q} de l'URL du webhook ne se résout pas ({problem})",
    },
    "address_not_public": {
        "en": "the host {host!q} of the webhook URL resolves to {address}, {kind}: the service only calls public "
        "addresses (TICKETS_WEBHOOKS_ALLOW_PRIVATE=1 allows the others)",
        "fr": "l'hôte {host!q} de l'URL du webhook se résout en {address}, {kind}\u00a0: le service n'appelle que "
        "des adresses publiques (TICKETS_WEBHOOKS_ALLOW_PRIVATE=1 permet les autres)",
    },
    "address_loopback": {"en": "a loopback address", "fr": "une adresse de bouclage"},
    "address_link_local": {"en": "a link-local address", "fr": "une adresse locale au lien"},
    "address_multicast": {"en": "a multicast address", "fr": "une adresse de multidiffusion"},
    "address_unspecified": {"en": "an unspecified address", "fr": "une adresse non spécifiée"},
    "address_private": {"en": "a private address", "fr": "une adresse privée"},
    "address_reserved": {"en": "a reserved address", "fr": "une adresse réservée"},
    "address_not_global": {"en": "not a public address", "fr": "pas une adresse publique"},
    # ---- the Idempotency-Key header
    "key_quoted_badly": {
        "en": 'Idempotency-Key: a quoted key must be one string of printable ASCII characters, ending with its " '
        '(inside, write \\" and \\\\)',
        "fr": "Idempotency-Key\u00a0: une clé entre guillemets doit être une seule chaîne de caractères ASCII "
        'imprimables, finie par son " (à l\'intérieur, écrivez \\" et \\\\)',
    },
    "key_invalid": {
        "en": "Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID is a good key); quote one with "
        'spaces: "my key"',
        "fr": "Idempotency-Key doit avoir de 1 à 255 caractères ASCII imprimables (un UUID est une bonne "
        'clé)\u00a0; mettez entre guillemets une clé qui a des espaces\u00a0: "ma clef"',
    },
    "key_length": {
        "en": "Idempotency-Key must be 1 to {most} characters, not {length}",
        "fr": "Idempotency-Key doit avoir de 1 à {most} caractères, pas {length}",
    },
    "key_once": {
        "en": "give {header} once: it names one request",
        "fr": "donnez {header} une seule fois\u00a0: il désigne une seule requête",
    },
    # ---- the command line's files, copies and arguments
    "cli_cannot_read": {"en": "cannot read {path}: {reason}", "fr": "impossible de lire {path}\u00a0: {reason}"},
    "cli_standard_input": {"en": "standard input", "fr": "l'entrée standard"},
    "cli_copy_same": {
        "en": "the source and the target are the same store: {store}",
        "fr": "la source et la cible sont le même stockage\u00a0: {store}",
    },
    "cli_backup_same": {
        "en": "the backup cannot be the store itself: {store}",
        "fr": "la sauvegarde ne peut pas être le stockage lui-même\u00a0: {store}",
    },
    "cli_policy_set": {
        "en": "SLA policy set on {store}: {timezone}, targets for {targeted}",
        "fr": "politique SLA définie sur {store}\u00a0: {timezone}, objectifs pour {targeted}",
    },
    "cli_policy_set_no_target": {
        "en": "SLA policy set on {store}: {timezone}, no target",
        "fr": "politique SLA définie sur {store}\u00a0: {timezone}, aucun objectif",
    },
    "cli_output_failed": {
        "en": "could not write the output: {reason}",
        "fr": "impossible d'écrire la sortie\u00a0: {reason}",
    },
    "cli_give_command": {"en": "give a command: {commands}", "fr": "donnez une commande\u00a0: {commands}"},
    "cli_or": {"en": "{some} or {last}", "fr": "{some} ou {last}"},
    "cli_usage": {"en": "usage: ", "fr": "utilisation\u00a0: "},
    "cli_invalid_number": {
        "en": "invalid {what} {value!q}: expected a whole number from {minimum} to {maximum}",
        "fr": "{what} invalide {value!q}\u00a0: un nombre entier de {minimum} à {maximum} est attendu",
    },
    "what_limit": {"en": "limit", "fr": "limite"},
    "what_offset": {"en": "offset", "fr": "décalage"},
    "what_days": {"en": "number of days", "fr": "nombre de jours"},
    "what_ticket_id": {"en": "ticket id", "fr": "id de ticket"},
    "what_comment_id": {"en": "comment id", "fr": "id de commentaire"},
    "what_webhook_id": {"en": "webhook id", "fr": "id de webhook"},
    "cli_invalid_time": {
        "en": "invalid time {value!q}: expected a UTC time such as 2026-11-30T09:00:00Z",
        "fr": "heure invalide {value!q}\u00a0: un instant UTC comme 2026-11-30T09:00:00Z est attendu",
    },
    "cli_usage_error": {"en": "{prog}: error: {problem}", "fr": "{prog}\u00a0: erreur\u00a0: {problem}"},
    # argparse's own complaints (its English texts are its own; these are their French)
    "argparse_required": {
        "en": "the following arguments are required: {names}",
        "fr": "ces arguments sont obligatoires\u00a0: {names}",
    },
    "argparse_unrecognized": {
        "en": "unrecognized arguments: {names}",
        "fr": "arguments non reconnus\u00a0: {names}",
    },
    "argparse_argument": {"en": "argument {name}: {problem}", "fr": "argument {name}\u00a0: {problem}"},
    "argparse_choice": {
        "en": "invalid choice: {value!q} (choose from {choices})",
        "fr": "choix invalide\u00a0: {value!q} (valeurs possibles\u00a0: {choices})",
    },
    "argparse_one_value": {"en": "expected one argument", "fr": "une valeur est attendue"},
    "argparse_some_values": {"en": "expected at least one argument", "fr": "au moins une valeur est attendue"},
    "argparse_no_value": {"en": "ignored explicit argument {value!q}", "fr": "valeur ignorée\u00a0: {value!q}"},
    "argparse_invalid_value": {
        "en": "invalid {kind} value: {value!q}",
        "fr": "valeur invalide ({kind})\u00a0: {value!q}",
    },
    "argparse_not_with": {"en": "not allowed with argument {name}", "fr": "ne va pas avec l'argument {name}"},
    "argparse_one_of": {
        "en": "one of the arguments {names} is required",
        "fr": "l'un de ces arguments est obligatoire\u00a0: {names}",
    },
    "argparse_ambiguous": {
        "en": "ambiguous option: {option} could match {matches}",
        "fr": "option ambiguë\u00a0: {option} peut désigner {matches}",
    },
    # ---- the stores' problems (the API answers 503, the command line exits with 1)
    "store_unreadable": {"en": "{path}: {problem}", "fr": "{path}\u00a0: {problem}"},
    "store_line": {"en": "line {number}: {problem}", "fr": "ligne {number}\u00a0: {problem}"},
    "store_empty_file": {
        "en": "the file is empty; expected a JSON object with next_id and tickets",
        "fr": "le fichier est vide\u00a0; un objet JSON avec next_id et tickets est attendu",
    },
    "store_not_an_object": {
        "en": "{problem}: expected a JSON object with next_id and tickets, or an array of tickets",
        "fr": "{problem}\u00a0: un objet JSON avec next_id et tickets, ou un tableau de tickets, est attendu",
    },
    "store_key_twice": {
        "en": "the key {key!q} appears twice in one object; keep one of them",
        "fr": "la clé {key!q} apparaît deux fois dans un même objet\u00a0; gardez-en une",
    },
    "store_same_id": {"en": "two tickets have the same id", "fr": "deux tickets ont le même id"},
    "store_not_json": {"en": "not JSON ({problem})", "fr": "pas du JSON ({problem})"},
    "store_line_kind": {
        "en": 'expected {{"comment": {{...}}}}, {{"event": {{...}}}} or {{"erased": {{...}}}} on each line',
        "fr": 'chaque ligne doit être {{"comment":{{...}}}}, {{"event":{{...}}}} ou {{"erased":{{...}}}}',
    },
    "store_line_not_ours": {
        "en": "not written as this service writes it",
        "fr": "pas écrite comme ce service l'écrit",
    },
    "store_digest_missing": {"en": "its digest is missing", "fr": "son empreinte manque"},
    "store_digest_broken": {
        "en": "its digest does not follow from the line before it (a record was changed, removed, repeated or swapped)",
        "fr": "son empreinte ne découle pas de la ligne d'avant (un enregistrement a été changé, retiré, répété ou "
        "déplacé)",
    },
    "store_digest_unnamed": {
        "en": "a digest in a log whose head names none",
        "fr": "une empreinte dans un journal dont l'en-tête n'en nomme aucune",
    },
    "store_last_digest": {
        "en": "its last committed record does not carry the digest tickets.json names",
        "fr": "son dernier enregistrement validé ne porte pas l'empreinte que nomme tickets.json",
    },
    "store_log_not_a_file": {
        "en": "not a regular file; the history log must be a plain file beside tickets.json",
        "fr": "pas un fichier ordinaire\u00a0; le journal de l'historique doit être un simple fichier à côté de "
        "tickets.json",
    },
    "store_history_needs_file": {
        "en": "history_length and history_digest need a history_file",
        "fr": "history_length et history_digest demandent un history_file",
    },
    "store_history_name": {
        "en": "history_file {name!q} is not a log of this file: it must be a plain name such as {example!q}, in "
        "the same folder (to copy a store, use `python script.py copy`)",
        "fr": "history_file {name!q} n'est pas un journal de ce fichier\u00a0: ce doit être un simple nom comme "
        "{example!q}, dans le même dossier (pour copier un stockage, utilisez `python script.py copy`)",
    },
    "store_log_short": {
        "en": "does not match {data_file}: the log has {size} bytes, {end} are committed; records were lost (put "
        "the log back from a backup, or the tickets.json that goes with it)",
        "fr": "ne correspond pas à {data_file}\u00a0: le journal a {size} octets, {end} sont validés\u00a0; des "
        "enregistrements sont perdus (remettez le journal depuis une sauvegarde, ou le tickets.json qui va avec)",
    },
    "store_log_other": {
        "en": "does not match {data_file}: its last committed record (ending at byte {end}) does not carry the "
        "digest {data_file} names; the log was changed, or belongs to another tickets.json",
        "fr": "ne correspond pas à {data_file}\u00a0: son dernier enregistrement validé (qui finit à l'octet {end}) "
        "ne porte pas l'empreinte que nomme {data_file}\u00a0; le journal a été changé, ou appartient à un autre "
        "tickets.json",
    },
    "store_log_missing": {
        "en": "missing, and {data_file} names it as its history; put it back from a backup",
        "fr": "absent, et {data_file} le nomme comme son historique\u00a0; remettez-le depuis une sauvegarde",
    },
    "store_log_missing_newer": {
        "en": "missing, and {data_file} names it as its history; {newer} is a later log of this file: was an older "
        "{data_file} put back? Put back the log it names too, or copy the backup in with `python script.py copy "
        "BACKUP FILE --replace`",
        "fr": "absent, et {data_file} le nomme comme son historique\u00a0; {newer} est un journal plus récent de ce "
        "fichier\u00a0: un {data_file} plus ancien a-t-il été remis\u00a0? Remettez aussi le journal qu'il nomme, "
        "ou copiez la sauvegarde avec `python script.py copy BACKUP FILE --replace`",
    },
    "store_log_moved": {
        "en": "the history was written again meanwhile; read it again",
        "fr": "l'historique a été réécrit entre-temps\u00a0; relisez-le",
    },
    "store_log_changed": {
        "en": "the history changed while this write was prepared; try again",
        "fr": "l'historique a changé pendant que cette écriture se préparait\u00a0; réessayez",
    },
    "store_no_folder": {"en": "the folder {folder} does not exist", "fr": "le dossier {folder} n'existe pas"},
    "store_not_a_file": {
        "en": "not a regular file but {kind}; TICKETS_FILE or --file must name a JSON file",
        "fr": "pas un fichier ordinaire mais {kind}\u00a0; TICKETS_FILE ou --file doit nommer un fichier JSON",
    },
    "store_a_folder": {"en": "a folder", "fr": "un dossier"},
    "store_a_fifo": {"en": "a FIFO", "fr": "un tube nommé (FIFO)"},
    "store_a_device": {"en": "a device or special file", "fr": "un périphérique ou un fichier spécial"},
    "store_not_webhooks": {"en": "not the webhooks' JSON ({problem})", "fr": "pas le JSON des webhooks ({problem})"},
    "store_no_webhook_list": {"en": "no list of webhooks", "fr": "pas de liste de webhooks"},
    "database_unavailable": {
        "en": "the database {name} cannot be used: {problem}",
        "fr": "la base de données {name} est inutilisable\u00a0: {problem}",
    },
    "database_pool_busy": {
        "en": "all {count} connections stayed busy for {seconds} s",
        "fr": "les {count} connexions sont restées occupées pendant {seconds}\u00a0s",
    },
    "database_role_lacks": {
        "en": "its role lacks {rights}: grant it",
        "fr": "il manque à son rôle {rights}\u00a0: accordez-le",
    },
    "database_newer": {
        "en": "its tables are at version {version}, made by a newer version of this service (this one knows "
        "{known}): upgrade it",
        "fr": "ses tables sont à la version {version}, faite par une version plus récente de ce service (celle-ci "
        "connaît {known})\u00a0: mettez-le à jour",
    },
    # ---- verify: the first thing found wrong in a store's history
    "history_problem": {"en": "{store}: {problem}", "fr": "{store}\u00a0: {problem}"},
    "verify_done": {"en": "{store}: {summary}", "fr": "{store}\u00a0: {summary}"},
    "verify_counts": {
        "en": "history verified: {events} events, {comments} comments",
        "fr": "historique vérifié\u00a0: {events} événement{events:s}, {comments} commentaire{comments:s}",
    },
    "verify_erased": {
        "en": "{erased} comments erased with their tickets",
        "fr": "{erased} commentaire{erased:s} effacé{erased:s} avec leur ticket",
    },
    "verify_replayed": {"en": "{tickets} tickets replayed", "fr": "{tickets} ticket{tickets:s} rejoué{tickets:s}"},
    "verify_chain_end": {"en": "chain ends at {digest}", "fr": "la chaîne finit à {digest}"},
    "verify_note_legacy": {
        "en": "{name} was written before digests: the next write adds them",
        "fr": "{name} a été écrit avant les empreintes\u00a0: la prochaine écriture les ajoute",
    },
    "verify_note_set_aside": {
        "en": "{count} lines set aside in {name} (past a committed end)",
        "fr": "{count} ligne{count:s} mise{count:s} de côté dans {name} (après une fin validée)",
    },
    "verify_event": {"en": "event {id}", "fr": "événement {id}"},
    "verify_comment": {"en": "comment {id}", "fr": "commentaire {id}"},
    "verify_chain_broken": {
        "en": "{name}: its digest does not follow from the record before it (a record was changed, removed, "
        "repeated or swapped)",
        "fr": "{name}\u00a0: son empreinte ne découle pas de l'enregistrement d'avant (un enregistrement a été "
        "changé, retiré, répété ou déplacé)",
    },
    "verify_no_commented": {
        "en": "comment {comment_id}: no `commented` event follows it",
        "fr": "commentaire {comment_id}\u00a0: aucun événement `commented` ne le suit",
    },
    "verify_comment_ids": {
        "en": "{name}: comment ids must only grow and stay below next_comment_id {next_id}",
        "fr": "{name}\u00a0: les ids de commentaire doivent croître et rester sous next_comment_id {next_id}",
    },
    "verify_event_ids": {
        "en": "{name}: event ids must only grow and stay below next_event_id {next_id}",
        "fr": "{name}\u00a0: les ids d'événement doivent croître et rester sous next_event_id {next_id}",
    },
    "verify_last_digest": {
        "en": "the last record does not carry the digest the store names as its last",
        "fr": "le dernier enregistrement ne porte pas l'empreinte que le stockage nomme comme la dernière",
    },
    "verify_after_delete": {
        "en": "{name}: ticket {ticket_id} was deleted before, by event {deleted}",
        "fr": "{name}\u00a0: le ticket {ticket_id} a été supprimé avant, par l'événement {deleted}",
    },
    "verify_comment_not_before": {
        "en": "{name}: the comment {comment_id} it names does not come just before it",
        "fr": "{name}\u00a0: le commentaire {comment_id} qu'il nomme ne vient pas juste avant lui",
    },
    "verify_comment_elsewhere": {
        "en": "{name}: comment {comment_id} belongs to ticket {other}",
        "fr": "{name}\u00a0: le commentaire {comment_id} appartient au ticket {other}",
    },
    "verify_breach_shape": {
        "en": "{name}: an sla_breached event names its target ({targets}) and due time",
        "fr": "{name}\u00a0: un événement sla_breached nomme son objectif ({targets}) et son échéance",
    },
    "verify_breach_twice": {
        "en": "{name}: ticket {ticket_id}'s {target} breach was recorded already, by event {first}",
        "fr": "{name}\u00a0: le dépassement {target} du ticket {ticket_id} a déjà été enregistré, par l'événement "
        "{first}",
    },
    "verify_no_such_comment": {
        "en": "{name}: ticket {ticket_id} has no comment {comment_id} to change",
        "fr": "{name}\u00a0: le ticket {ticket_id} n'a pas de commentaire {comment_id} à changer",
    },
    "verify_events_before_creation": {
        "en": "{name}: ticket {ticket_id} already had events before its creation",
        "fr": "{name}\u00a0: le ticket {ticket_id} avait déjà des événements avant sa création",
    },
    "verify_id_not_below": {
        "en": "{name}: ticket {ticket_id} is not below next_id {next_id}",
        "fr": "{name}\u00a0: le ticket {ticket_id} n'est pas sous next_id {next_id}",
    },
    "verify_change_from": {
        "en": "{name}: ticket {ticket_id}'s {key} goes from {before!q}, but its history had it at {had!q}",
        "fr": "{name}\u00a0: le champ {key} du ticket {ticket_id} part de {before!q}, mais son historique le "
        "disait à {had!q}",
    },
    "verify_deleted_but_stored": {
        "en": "ticket {ticket_id} is stored, but event {deleted} deleted it",
        "fr": "le ticket {ticket_id} est enregistré, mais l'événement {deleted} l'a supprimé",
    },
    "verify_erased_not_deleted": {
        "en": "event {event_id}: its comment {comment_id} was erased, but neither it nor ticket {ticket_id} was "
        "deleted",
        "fr": "événement {event_id}\u00a0: son commentaire {comment_id} a été effacé, mais ni lui ni le ticket "
        "{ticket_id} n'ont été supprimés",
    },
    "verify_missing": {
        "en": "ticket {ticket_id} was created by event {created}, never deleted, and is missing",
        "fr": "le ticket {ticket_id} a été créé par l'événement {created}, jamais supprimé, et il manque",
    },
    "verify_field_differs": {
        "en": "ticket {ticket_id}: its {key} is {stored!q}, its history says {value!q}",
        "fr": "ticket {ticket_id}\u00a0: son champ {key} vaut {stored!q}, son historique dit {value!q}",
    },
    "verify_breaches_differ": {
        "en": "ticket {ticket_id}: its {field} are {recorded!q}, its sla_breached events name {named!q}",
        "fr": "ticket {ticket_id}\u00a0: son champ {field} vaut {recorded!q}, ses événements sla_breached "
        "nomment {named!q}",
    },
    "verify_not_breached": {
        "en": "ticket {ticket_id}: it has sla_breached events but is not marked sla_breached",
        "fr": "ticket {ticket_id}\u00a0: il a des événements sla_breached mais n'est pas marqué sla_breached",
    },
}

# pydantic's own complaints, by their type; their context (ctx) gives the values. In English, pydantic's own words
# are told (the "en" texts here say what they look like); types not named here are told in those words too.
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
    "json_invalid": {"en": "Invalid JSON: {error}", "fr": "JSON invalide ({error})"},
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
        told = getattr(value, "told", None)
        if callable(told):  # a Message, a Spoken text or an engine's error: told in the sentence's language
            return str(told(self.language))
        if format_spec == "list":  # {problems:list}: each told, joined by "; " (French: a no-break space before ;)
            joiner = "\u00a0; " if self.language == "fr" else "; "
            return joiner.join(self.format_field(item, "") for item in value)
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


@dataclass(frozen=True)
class Spoken:
    """A value told by a function of the language, for a message to hold (a pydantic complaint, which
    validation_message tells): told in the language of the sentence it is in."""

    tell: Callable[[Language], str]

    def told(self, language: Language = "en") -> str:
        return self.tell(language)

    def __str__(self) -> str:
        return self.tell("en")


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

    def told(self, language: Language = "en") -> str:
        return self.message.told(language)


def validation_message(error: Mapping[str, Any], language: Language) -> str:
    """One complaint of a pydantic validation error, in the language (pydantic's "Value error, " prefix left out:
    the message of a validator is a sentence of its own)."""
    context = error.get("ctx") or {}
    raised = context.get("error")
    if isinstance(raised, Problem):
        return raised.message.told(language)
    if error["type"] == "value_error" and isinstance(raised, Exception):
        return str(raised)
    if error["type"] in VALIDATION and language != "en":  # English: pydantic's own words, exactly
        values = dict(context)
        if isinstance(values.get("expected"), str):  # pydantic lists the choices as 'a', 'b' or 'c'
            values["expected"] = values["expected"].replace("' or '", "' ou '")
        try:
            return Message(error["type"], values, VALIDATION).told(language)
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
