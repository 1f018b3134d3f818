"""Demographic attributes from free text: gender, age bin, country and occupation sector.

Used by the persona and story tasks. Every lexicon ships in ``divbench/tasks/data`` (see its
PROVENANCE.md). Extraction is rule-based and deliberately conservative: an attribute that cannot
be read is left out rather than guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from divbench.tasks._text import (
    MAX_PARSE_CHARS,
    PhraseTable,
    fold,
    norm,
    plurals,
    tokens,
    wordlist,
    words,
    words_to_int,
)

AGE_BINS: tuple[str, ...] = ("0-10", "10-20", "20-30", "30-40", "40-50", "50-60", "60-70", "70+")
GENDERS: tuple[str, ...] = ("female", "male", "non-binary")
ATTRIBUTES: tuple[str, ...] = ("gender", "age_bin", "country", "occupation_sector")

#: words before a capitalised token that mark it as a place ("moved to Jordan")
PLACE_PREPS = frozenset(wordlist(
    "in from to of across visit visited visiting near born moved native into through throughout around "
    "toward towards leave left leaving reached called country"
))
#: countries that are also common names or words; in free text they count only after a place word
AMBIGUOUS_COUNTRIES = frozenset({"Jordan", "Chad", "Georgia", "Turkey", "China", "Israel", "India", "Kenya", "Panama"})
#: capitalised words that are SSA names but usually something else in running text
NAME_STOPWORDS = frozenset(wordlist(
    "America Angel April Ash Asia August Autumn Baker Bear Bishop Blue Brave Cash Chase Chosen Christian Clay "
    "Dallas Denver Destiny Diamond Dove Duke Egypt Faith Forest Fox Genesis Golden Gray Grey Harmony Heaven "
    "Honor Hope Houston Journey Joy June Justice King Lake Lane Lark Legacy Legend Liberty London Love Major "
    "Mark May Meadow Memphis Mercy Miracle Moon Noble Ocean Paris Peace Phoenix Prince Princess Queen Rain "
    "Reed River Royal Saint Sierra Silver Sir Sky Star Sterling Stone Storm Stormy Story Summer Sunday Sunny "
    "Trinity True Will Winter Wolf"
))

_GENDER_WORDS: dict[str, tuple[str, ...]] = {
    "female": ("female", "woman", "girl", "lady", "f", "feminine", "she", "she her", "cis woman", "cisgender woman",
               "cis female", "cisgender female", "trans woman", "transgender woman"),
    "male": ("male", "man", "boy", "guy", "gentleman", "m", "masculine", "he", "he him", "cis man", "cisgender man",
             "cis male", "cisgender male", "trans man", "transgender man"),
    "non-binary": ("non binary", "nonbinary", "enby", "genderqueer", "genderfluid", "gender fluid", "agender",
                   "they them", "they", "two spirit", "bigender"),
}
_SELF_NOUNS: dict[str, tuple[str, ...]] = {
    "female": ("woman", "girl", "lady", "mother", "mom", "mum", "wife", "grandmother", "grandma", "daughter",
               "sister", "widow", "businesswoman", "housewife", "female"),
    "male": ("man", "boy", "guy", "father", "dad", "husband", "grandfather", "grandpa", "son", "brother",
             "widower", "businessman", "gentleman", "male"),
}
_PRONOUNS = {"she": "female", "her": "female", "hers": "female", "herself": "female",
             "he": "male", "him": "male", "his": "male", "himself": "male"}
_DECADES = {"teens": 1, "twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6,
            "seventies": 7, "eighties": 7, "nineties": 7}
_AGE_WORDS = {"newborn": 0, "infant": 0, "toddler": 0, "preschooler": 0, "teenager": 1, "teen": 1,
              "teenage": 1, "adolescent": 1, "sexagenarian": 6, "septuagenarian": 7, "octogenarian": 7,
              "nonagenarian": 7, "centenarian": 7}
_NOT_AGE_AFTER = frozenset(wordlist("feet foot ft cm inches inch kg kilos pounds lbs percent minutes hours miles "
                                    "km o clock am pm"))
_PHRASE_BREAKS = frozenset(wordlist("of to with for who that and but from in my your his her their our"))
_WORK_CUES = frozenset(wordlist("work works working worked career job employed profession occupation industry"))

_FIELD_KEYS = {
    "name": ("name", "full name", "first name"),
    "age": ("age",),
    "gender": ("gender", "sex", "gender identity"),
    "country": ("country", "nationality", "country of residence", "home country", "location", "from",
                "place of birth", "hometown", "lives in", "residence", "origin", "country of origin"),
    "occupation": ("occupation", "job", "profession", "job title", "work", "career", "role"),
}
_FIELD_LINE = re.compile(r"^[\s*#>\-•]*([A-Za-z][A-Za-z ]{0,24}?)\s*\**\s*[:=]\s*\**\s*(.+?)\s*$", re.MULTILINE)


def _data(*parts: str) -> Any:
    return resources.files("divbench.tasks").joinpath("data", *parts)


def age_bin(age: int) -> str | None:
    """The PoExFT age bin of an age in years (0-10, 10-20, ..., 60-70, 70+); None outside 0..120."""
    return AGE_BINS[min(age // 10, 7)] if 0 <= age <= 120 else None


@cache
def gender_names() -> dict[str, str]:
    """Folded first name -> "female" | "male" | "unisex" (SSA top names; see names_build)."""
    data = json.loads(_data("names", "first_name_gender.v1.json").read_text(encoding="utf-8"))
    return {fold(name): label for label in ("female", "male", "unisex") for name in data[label]}


@cache
def population() -> dict[str, float]:
    """First name -> share of U.S. births (SSA 2022+2023, both sexes)."""
    rows = _data("names", "us_population.v1.tsv").read_text(encoding="utf-8").splitlines()
    pairs = (row.split("\t") for row in rows if row and not row.startswith("#"))
    return {name: float(share) for name, share in pairs if name != "name"}


@dataclass(frozen=True)
class Countries:
    """The country lexicon: names (with aliases) and demonyms, both mapping to a canonical name."""

    canonical: tuple[str, ...]
    names: PhraseTable
    demonyms: PhraseTable
    aliases: dict[str, tuple[str, ...]]


_COUNTRY_BLOCKERS = ("South America", "North America", "Central America", "Latin America", "New Mexico",
                     "New Guinea", "Guinea pig", "Guinea fowl", "American Samoa", "New England", "New South Wales",
                     "Georgia Tech", "Turkey sandwich", "Indian Ocean", "Indian food", "China cabinet")


@cache
def countries() -> Countries:
    """Load ``lexicons/countries.v1.tsv``."""
    rows = _data("lexicons", "countries.v1.tsv").read_text(encoding="utf-8").splitlines()
    canonical: list[str] = []
    aliases: dict[str, tuple[str, ...]] = {}
    names, demonyms = PhraseTable(), PhraseTable()
    for row in rows[1:]:
        if not row or row.startswith("#") or row.startswith("canonical\t"):
            continue
        name, other, demo = [*row.split("\t"), "", ""][:3]
        canonical.append(name)
        aliases[name] = tuple(a for a in other.split(";") if a)
        names.add_all((n, name) for n in (name, *aliases[name]))
        demonyms.add_all((d, name) for d in demo.split(";") if d)
    names.add_all((b, None) for b in _COUNTRY_BLOCKERS)
    demonyms.add_all((b, None) for b in _COUNTRY_BLOCKERS)
    return Countries(tuple(canonical), names, demonyms, aliases)


_JOB_BLOCKERS = ("language model", "ai model", "ai language model", "role model", "scale model", "model train",
                 "ai assistant", "virtual assistant", "digital assistant")


@dataclass(frozen=True)
class Sectors:
    """Occupation sectors with job-title and domain-word tables."""

    names: tuple[str, ...]
    jobs: PhraseTable
    fields: PhraseTable


@cache
def sectors() -> Sectors:
    """Load ``lexicons/occupation_sectors.v1.json`` (job titles also match in the plural)."""
    data = json.loads(_data("lexicons", "occupation_sectors.v1.json").read_text(encoding="utf-8"))
    jobs, fields = PhraseTable(), PhraseTable()
    for sector in data["sectors"]:
        for job in sector["jobs"]:
            head, _, last = norm(job).rpartition(" ")
            jobs.add_all((f"{head} {p}".strip(), sector["name"]) for p in [last, *plurals(last)])
        fields.add_all((f, sector["name"]) for f in sector["fields"])
    jobs.add_all((b, None) for b in _JOB_BLOCKERS)
    return Sectors(tuple(s["name"] for s in data["sectors"]), jobs, fields)


def attribute_meta() -> dict[str, dict[str, Any]]:
    """``prompt.meta["attributes"]``: categories and reference distribution per attribute."""
    sector_names = sectors().names
    return {
        "gender": {"categories": list(GENDERS), "reference": {"female": 0.5, "male": 0.5}},
        "age_bin": {"categories": list(AGE_BINS), "reference": {b: 1 / len(AGE_BINS) for b in AGE_BINS}},
        "country": {"categories": list(countries().canonical)},
        "occupation_sector": {"categories": list(sector_names),
                              "reference": {s: 1 / len(sector_names) for s in sector_names}},
    }


# --- fields ("Name: ...") -------------------------------------------------------------------------


def labelled_fields(text: str) -> dict[str, str]:
    """Values of "Key: value" lines, keyed by attribute (name, age, gender, country, occupation)."""
    keys = {norm(k): attr for attr, ks in _FIELD_KEYS.items() for k in ks}
    found: dict[str, str] = {}
    for match in _FIELD_LINE.finditer(text[:4000]):
        attr = keys.get(norm(match.group(1)))
        if attr and attr not in found:
            found[attr] = match.group(2)
    return found


# --- gender ---------------------------------------------------------------------------------------

_GENDER_TABLE = PhraseTable().add_all((w, g) for g, ws in _GENDER_WORDS.items() for w in ws)


def gender_from_value(value: str) -> str | None:
    """A "Gender:" field value ("Female", "non-binary (they/them)") -> category."""
    return _GENDER_TABLE.lookup(value) or _GENDER_TABLE.search(tokens(value))


def self_described_gender(toks: Sequence[str]) -> str | None:
    """"I am a 34-year-old woman" -> female: a gendered noun in the phrase right after "I am" / "I'm"."""
    nouns = {w: g for g, ws in _SELF_NOUNS.items() for w in ws}
    for i in range(len(toks) - 1):
        if toks[i] != "i" or toks[i + 1] not in ("am", "m"):
            continue
        for tok in toks[i + 2: i + 8]:
            if tok in _PHRASE_BREAKS:
                break
            if tok in nouns:
                return nouns[tok]
    return None


_NAME_CONTEXT = re.compile(r"\b(?:[Mm]y name is|[Nn]ame's|I'm|I am|named|called|[Cc]all me|[Mm]eet)\s+([A-Z][a-z]+)")
_CAPITALISED = re.compile(r"(?<![\w'’])[A-Z][a-z]+\b")
_OPENERS = " \t*_\"'“‘(["


def first_name_gender(value: str) -> str | None:
    """Gender of the first word of a "Name:" value, when the SSA lexicon labels it female/male."""
    first = next(iter(words(value)), "")
    label = gender_names().get(fold(first))
    return label if label in ("female", "male") else None


def name_gender(text: str) -> str | None:
    """Gender of the first recognisable first name in running text.

    An introduced name ("my name is X", "named X") decides; otherwise the first capitalised name
    in mid-sentence that does not follow another capitalised word, or at a sentence start only if it
    is among the most common names (so "Honey ..." or "Pepper ..." is not read as a name). Places
    ("to Georgia") and
    words that are usually not names ("Hope", "Summer") are skipped.
    """
    head = text[:MAX_PARSE_CHARS]
    introduced = _NAME_CONTEXT.search(head)
    if introduced and fold(introduced.group(1)) in gender_names():
        return first_name_gender(introduced.group(1))  # a known but unisex name ends the search
    lexicon, common = gender_names(), _common_names()
    for match in _CAPITALISED.finditer(head):
        word = match.group()
        label = lexicon.get(fold(word))
        if label not in ("female", "male") or word in NAME_STOPWORDS:
            continue
        j = match.start() - 1
        while j >= 0 and head[j] in _OPENERS:
            j -= 1
        previous = words(head[max(0, j - 20): j + 1])[-1:]
        if previous and (fold(previous[0]) in PLACE_PREPS or (head[j].isalpha() and previous[0][:1].isupper())):
            continue  # a place ("to Georgia") or a second name ("Ryan Harper")
        if (j < 0 or head[j] in ".!?:;\n") and fold(word) not in common:
            continue
        return label
    return None


@cache
def _common_names() -> frozenset[str]:
    return frozenset(fold(n) for n in population())


def pronoun_gender(toks: Sequence[str]) -> str | None:
    """Majority of third-person pronouns when one side has at least twice the other's count."""
    counts = {"female": 0, "male": 0}
    for t in toks:
        if t in _PRONOUNS:
            counts[_PRONOUNS[t]] += 1
    female, male = counts["female"], counts["male"]
    if female >= max(1, 2 * male):
        return "female"
    if male >= max(1, 2 * female):
        return "male"
    return None


