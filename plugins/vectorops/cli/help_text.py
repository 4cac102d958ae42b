"""``--help`` as people read it: the reStructuredText of the docstrings the help is built from, made plain."""

from __future__ import annotations

import argparse
import re

# :role:`~module.name` → name, :role:`text <target>` → text, :role:`name` → name
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(?:~[\w.]*\.)?([^`<]+?)(?:\s*<[^`>]*>)?`")
_LITERAL = re.compile(r"``(.+?)``")


def plain(text: str | None) -> str | None:
    """``text`` without reStructuredText roles and literal markup (``None`` stays ``None``).

    :param text: a description or help string.
    """
    if text is None:
        return None
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text))


def make_plain(parser: argparse.ArgumentParser) -> None:
    """Make the description and every help string of ``parser`` and its subcommands plain (:func:`plain`).

    :param parser: the built parser.
    """
    parser.description = plain(parser.description)
    parser.epilog = plain(parser.epilog)
    for action in parser._actions:  # argparse keeps its actions here; there is no public accessor
        if action.help not in (None, argparse.SUPPRESS):
            action.help = plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = plain(choice.help)
            for sub in set(action.choices.values()):
                make_plain(sub)
