"""Text helpers shared by the task parsers: normalisation, phrase tables and number words.

Parsers only ever look at the first :data:`MAX_PARSE_CHARS` characters of a text, and phrase lookup
is a dictionary probe per token window, so a hostile or huge text costs linear time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

MAX_PARSE_CHARS = 8000

_WORD = re.compile(r"[^\W_]+")
_BRACES = re.compile(r"\{([^{}\n]{1,80})\}")


def wordlist(text: str) -> list[str]:
    """Whitespace-separated words of a literal (keeps long word lists readable)."""
    return text.split()


_UNITS = wordlist("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                  "fifteen sixteen seventeen eighteen nineteen")
_TENS = wordlist("twenty thirty forty fifty sixty seventy eighty ninety")
_ORDINAL_UNITS = wordlist("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
                          "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth")
_ORDINAL_TENS = wordlist("twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth")


def fold(text: str) -> str:
    """Strip accents (é → e) and lower-case."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    """Word tokens of the text's head, case kept: punctuation separates words ("U.K." -> "U", "K")."""
    return _WORD.findall(unicodedata.normalize("NFC", text[:MAX_PARSE_CHARS]).replace("&", " and "))


def tokens(text: str) -> list[str]:
    """Folded :func:`words`, leading zeros dropped ("Côte d'Ivoire" -> "cote", "d", "ivoire")."""
    return [_fold_token(w) for w in words(text)]


def _fold_token(word: str) -> str:
    return (word.lstrip("0") or "0") if word.isdigit() else fold(word)


def norm(text: str) -> str:
    """A phrase key: folded tokens joined by single spaces ("Côte d'Ivoire" → "cote d ivoire")."""
    return " ".join(tokens(text))


def braced(text: str) -> list[str]:
    """Contents of ``{...}`` groups, in order (short, single-line groups only)."""
    return _BRACES.findall(text[:MAX_PARSE_CHARS])


def number_words(n: int) -> str:
    """English cardinal for 0..100 ("seventy three")."""
    if n < 20:
        return _UNITS[n]
    if n == 100:
        return "one hundred"
    tens, unit = divmod(n, 10)
    return _TENS[tens - 2] + (f" {_UNITS[unit]}" if unit else "")


def ordinal_words(n: int) -> str:
    """English ordinal for 1..99 ("twenty first")."""
    if n < 20:
        return _ORDINAL_UNITS[n]
    tens, unit = divmod(n, 10)
    return (_TENS[tens - 2] + f" {_ORDINAL_UNITS[unit]}") if unit else _ORDINAL_TENS[tens - 2]


def ordinal_suffix(n: int) -> str:
    """"1st", "2nd", "11th", "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def words_to_int(toks: Sequence[str], start: int) -> tuple[int, int] | None:
    """Read a number of 0..199 written in digits or words at ``toks[start]``: (value, tokens used)."""
    if start >= len(toks):
        return None
    tok = toks[start]
    if tok.isdigit():
        return (int(tok), 1) if len(tok) <= 4 else None
    if tok in _TENS:
        value = 20 + 10 * _TENS.index(tok)
        if start + 1 < len(toks) and toks[start + 1] in _UNITS[1:10]:
            return value + _UNITS.index(toks[start + 1]), 2
        return value, 1
    if tok in _UNITS:
        return _UNITS.index(tok), 1
    if tok == "hundred" or (tok in ("a", "one") and toks[start + 1: start + 2] == ["hundred"]):
        return 100, 1 if tok == "hundred" else 2
    return None


@dataclass
class PhraseTable:
    """Maps normalised phrases to values and finds the leftmost-longest phrase in a token list.

    A phrase mapped to ``None`` is a blocker: it is matched (so "South America" is not read as
    "America") but yields nothing, and the search goes on after it.
    """

    table: dict[str, str | None] = field(default_factory=dict)
    longest: int = 1

    def add(self, phrase: str, value: str | None, *, overwrite: bool = False) -> None:
        key = norm(phrase)
        if not key or (key in self.table and not overwrite):
            return
        self.table[key] = value
        self.longest = max(self.longest, key.count(" ") + 1)

    def add_all(self, pairs: Iterable[tuple[str, str | None]]) -> PhraseTable:
        for phrase, value in pairs:
            self.add(phrase, value)
        return self

    def lookup(self, text: str) -> str | None:
        """The value of the whole text as one phrase, or None."""
        return self.table.get(norm(text))

    def finditer(self, toks: Sequence[str]) -> Iterable[tuple[int, int, str]]:
        """(start, end, value) of each leftmost-longest non-blocker match, left to right."""
        i = 0
        while i < len(toks):
            for n in range(min(self.longest, len(toks) - i), 0, -1):
                key = " ".join(toks[i: i + n])
                if key in self.table:
                    value = self.table[key]
                    if value is not None:
                        yield i, i + n, value
                    i += n
                    break
            else:
                i += 1

    def search(self, toks: Sequence[str]) -> str | None:
        """The value of the leftmost-longest match, or None."""
        return next((value for _, _, value in self.finditer(toks)), None)


def plurals(word: str) -> list[str]:
    """Simple English plurals of a phrase's last word ("fisherman" → "fishermen", "cherry" → "cherries")."""
    if word.endswith("man"):
        return [word[:-3] + "men"]
    if word.endswith(("s", "sh", "ch", "x", "o")):
        return [word + "es", word + "s"] if word.endswith("o") else [word + "es"]
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return [word[:-1] + "ies"]
    return [word + "s"]


def table_from(mapping: Mapping[str, Iterable[str]]) -> PhraseTable:
    """A table mapping each phrase in ``mapping[value]`` to ``value``."""
    return PhraseTable().add_all((phrase, value) for value, phrases in mapping.items() for phrase in phrases)