# --- age ------------------------------------------------------------------------------------------


def _number_before(toks: Sequence[str], end: int) -> int | None:
    """A number whose last token is ``toks[end - 1]`` ("thirty four" / "34")."""
    for start in (end - 2, end - 1):
        if start >= 0:
            read = words_to_int(toks, start)
            if read and start + read[1] == end:
                return read[0]
    return None


def _numeric_age(toks: Sequence[str]) -> int | None:
    """The first explicit age: "34 years old", "aged 34", "age: 34", "I'm 34"."""
    for i, tok in enumerate(toks):
        if tok in ("year", "years", "yr", "yrs") and toks[i + 1: i + 2] == ["old"]:
            value = _number_before(toks, i)
        elif tok in ("aged", "age", "turned", "turning") or (tok in ("m", "am") and i and toks[i - 1] == "i"):
            j = i + 1 + (toks[i + 1: i + 2] in (["of"], ["is"]))
            read = words_to_int(toks, j)
            after = toks[j + read[1]: j + read[1] + 1] if read else []
            value = read[0] if read and not (after and (after[0].isdigit() or after[0] in _NOT_AGE_AFTER)) else None
        else:
            continue
        if value is not None and 0 <= value <= 120:
            return value
    return None


def _decade_bin(toks: Sequence[str]) -> str | None:
    """"in her late thirties", "in my 20s", "teens" -> bin."""
    for tok in toks:
        if tok in _DECADES:
            return AGE_BINS[_DECADES[tok]]
        if re.fullmatch(r"[1-9]0s", tok):
            return AGE_BINS[min(int(tok[0]), 7)]
    return None


