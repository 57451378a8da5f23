"""Free text from callers: what it may contain, how it folds, and the same rule written as a JSON Schema pattern.

The API's OpenAPI document is generated from the models, so a rule the validator enforces is also a rule the
document states: a client generated from the document cannot build a text the API then refuses.

A field's length limit counts what the caller sent, before folding: folding can lengthen a text (NFKC turns
one ligature into several letters, ``ß`` casefolds to ``ss``), and a limit checked after it would refuse a text
the document allowed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import Field, JsonValue

# Unicode category Cc, the control characters: U+0000-U+001F and U+007F-U+009F.
_CONTROLS = "\\u0000-\\u001F\\u007F-\\u009F"
# Tab and newline are allowed in prose (a comment, a reason); the other C0 controls are not.
_PROSE_CONTROLS = "\\u0000-\\u0008\\u000B-\\u001F"

# The patterns are valid in ECMA-262 (JSON Schema), Python's re and Rust's regex (pydantic) alike.
PLAIN = f"^[^{_CONTROLS}]*$"
PLAIN_NOT_BLANK = f"^[^{_CONTROLS}]*[^\\s{_CONTROLS}][^{_CONTROLS}]*$"
PROSE_NOT_BLANK = f"^[^{_PROSE_CONTROLS}]*[^\\s{_PROSE_CONTROLS}][^{_PROSE_CONTROLS}]*$"
PROSE = f"^[^{_PROSE_CONTROLS}]*$"

_SPACES = re.compile(r"\s+")
# Underscores, and hyphens or dashes that join two words ("algebra-1", "pre-calculus"), separate words as a space
# does. A hyphen elsewhere is kept: "-10" is a number, not a word.
_JOINERS = re.compile(r"_+|(?<=\w)[-\u2010-\u2015](?=\w)")
# Typographic quotes a phone keyboard types for the ASCII ones ("Newton\u2019s laws").
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"'})


def normalise_text(value: str) -> str:
    """Fold what does not change meaning: Unicode form, case, and runs of white space."""
    folded = unicodedata.normalize("NFKC", value)
    return _SPACES.sub(" ", folded).strip().casefold()


def canonical_name(value: str) -> str:
    """A subject's or topic's one spelling: ``algebra_1``, ``Algebra 1``, ``algebra-1`` and `` ALGEBRA  1 `` are all
    ``algebra 1``. :func:`normalise_text`, then underscores and word-joining hyphens read as spaces and typographic
    quotes as ASCII ones. Every path that names a subject or topic (cache keys, warming, navigation, courses)
    compares and stores this form, so a catalogue id, its display name and what an app sends meet on one key."""
    folded = _JOINERS.sub(" ", unicodedata.normalize("NFKC", value).translate(_QUOTES))
    return normalise_text(folded)


def reject_control_characters(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def check_plain(value: str, max_length: int, *, blank: bool = True) -> str:
    """A one-line text as the caller sent it: no control characters, at most ``max_length`` characters, and
    unless ``blank``, not only white space."""
    reject_control_characters(value)
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    if not blank and not value.strip():
        raise ValueError("must not be blank")
    return value


def check_prose(value: str, *, not_blank: bool = False) -> str:
    """Prose (a comment, a reason): tab and newline allowed, no other C0 control character."""
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise ValueError("must not contain control characters")
    if not_blank and not value.strip():
        raise ValueError("must not be blank")
    return value


def plain_field(max_length: int, *, blank: bool = True, **kwargs: Any) -> Any:
    """A one-line text field whose schema says what :func:`check_plain` (run before folding) enforces.

    The limit and the pattern are stated in the schema, not enforced by pydantic after the field's own folding
    validator, which checks them on the text as sent."""
    schema: dict[str, JsonValue] = {"maxLength": max_length, "pattern": PLAIN if blank else PLAIN_NOT_BLANK}
    if not blank:
        schema["minLength"] = 1
    return Field(json_schema_extra=schema, **kwargs)
