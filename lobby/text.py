"""Every name and free text a player types, normalised and checked in one place.

Names (lobby.rules.check_name), preset and pack names, and the games' free
texts (the quiz's lies, Spyster's location guesses) go through `clean`:

- Unicode NFKC (full-width `ＡＮＡ` is `ANA`, ligatures and compatibility
  forms are their plain letters), then surrounding whitespace trimmed and
  inner whitespace squeezed to one space;
- refused: lone surrogates, control characters (terminal escapes), format
  characters and other default-ignorable code points (zero-width spaces,
  bidi overrides and isolates, soft hyphens, Hangul fillers), private-use
  and unassigned code points, and more than MAX_MARKS combining marks on one
  character ("Zalgo" text). Emoji sequences keep their joiner (U+200D) and
  variation selectors between pictographs;
- length counted in user-perceived characters (extended grapheme clusters:
  `é` written as e + U+0301 is one, so is a family emoji);
- at least one letter, digit or symbol.

`confusable_key` is the key two names must not share in one session (a
unique column): the UTS #39 confusable skeleton of the case-folded name
(`Ana`, `ana`, Cyrillic `Аna` have one key); `confusable` also compares the
keys of the skeletons, for upper-case look-alikes (Greek `ΑΝΑ`). PyICU provides the skeleton (ICU's
SpoofChecker with Unicode's confusables.txt), the grapheme clusters and the
character properties: a maintained table rather than a hand-made list.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import icu
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .errors import bad_request

# Combining marks allowed on one user-perceived character (Vietnamese needs 2).
MAX_MARKS = 3
# Code points per user-perceived character at most (an emoji family with
# skin tones is 7 to 10): what a column must hold is max_chars times this.
MAX_CODE_POINTS = 8
_ZWJ = "\u200d"
_VARIATION_SELECTORS = ("\ufe0e", "\ufe0f")
_KEYCAP = "\u20e3"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_MARKS = {"Mn", "Me"}
_VISIBLE = ("L", "N", "S")

_spoof = icu.SpoofChecker()
_root = icu.Locale.getRoot()


@dataclass(frozen=True)
class TextRule:
    """How one kind of text is checked: the field, its error code, its length."""

    field: str  # the JSON field, for "'name' must be a string."
    code: str  # the error code of a refused text (INVALID_NAME, INVALID_LIE, ...)
    # gettext_lazy("A name"), gettext_lazy("A lie"): the subject of the error
    # messages (`refusal`), translated as a noun phrase that starts a sentence.
    what: str | Promise
    max_chars: int  # user-perceived characters
    min_chars: int = 1
    # The column's length when it is fixed already; else max_code_points.
    stored: int | None = None
    # The code when the value is not a string at all.
    type_code: str = "INVALID_FIELD"

    @property
    def max_code_points(self) -> int:
        """The stored length's bound: MAX_CODE_POINTS per character."""
        return self.stored or self.max_chars * MAX_CODE_POINTS


def _pictographic(ch: str) -> bool:
    return icu.Char.hasBinaryProperty(ch, icu.UProperty.EXTENDED_PICTOGRAPHIC)


def _ignorable(ch: str) -> bool:
    return icu.Char.hasBinaryProperty(ch, icu.UProperty.DEFAULT_IGNORABLE_CODE_POINT)


def _emoji_glue(text: str, i: int) -> bool:
    """True when text[i] (a ZWJ or a variation selector) belongs to an emoji:
    after a pictograph (skin tones and selectors between), a selector also
    before a keycap's U+20E3; a joiner also before a pictograph."""
    ch, after = text[i], text[i + 1 : i + 2]
    if ch in _VARIATION_SELECTORS and after == _KEYCAP:
        return True
    j = i - 1
    while j >= 0 and (
        text[j] in _VARIATION_SELECTORS or _SKIN_TONES[0] <= text[j] <= _SKIN_TONES[1]
    ):
        j -= 1
    if j < 0 or not _pictographic(text[j]):
        return False
    if ch == _ZWJ:
        return bool(after) and _pictographic(after)
    return ch in _VARIATION_SELECTORS