def age_bin_from(text: str) -> str | None:
    """The age bin a text states: explicit ages first, then decades, then words like "teenager"."""
    toks = tokens(text)
    age = _numeric_age(toks)
    if age is not None:
        return age_bin(age)
    return _decade_bin(toks) or next((AGE_BINS[_AGE_WORDS[t]] for t in toks if t in _AGE_WORDS), None)


# --- country --------------------------------------------------------------------------------------


def country_from(text: str, *, strict: bool) -> str | None:
    """The first country named in the text (names before demonyms).

    ``strict`` (free text): a country that is also a common name or word ("Jordan", "Turkey") counts
    only when capitalised and right after a place word ("moved to Jordan").
    """
    lex = countries()
    raw = words(text)
    toks = [fold(w) for w in raw]
    for table in (lex.names, lex.demonyms):
        for start, _, value in table.finditer(toks):
            if strict and value in AMBIGUOUS_COUNTRIES and not _placed(raw, start):
                continue
            return value
    return None


def _placed(raw: Sequence[str], start: int) -> bool:
    return raw[start][:1].isupper() and start > 0 and fold(raw[start - 1]) in PLACE_PREPS


# --- occupation -----------------------------------------------------------------------------------


def sector_from(text: str, *, is_field: bool) -> str | None:
    """The occupation sector: a job title anywhere; a domain word ("works in finance") only in an
    occupation field or within six words after a work cue."""
    lex = sectors()
    toks = tokens(text)
    job = lex.jobs.search(toks)
    if job or is_field:
        return job or lex.fields.search(toks)
    for i, tok in enumerate(toks):
        if tok in _WORK_CUES:
            hit = lex.fields.search(toks[i + 1: i + 7])
            if hit:
                return hit
    return None


