"""argparse's parser with its one-line error in the user's language. argparse's own complaints are English
texts of its own (gettext would translate them, but Python ships no French for them): for a French user, the
common ones are told from the catalog (ARGPARSE), the others as argparse says them, in a French sentence."""

from __future__ import annotations

import argparse
import ast
import re
import sys
from contextlib import suppress
from typing import NoReturn

from tickets.engine import messages as catalog
from tickets.engine.messages import Message, message
from tickets.engine.settings import user_language

# argparse's complaints (Python 3.9 to 3.13 say them so), and the catalog's message that says each one.
ARGPARSE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), key)
    for pattern, key in (
        (r"the following arguments are required: (?P<names>.*)", "argparse_required"),
        (r"unrecognized arguments: (?P<names>.*)", "argparse_unrecognized"),
        (r"argument (?P<name>\S+): (?P<problem>.*)", "argparse_argument"),
        (r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)", "argparse_choice"),
        (r"expected one argument", "argparse_one_value"),
        (r"expected at least one argument", "argparse_some_values"),
        (r"ignored explicit argument (?P<value>.*)", "argparse_no_value"),
        (r"invalid (?P<kind>\S+) value: (?P<value>.*)", "argparse_invalid_value"),
        (r"not allowed with argument (?P<name>.*)", "argparse_not_with"),
        (r"one of the arguments (?P<names>.*) is required", "argparse_one_of"),
        (r"ambiguous option: (?P<option>\S+) could match (?P<matches>.*)", "argparse_ambiguous"),
    )
)


def argparse_problem(text: str) -> Message | str:
    """argparse's complaint as a message of the catalog; the text itself when the catalog does not know it (a
    text already told in the user's language: an argument's type said it)."""
    for pattern, key in ARGPARSE:
        found = pattern.fullmatch(text)
        if found is not None:
            values: dict[str, object] = dict(found.groupdict())
            if "problem" in values:
                values["problem"] = argparse_problem(str(values["problem"]))
            if "value" in values:  # argparse writes it as repr() does: quoted in the sentence's way instead
                with suppress(ValueError, SyntaxError):
                    values["value"] = ast.literal_eval(str(values["value"]))
            return message(key, **values)
    return text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage error is told in the user's language (LC_ALL, LC_MESSAGES, LANG); in English,
    exactly as argparse tells it. Its subcommands' parsers are Parsers too (argparse makes them of its class)."""

    def error(self, message: str) -> NoReturn:
        language = user_language()
        if language == "en":
            super().error(message)
        formatter = self._get_formatter()
        usage = catalog.message("cli_usage").told(language)
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups, prefix=usage)
        self._print_message(formatter.format_help(), sys.stderr)
        told = catalog.message("cli_usage_error", prog=self.prog, problem=argparse_problem(message))
        self.exit(2, told.told(language) + "\n")