def graphemes(text: str) -> list[str]:
    """The user-perceived characters (extended grapheme clusters) of text."""
    iterator = icu.BreakIterator.createCharacterInstance(_root)
    iterator.setText(text)
    units = text.encode("utf-16-le")
    clusters, start = [], 0
    for end in iterator:  # boundaries in UTF-16 code units
        clusters.append(units[start * 2 : end * 2].decode("utf-16-le"))
        start = end
    return clusters


# Why a text is refused (`problem`); `refusal` says it in the page's language.
NOT_TEXT = "not_text"
INVISIBLE = "invisible"
ACCENTS = "accents"
NOTHING_VISIBLE = "nothing_visible"


def problem(text: str) -> str | None:
    """Why NFKC-normalised, squeezed text is not acceptable (NOT_TEXT,
    INVISIBLE, ACCENTS, NOTHING_VISIBLE), or None."""
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cs":
            return NOT_TEXT
        if ch in (_ZWJ, *_VARIATION_SELECTORS) and _emoji_glue(text, i):
            continue
        if category in _REFUSED_CATEGORIES or _ignorable(ch):
            return INVISIBLE
    for cluster in graphemes(text):
        if sum(unicodedata.category(ch) in _MARKS for ch in cluster) > MAX_MARKS:
            return ACCENTS
    if not any(unicodedata.category(ch)[0] in _VISIBLE for ch in text):
        return NOTHING_VISIBLE
    return None


def refusal(what: str | Promise, why: str) -> str:
    """The sentence that refuses a text: `what` ("A name", translated) is its
    subject, `why` a reason from `problem`."""
    sentences = {
        # Translators: %(what)s is the subject: "A name", "A lie", "A pack's
        # name", ... (each translated on its own).
        NOT_TEXT: _("%(what)s contains characters that are not text."),
        # Translators: %(what)s is the subject: "A name", "A lie", ...
        INVISIBLE: _("%(what)s contains invisible or control characters."),
        # Translators: %(what)s is the subject: "A name", "A lie", ...
        ACCENTS: _("%(what)s has too many accents on one character."),
        # Translators: %(what)s is the subject: "A name", "A lie", ...
        NOTHING_VISIBLE: _("%(what)s needs at least one letter, digit or symbol."),
    }
    return sentences[why] % {"what": what}


def length_refusal(what: str | Promise, least: int, most: int) -> str:
    """The sentence that refuses a text of the wrong length."""
    # Translators: %(what)s is the subject: "A name", "A lie", ...
    message = ngettext(
        "%(what)s has %(least)s to %(most)s character.",
        "%(what)s has %(least)s to %(most)s characters.",
        most,
    )
    return message % {"what": what, "least": least, "most": most}


def normalise(text: str) -> str:
    """NFKC, trimmed, inner whitespace squeezed (no check)."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return text  # NFKC of a lone surrogate would raise; `problem` refuses it
    return " ".join(unicodedata.normalize("NFKC", text).split())


def clean(value, rule: TextRule) -> str:
    """The text as stored and shown, or GameError 400 (`rule.code`)."""
    if not isinstance(value, str):
        message = _("%(field)s must be a string.") % {"field": repr(rule.field)}
        raise bad_request(rule.type_code, message)
    text = normalise(value)
    why = problem(text)
    if why is not None:
        raise bad_request(rule.code, refusal(rule.what, why))
    length = len(graphemes(text))
    if not rule.min_chars <= length <= rule.max_chars or len(text) > rule.max_code_points:
        raise bad_request(rule.code, length_refusal(rule.what, rule.min_chars, rule.max_chars))
    return text


def _skeleton(text: str) -> str:
    return unicodedata.normalize("NFC", _spoof.getSkeleton(0, text))


def confusable_key(text: str) -> str:
    """The UTS #39 skeleton of case-folded text: equal for texts that differ
    only in case or in look-alike characters (`ana`, Cyrillic `аna`)."""
    return _skeleton(text.casefold())


def confusable(a: str, b: str) -> bool:
    """True when a and b could be mistaken for each other: the same
    confusable_key, or the same key of their skeletons (upper-case look-alikes
    the case fold would part: Greek `ΑΝΑ` and `Ana`, `I1` and `l1`)."""
    return confusable_key(a) == confusable_key(b) or confusable_key(_skeleton(a)) == confusable_key(
        _skeleton(b)
    )