# --- all together ---------------------------------------------------------------------------------


def extract(text: str) -> dict[str, str]:
    """Attributes of the person a text describes; keys missing when not recognisable."""
    fields = labelled_fields(text)
    body = _without_name_line(text, fields)
    toks = tokens(body)
    candidates = {
        "gender": lambda: (gender_from_value(fields["gender"]) if "gender" in fields else None)
        or self_described_gender(toks)
        or (first_name_gender(fields["name"]) if "name" in fields else None)
        or name_gender(text)
        or pronoun_gender(toks),
        "age_bin": lambda: (age_bin_from(f"age {fields['age']}") if "age" in fields else None) or age_bin_from(body),
        "country": lambda: (country_from(fields["country"], strict=False) if "country" in fields else None)
        or country_from(body, strict=True),
        "occupation_sector": lambda: (sector_from(fields["occupation"], is_field=True) if "occupation" in fields
                                      else None) or sector_from(body, is_field=False),
    }
    out = {attr: get() for attr, get in candidates.items()}
    return {k: v for k, v in out.items() if v}


def _without_name_line(text: str, fields: dict[str, str]) -> str:
    """The text with its "Name: ..." value blanked, so a name like "Jordan" is not read as a country."""
    name = fields.get("name")
    head = text[:MAX_PARSE_CHARS]
    return head.replace(name, " ", 1) if name else head
