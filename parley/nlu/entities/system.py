"""System entities under Duckling's names, without Duckling.

Botpress asks a Duckling server for `amountOfMoney, distance, duration, email, number, ordinal,
phoneNumber, quantity, temperature, time, url, volume`. parley extracts them in-process: regular
expressions and small word tables (English and French) for numbers and measures; for times, English
clock times, days and spans from now read as Duckling reads them (`clock`), `dateparser` for the rest.
Values follow Botpress's mapping of Duckling's answer: `data.value` is the normalised
value, `data.unit` the unit (`$`, `EUR`, `kilometre`, `second` for durations, the grain for times).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from parley.nlu.entities import Found, clock, clock_fr, mark_moment_bound

log = logging.getLogger("parley.nlu")

DUCKLING_ENTITIES = (
    "amountOfMoney", "distance", "duration", "email", "number", "ordinal",
    "phoneNumber", "quantity", "temperature", "time", "url", "volume",
)

# ------------------------------------------------------------------------------------------ numbers

_EN_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_FR_UNITS = {
    "zéro": 0, "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
    "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14,
    "quinze": 15, "seize": 16, "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50,
    "soixante": 60, "septante": 70, "huitante": 80, "octante": 80, "nonante": 90,
}
_EN_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "millions": 1_000_000,
              "billion": 1_000_000_000, "billions": 1_000_000_000, "dozen": 12, "dozens": 12,
              # Indian English, as Duckling reads it ("12 lakhs", "three crore twelve lakh"); left out: its
              # one- and two-letter spellings ("30 l", "3 cr", "kr": units and currencies too) and "lac"
              # (a lake, in French)
              **dict.fromkeys(("lakh", "lakhs", "lkh", "lkhs"), 100_000),
              **dict.fromkeys(("crore", "crores", "krore", "krores", "koti"), 10_000_000)}
_FR_SCALES = {"cent": 100, "cents": 100, "mille": 1_000, "million": 1_000_000, "millions": 1_000_000,
              "milliard": 1_000_000_000, "milliards": 1_000_000_000, "douzaine": 12, "douzaines": 12}
_SCALES = {**_EN_SCALES, **_FR_SCALES}
_CONNECTORS = {"and", "et", "-"}
_WORD_VALUES = {**_EN_UNITS, **_FR_UNITS}


def _words_run(*tables: dict[str, int]) -> re.Pattern[str]:
    """A run of number words of these tables ("twenty five", "deux cent trente")."""
    word = "|".join(sorted((re.escape(w) for t in tables for w in t if " " not in w), key=len, reverse=True))
    return re.compile(rf"\b(?:{word})(?:(?:\s+|-|\s+and\s+|\s+et\s+|-et-)(?:{word}))*\b", re.IGNORECASE)


# each language with its own words: in English "ten cents" is money, in French "deux cents" is 200
_WORDS_RUNS = {"en": _words_run(_EN_UNITS, _EN_SCALES), "fr": _words_run(_FR_UNITS, _FR_SCALES)}
_WORDS_RUN = _words_run(_EN_UNITS, _EN_SCALES, _FR_UNITS, _FR_SCALES)
_Unit = tuple[str, str]  # (regex of the spelling, Duckling unit)
_MONEY_UNITS: list[_Unit] = [
    (r"usd|us\$|us\s?dollars?", "USD"), (r"\$|dollars?", "$"), (r"bucks?", "unknown"), (r"€|euros?|eur|€ur", "EUR"),
    (r"£", "£"), (r"pounds? sterling|gbp", "GBP"), (r"lbp|lebanese\s?pounds?", "LBP"),
    (r"egp|egyptian\s?pounds?", "EGP"), (r"pounds?", "£"), (r"¢|pennies|penny", "cent"),
    (r"rs\.?|rupees?|inr", "INR"), (r"kwd|kuwaiti\s?dinars?", "KWD"), (r"qar|qatari\s?riyals?", "QAR"),
    (r"sar|saudi\s?riyals?", "SAR"), (r"bgn", "BGN"), (r"myr|rm|(?:malaysian?\s)?ringgits?", "MYR"),
    (r"ils|nis|shekels?", "ILS"), (r"dinars?", "dinar"), (r"riyals?", "riyal"), (r"rials?", "rial"),
    (r"¥|yens?|jpy", "JPY"), (r"cad|canadian dollars?", "CAD"), (r"cents?", "cent"),
    (r"francs?|chf", "CHF"),
    # French: "3 balles" (slang, no currency named), "neuf livres" (pounds, as Duckling reads it)
    (r"balles", "unknown"), (r"livres?\s+sterling", "GBP"), (r"livres?", "£"),
]
# currency codes written against their amount, as Duckling reads them ("USD3.14", "42MYR", "Rs20")
_GLUED_CODES = (*sorted({code for _, code in _MONEY_UNITS if len(code) == 3 and code.isupper()}), "Rs", "RM")
# a number may be glued to its unit ("250ml", "3km", "2h", "100k"), not to other letters ("3rd", "4pm")
_GLUED = (r"(?:(?:km|cm|mm|mls?|cl|hl|mg|kg|lbs?|oz|gals?|ft|mi|yds?|hrs?|mins?|[mlgkhKMG]|"
          + "|".join(_GLUED_CODES) + r")\b|US\$|¢)")
_AFTER_CODE = "".join(f"|(?<={'|'.join(c for c in _GLUED_CODES if len(c) == n)})" for n in (3, 2))
# digits, with a decimal part kept whole ("1.2b" and "1.2.3" are no numbers, not 1) or alone (".77")
_DIGITS = re.compile(
    rf"(?=[-+.\d])(?:(?<![\w.,:]){_AFTER_CODE})[-+]?(?:(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?|\.\d+)"
    rf"(?!(?!{_GLUED})\w|,\d|:\d|\.\d)"
    r"|(?<![\w.,])[-+]?\d+,\d+(?![\w,])"
)
# French digits: a dot or a space between thousands, a decimal comma ("100.000", "6 700,54", "1,2M", ",5")
_FR_DIGITS = re.compile(
    rf"(?=[-+,\d])(?:(?<![\w.,:]){_AFTER_CODE})[-+]?"
    r"(?:(?:\d{1,3}(?:\.\d{3})+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\.?\d)|\d+)"
    rf"(?:,\d+)?|,\d+)(?!(?!{_GLUED})\w|[.,:]\d)"
)
# Duckling's suffixes: "100k", "3M", ".0012G" (a lower-case m or g is a metre or a gram)
_SUFFIX_SCALE = re.compile(r"([kKMG])\b")
_SUFFIX_SCALES = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_FRACTION = re.compile(r"(?<![\w./])(\d{1,3})\s?/\s?(\d{1,3})(?![\d./])")
# a scale word after digits ("3 million", "12 lakhs", "2 douzaines"), each language its own
# (not "cent" in French: "1 USD 23 cents" has its cents, and digits are never followed by "cent" for 100)
_SCALE_AFTER = {lang: re.compile(r"\s+(" + "|".join(sorted((w for w in table if w not in skip), key=len, reverse=True))
                                 + r")\b", re.IGNORECASE)
                for lang, table, skip in (("en", _EN_SCALES, ()), ("fr", _FR_SCALES, ("cent", "cents")))}
_MINUS_BEFORE = {"en": re.compile(r"\b(?:minus|negative)\s+$", re.IGNORECASE),
                 "fr": re.compile(r"\bmoins\s+$", re.IGNORECASE)}


def _words_value(words: str) -> float | None:
    parts = [p for p in re.split(r"[\s-]+", words.lower()) if p and p not in _CONNECTORS]
    if not parts:
        return None
    total = 0
    current = 0
    last_scale = 0  # the scale that last closed a group ("thousand" in "three thousand")
    seen = False
    for i, p in enumerate(parts):
        if p in _WORD_VALUES:
            v = _WORD_VALUES[p]
            # French "quatre-vingt(s)" is 80; "soixante-dix" is 70 (60 + 10): plain addition works
            if p == "vingt" and i > 0 and parts[i - 1] == "quatre":
                current = current - 4 + 80
            elif i == 1 and 10 <= v <= 90 and p in _EN_UNITS and 1 <= _EN_UNITS.get(parts[0], 0) <= 9:
                current = current * 100 + v  # Duckling's English "one twenty two" (122), "three thirty" (330)
            else:
                current += v
            seen = True
        elif p in ("vingts",) and i > 0 and parts[i - 1] == "quatre":
            current = current - 4 + 80
            seen = True
        elif p in _SCALES:
            scale = _SCALES[p]
            if scale in (12, 100):  # "two dozen" is 24, "deux cents" 200
                current = (current or 1) * scale
            elif not current and total and scale > last_scale:  # "three thousand millions" is 3e9
                total *= scale
                last_scale = scale
            else:
                total += (current or 1) * scale
                current = 0
                last_scale = scale
            seen = True
        else:
            return None
    return float(total + current) if seen else None


def _parse_french_digits(raw: str) -> float:
    return float(re.sub(r"[.\s]", "", raw).replace(",", "."))


def _parse_digits(raw: str) -> float | None:
    s = raw.replace(" ", "")
    if re.fullmatch(r"[-+]?\d+,\d+", s) and not re.fullmatch(r"[-+]?\d{1,3},\d{3}", s):
        s = s.replace(",", ".")  # French decimal comma
    else:
        s = s.replace(",", "")
    try:
        return float(s)
    except ValueError:
        return None


def _clean(v: float) -> int | float:
    return int(v) if v == int(v) and abs(v) < 1e15 else v


_ANY_DIGIT = re.compile(r"\d")


_LOWER_WORD = re.compile(r"\w+")


def _gate(words: Iterable[str]) -> frozenset[str]:
    """The lower-case words any of which a pattern needs before it is worth running."""
    return frozenset(w for phrase in words for w in _LOWER_WORD.findall(phrase.lower()))


_NUMBER_GATE = _gate([*_WORD_VALUES, *_SCALES])


def lower_words(text: str) -> frozenset[str]:
    return frozenset(_LOWER_WORD.findall(text.lower()))


def find_numbers(text: str, words: frozenset[str] | None = None, lang: str = "") -> list[tuple[int, int, float]]:
    """(start, end, value) of every number written with digits or words, without overlaps.

    `words` (the text's lower-case words) lets the big word-number pattern be skipped when no
    number word is there, which is most messages."""
    out: list[tuple[int, int, float]] = []
    if _ANY_DIGIT.search(text):
        for m in _FRACTION.finditer(text):  # "3/15" is 0.2 for Duckling (and a date too); "1/2 hour"
            if int(m.group(2)):
                out.append((m.start(), m.end(), int(m.group(1)) / int(m.group(2))))
        french = lang == "fr"
        for m in (_FR_DIGITS if french else _DIGITS).finditer(text):
            v = _parse_french_digits(m.group(0)) if french else _parse_digits(m.group(0))
            if v is None or any(s < m.end() and m.start() < e for s, e, _ in out):
                continue
            end = m.end()
            if (k := _SUFFIX_SCALE.match(text, end)) is not None:
                v, end = v * _SUFFIX_SCALES[k.group(1)], k.end()
            elif (scale := _SCALE_AFTER.get(lang, _SCALE_AFTER["en"]).match(text, end)) is not None:
                v, end = v * _SCALES[scale.group(1).lower()], scale.end()  # "3 million", "2 dozens"
            out.append((m.start(), end, v))
    if words is None or not words.isdisjoint(_NUMBER_GATE):
        out += _word_numbers(text, out, lang)
    if lang != "fr" and (words is None or not words.isdisjoint(("point", "dot"))):
        out = _spelled_decimals(text, sorted(out))
    minus = _MINUS_BEFORE.get(lang)
    if minus is not None:  # "minus 5", "negative five"
        out = [(neg.start(), e, -v) if v > 0 and (neg := minus.search(text[:s])) else (s, e, v) for s, e, v in out]
    return sorted(out)


_POINT = re.compile(r"\s+(?:point|dot)\s+$", re.IGNORECASE)
_LEADING_POINT = re.compile(r"(?<![\w.])(?:point|dot)\s+$", re.IGNORECASE)


def _spelled_decimals(text: str, numbers: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Duckling's "1 point 1" (1.1), "two point five" (2.5) and "point 77" (0.77): a whole number after
    "point" or "dot" is the decimals of the number before it, or of nothing. A scale word closing the
    decimals scales the whole number: "two point two million" is 2,200,000."""
    out: list[tuple[int, int, float]] = []
    for s, e, v in numbers:
        digits = text[s:e]
        words = _RUN_WORD.findall(digits)
        scale = _EN_SCALES.get(words[-1].lower(), 1) if len(words) > 1 and words[-1].lower() not in (
            "hundred", "dozen", "dozens") else 1
        lead = " ".join(words[:-1]) if scale > 1 else digits
        v /= scale
        if v == int(v) and v >= 0 and (lead.isdigit() or not any(w.lower() in _EN_SCALES
                                                                  for w in _RUN_WORD.findall(lead))):
            decimals = v / 10 ** len(lead) if lead.isdigit() else v / 10 ** len(str(int(v)))
            if out and _POINT.match(text, out[-1][1], s) and out[-1][2] == int(out[-1][2]) and out[-1][2] >= 0:
                ps, _, pv = out.pop()
                out.append((ps, e, (pv + decimals) * scale))
                continue
            if (point := _LEADING_POINT.search(text, 0, s)) is not None:
                out.append((point.start(), e, decimals * scale))
                continue
        out.append((s, e, v * scale))
    return out


def _word_numbers(text: str, taken: list[tuple[int, int, float]], lang: str) -> list[tuple[int, int, float]]:
    out: list[tuple[int, int, float]] = []
    for m in _WORDS_RUNS.get(lang, _WORDS_RUN).finditer(text):
        if any(s < m.end() and m.start() < e for s, e, _ in taken):
            continue
        for start, end in _en_numbers(text, m.start(), m.end()) if lang != "fr" else [(m.start(), m.end())]:
            word = text[start:end].lower()
            if word in ("un", "une", "one", "cent", "cents") and not _standalone_number_word(text, end):
                continue
            v = _words_value(text[start:end])
            if v is not None:
                out.append((start, end, v))
    return out


# English number words by the place they take in a number: after a unit or a teen only a hundred or a
# scale word may follow ("three thirty" is 330 for Duckling, a hundred left unsaid, never 33)
_EN_KIND = {w: "unit" if v < 10 else "teen" if v < 20 else "tens" for w, v in _EN_UNITS.items()}
_EN_KIND |= {w: "hundred" if v == 100 else "scale" for w, v in _EN_SCALES.items()}
_EN_JOINS = {"tens": {"unit"}, "hundred": {"unit", "teen", "tens"}, "scale": {"unit", "teen", "tens"}}
_SKIPPED_HUNDRED = {"teen", "tens"}  # after a first unit: "one twenty two" is 122, "three thirty" 330
_RUN_WORD = re.compile(r"[^\s-]+")


def _en_numbers(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of the numbers in a run of English number words, as Duckling composes them: "twenty
    one", "two hundred and five", "three thousand millions" and, a hundred left unsaid, "one twenty
    two" (122) are one number each; "one two", "twenty fifteen", "twelve thirty" are two. "and" joins
    only after a hundred or a scale word."""
    spans: list[tuple[int, int]] = []
    prev: str | None = None
    joined = False  # an "and" since the previous number word
    last_start = -1  # where the previous number word starts
    for w in _RUN_WORD.finditer(text, start, end):
        word = w.group(0).lower()
        if word in _CONNECTORS:
            joined = True
            continue
        kind = _EN_KIND.get(word)
        if kind is None:  # a French word in a run read without a language: the whole run, as before
            return [(start, end)]
        first_unit = prev == "unit" and spans and spans[-1][0] == last_start
        if prev is not None and (kind in ("hundred", "scale")
                                 or kind in _EN_JOINS.get(prev, ()) and not (joined and prev == "tens")
                                 or first_unit and kind in _SKIPPED_HUNDRED and not joined):
            spans[-1] = (spans[-1][0], w.end())
        else:
            spans.append((w.start(), w.end()))
        prev, joined, last_start = kind, False, w.start()
    return spans


def _standalone_number_word(text: str, end: int) -> bool:
    """"un"/"one" are articles or pronouns more often than numbers: count them only before a unit."""
    after = text[end:].lstrip().lower()
    return (bool(re.match(_UNIT_START, after)) or _AND_HALF_HOURS.match(text, end) is not None
            or after.startswith(("point ", "dot ")))


# ------------------------------------------------------------------------------------------ measures

# currencies written before the amount in words, not only as symbols or ISO codes ("Rs 20", "ringgit 42")
_PREFIXES = frozenset({"rs", "rs.", "rm", "us$", "ringgit", "malaysian ringgit", "malaysia ringgit"})
_DISTANCE_UNITS: list[_Unit] = [
    (r"kms?|kilom[eè]tres?|kilometers?", "kilometre"), (r"cm|centim[eè]tres?|centimeters?", "centimetre"),
    (r"mm|millim[eè]tres?|millimeters?", "millimetre"), (r"m|m[eè]tres?|meters?", "metre"),
    (r"mi|miles?", "mile"), (r"ft|feet|foot", "foot"), (r"in|inch(?:es)?|pouces?", "inch"),
    (r"yards?|yds?", "yard"),
]
_VOLUME_UNITS: list[_Unit] = [
    (r"mls?|millilit(?:re|er)s?", "millilitre"), (r"cl|centilit(?:re|er)s?", "centilitre"),
    (r"l|lit(?:re|er)s?", "litre"), (r"gallons?|gals?", "gallon"), (r"hectolit(?:re|er)s?|hl", "hectolitre"),
]
_QUANTITY_UNITS: list[_Unit] = [
    (r"cuill[eè]res?\s+(?:à|a)\s+soupe", "tablespoon"), (r"cuill[eè]res?\s+(?:à|a)\s+caf[ée]", "teaspoon"),
    (r"kg|kilos?|kilogram(?:me)?s?", "kilogram"), (r"mg|milligram(?:me)?s?", "milligram"),
    (r"g|grams?|grammes?", "gram"), (r"lbs?|pounds?", "pound"), (r"oz|ounces?|onces?", "ounce"),
    (r"cups?|tasses?", "cup"), (r"tablespoons?|tbsp", "tablespoon"), (r"teaspoons?|tsp", "teaspoon"),
]
_TEMPERATURE_UNITS: list[_Unit] = [
    (r"°\s?c(?:elsius)?|degrees?\s+c(?:elsius)?|degr[ée]s?\s+c(?:elsius)?|celsius", "celsius"),
    (r"°\s?f(?:ahrenheit)?|degrees?\s+f(?:ahrenheit)?|degr[ée]s?\s+f(?:ahrenheit)?|fahrenheit", "fahrenheit"),
    (r"°|degrees?|deg\b\.?|degr[ée]s?", "degree"),
]
_DURATION_UNITS: list[tuple[str, str, int]] = [
    (r"seconds?|secs?|secondes?|s", "second", 1), (r"minutes?|mins?|min", "minute", 60),
    (r"hours?|hrs?|heures?|h", "hour", 3600), (r"days?|jours?|journ[ée]es?", "day", 86400),
    (r"weeks?|semaines?", "week", 604800), (r"months?|mois", "month", 2592000),
    (r"years?|ans?|ann[ée]es?", "year", 31536000),
]
# the first unit of _DURATION_UNITS that follows (one group per unit; a lone "s" must be glued: "3s")
_DURATION_AFTER = re.compile("|".join(
    rf"\s?(?P<u{i}>{spelling})(?![\w])" if spelling != "s" else rf"(?P<g{i}>s)(?![\w])"
    for i, (spellings, _, _) in enumerate(_DURATION_UNITS)
    for spelling in ((spellings.removesuffix("|s"), "s") if spellings.endswith("|s") else (spellings,))
), re.IGNORECASE)
_UNIT_START = "|".join(
    f"(?:{u})\\b" for u, _ in [*_MONEY_UNITS, *_DISTANCE_UNITS, *_VOLUME_UNITS, *_QUANTITY_UNITS]
) + "|" + "|".join(f"(?:{u})\\b" for u, _, _ in _DURATION_UNITS)


# what follows the end of a range of amounts: its unit, or a range's second amount and its unit
_MEASURED_AFTER = re.compile(
    r"\s*(?:(?:-|–|to|and|à|et)\s*[-+]?\d+(?:[.,]\d+)?\s?)?(?:" + _UNIT_START + "|"
    + "|".join(f"(?:{u})" for u, _ in _TEMPERATURE_UNITS) + ")", re.IGNORECASE)

_compiled_before: dict[str, re.Pattern[str]] = {}


def _unit_before(spelling: str) -> re.Pattern[str]:
    compiled = _compiled_before.get(spelling)
    if compiled is None:
        compiled = _compiled_before[spelling] = re.compile(rf"(?<![\w])(?:{spelling})\s?$", re.IGNORECASE)
    return compiled


_compiled_any_after: dict[int, tuple[re.Pattern[str], list[_Unit]]] = {}
_compiled_any_before: dict[int, re.Pattern[str]] = {}


def _any_after(units: list[_Unit]) -> re.Pattern[str]:
    """All of `units` after a number in one pattern (one group per unit, the first that fits wins)."""
    cached = _compiled_any_after.get(id(units))
    if cached is None:
        alternatives = "|".join(f"(?P<u{i}>{spelling})" for i, (spelling, _) in enumerate(units))
        cached = _compiled_any_after[id(units)] = (re.compile(rf"\s?(?:{alternatives})(?![\w])", re.IGNORECASE), units)
    return cached[0]


def _after_unit(text: str, end: int, units: list[_Unit]) -> tuple[int, str] | None:
    m = _any_after(units).match(text, end)
    if m is None or m.lastgroup is None:
        return None
    return m.end(), units[int(m.lastgroup[1:])][1]


def _before_unit(text: str, start: int, units: list[_Unit]) -> tuple[int, str] | None:
    """A currency written before the amount: a symbol (`$20`, `€ 5`) or an ISO code (`USD 20`)."""
    head = text[:start]
    combined = _compiled_any_before.get(id(units))
    if combined is None:
        alternatives = "|".join(f"(?:{spelling})" for spelling, _ in units)
        combined = _compiled_any_before[id(units)] = re.compile(rf"(?<![\w])(?:{alternatives})\s?$", re.IGNORECASE)
    if combined.search(head) is None:  # most amounts have nothing before them: one search, not one per unit
        return None
    for spelling, unit in units:
        m = _unit_before(spelling).search(head)
        if m is None:
            continue
        written = m.group(0).strip()
        if not written[0].isalpha() or (len(written) == 3 and written.isupper()) or written.lower() in _PREFIXES:
            return m.start(), unit
    return None


_VOLUME_ARTICLE = re.compile(
    r"\b(?:(?P<half>half(?:\s+an?|-)?|(?:une?\s+)?demi-?)|(?P<quarter>(?:a\s+)?quarter(?:\s+of\s+an?|-)"
    r"|(?:a\s+)?fourth\s+of(?:\s+an?)?|(?:un\s+)?quart\s+de)"
    r"|(?P<tenth>(?:a\s+)?tenth\s+of(?:\s+an?)?)|an?|une?)\s*(?=[a-z])", re.IGNORECASE)


def _volume_articles(text: str) -> list[tuple[int, int, float]]:
    """"a liter", "half a gallon", "quarter-litre": amounts written with words before a volume unit."""
    if not any(w in text.lower() for w in ("lit", "gal", "ml", "millil")):
        return []
    return [(m.start(), m.end(), 0.5 if m.group("half") else 0.25 if m.group("quarter") else
             0.1 if m.group("tenth") else 1.0) for m in _VOLUME_ARTICLE.finditer(text)]


# each unit in the smallest of its system: Duckling adds up "7 feet 10 inches" (94 inches), "2 km and 1 meter"
_METRIC_MM = {"kilometre": 1_000_000, "metre": 1000, "centimetre": 10, "millimetre": 1}
_IMPERIAL_INCHES = {"mile": 63_360, "yard": 36, "foot": 12, "inch": 1}


def _summed_distances(text: str, distances: list[Found]) -> list[Found]:
    """Distances of one system one after the other ("7 feet 10 inches", "2 yards, 7 feet") are one,
    in the smaller unit; a larger unit after a smaller one starts another distance."""
    out: list[Found] = []
    for d in distances:
        last = out[-1] if out else None
        for table in (_METRIC_MM, _IMPERIAL_INCHES):
            if (last is not None and last.unit in table and d.unit in table and table[d.unit] < table[last.unit]
                    and _JOINED.match(text[last.end:d.start])):
                total = Fraction(str(last.value)) * table[last.unit] + Fraction(str(d.value)) * table[d.unit]
                out[-1] = _found("distance", text, last.start, d.end, _clean(float(total / table[d.unit])), d.unit)
                break
        else:
            out.append(d)
    return out


class _Articles:
    """One of a unit named by a word: "a dollar" (Duckling's corpus: 1 dollar; "above a dollar and 42 cents"),
    "a kilogram", "a cup of sugar". Scanned only when the message holds one of the unit's words."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self.pattern = re.compile(rf"\ban?\s+(?=(?:{'|'.join(sorted(self.words, reverse=True))})\b)", re.IGNORECASE)

    def __call__(self, text: str, words: frozenset[str]) -> list[tuple[int, int, float]]:
        if words.isdisjoint(self.words):
            return []
        return [(m.start(), m.end(), 1.0) for m in self.pattern.finditer(text)]


_PLURAL = frozenset({"", "s"})
_money_articles = _Articles({*(f"{w}{s}" for w in ("dollar", "buck", "euro", "pound", "cent", "rupee", "dinar", "riyal",
                                                    "rial", "shekel", "ringgit", "yen", "franc") for s in _PLURAL),
                             "penny"})
_quantity_articles = _Articles(f"{w}{s}" for w in ("kilogram", "kilo", "kg", "gram", "pound", "lb", "ounce", "oz",
                                                   "cup", "tablespoon", "teaspoon", "tbsp", "tsp") for s in _PLURAL)


_BELOW_ZERO = re.compile(r"\s*(?:below\s+zero|(?:sous|en\s+dessous\s+de)\s+z[ée]ro)\b", re.IGNORECASE)


# French puts "de" between a large amount and its unit: "3 millions d'euros"
_OF_AFTER_SCALE = re.compile(r"\s+(?:d['’]|de\s+)", re.IGNORECASE)
_LARGE_SCALE_AT_END = re.compile(r"\b(?:millions?|milliards?)$", re.IGNORECASE)


def _measures(text: str, numbers: list[tuple[int, int, float]], dim: str, units: list[_Unit]) -> list[Found]:
    out: list[Found] = []
    for start, end, value in numbers:
        if any(f.start <= start < f.end for f in out):
            continue  # the cents of an amount already read ("20 dollars 43 cents")
        after = _after_unit(text, end, units)
        if after is None and dim == "amountOfMoney" and (of := _OF_AFTER_SCALE.match(text, end)) is not None and \
                _LARGE_SCALE_AT_END.search(text, start, end) is not None:
            after = _after_unit(text, of.end(), units)  # "3 millions d'euros", "un milliard de dollars"
        if after is not None:
            stop, unit = after
            if dim == "temperature" and (below := _BELOW_ZERO.match(text, stop)) is not None:
                value, stop = -abs(value), below.end()  # "2 degrees below zero"
            if dim == "amountOfMoney" and unit != "cent" and (cents := _CENTS_AFTER.match(text, stop)) is not None:
                value, stop = value + int(cents.group(1)) / 100, cents.end()
            out.append(_found(dim, text, start, stop, _clean(value), unit))
            continue
        if dim == "temperature" and (below := _BELOW_ZERO.match(text, end)) is not None:  # "2 below zero"
            out.append(_found(dim, text, start, below.end(), _clean(-abs(value)), "degree"))
            continue
        if dim == "amountOfMoney":
            before = _before_unit(text, start, units)
            if before is not None:
                begin, unit = before
                if (cents := _CENTS_AFTER.match(text, end)) is not None:
                    value, end = value + int(cents.group(1)) / 100, cents.end()
                out.append(_found(dim, text, begin, end, _clean(value), unit))
    return out


# the cents after an amount: "$20 and 43c", "20 dollars 43 cents", "3 GBP 1 pence", "20 ringgit 43 sen"
# (bare digits only at the end of a sentence: "$20 and 2 pizzas" keeps its pizzas)
_CENTS_AFTER = re.compile(r"\s*(?:and\s+|et\s+)?(\d{1,2})"
                          r"(?:\s?(?:c|cents?|centimes?|sens?|pence|p)\b|(?=\s*(?:$|[.!?;)])))", re.IGNORECASE)


_ARTICLE = re.compile(r"\b(?:(?:une?\s+)?demi[- ]|an?|une?|half(?:\s+an?|-)?)\s*(?=\w)", re.IGNORECASE)
_AND_A_HALF = re.compile(r"\s+and\s+(?:a\s+)?half\b|\s+et\s+demie?\b", re.IGNORECASE)
_JOINED = re.compile(r"^[\s,]*(?:and|et)?\s*$", re.IGNORECASE)
# Duckling's "<integer> and a half hours" ("two and a half hours" is 150 minutes; hours only, as there)
_AND_HALF_HOURS = re.compile(r"\s+and\s+(?:an?\s+)?half\s+hours?\b", re.IGNORECASE)


def _durations(text: str, numbers: list[tuple[int, int, float]]) -> list[Found]:
    out: list[Found] = []
    spans = list(numbers)
    for m in _ARTICLE.finditer(text):
        value = 0.5 if "half" in m.group(0).lower() or "demi" in m.group(0).lower() else 1.0
        spans.append((m.start(), m.end(), value))
    for start, end, value in sorted(spans):
        if value == int(value) and value >= 0 and (hours := _AND_HALF_HOURS.match(text, end)) is not None:
            if not any(f.start < hours.end() and start < f.end for f in out):
                out.append(_found("duration", text, start, hours.end(), _clean(value * 3600 + 1800), "second"))
            continue
        unit = _DURATION_AFTER.match(text, end)
        if unit is None or unit.lastgroup is None:
            continue
        stop, seconds = unit.end(), _DURATION_UNITS[int(unit.lastgroup[1:])][2]
        if any(f.start < stop and start < f.end for f in out):
            continue
        amount = value * seconds
        if (half := _AND_A_HALF.match(text, stop)) is not None:  # "an hour and a half"
            amount, stop = amount + seconds / 2, half.end()
        out.append(_found("duration", text, start, stop, _clean(amount), "second"))
    # "1 year, 2 days and 3 hours" is one duration: the parts add up
    merged: list[Found] = []
    for f in out:
        if merged and _JOINED.match(text[merged[-1].end:f.start]):
            last = merged.pop()
            f = _found("duration", text, last.start, f.end, _clean(last.value + f.value), "second")
        merged.append(f)
    return merged


# ------------------------------------------------------------------------------------------ patterns

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+(?![\w-])")
_URL = re.compile(
    r"(?<![\w@/])(?:(?:https?|ftp)://[^\s<>\"']+|www\.[^\s<>\"']+|"
    r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|ai|fr|ca|co|uk|de|edu|gov|info|app|dev)"
    r"(?:[/?#][^\s<>\"']*)?)(?![\w@])",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+(])(?:\(?\+\d{1,3}\)?[\s.-]*)?(?:\(\d{1,4}\)[\s.-]*)?\d{1,4}(?:\s*[\s.-]\s*\d{1,10}){1,5}(?![\w])"
    r"|(?<![\w+(])(?:\(?\+\d{1,3}\)?[\s.-]*)?\(\d{1,4}\)[\s.-]*\d{2,4}(?:[\s.-]*\d{2,4}){1,4}(?![\w])"
    r"|(?<![\w+(])(?:\(?\+\d{1,3}\)?[\s.-]*\d{7,13}|\d{10,13})(?![\w])"
)
# Duckling's reading: "+33 1 46647998" is "(+33) 146647998" (a country code of one or two digits), and
# an extension is kept: "650-701-8887 ext 897" is "6507018887 ext 897"
_COUNTRY_CODE = re.compile(r"\(?\+(\d{1,2})\)?[\s.-]*")
_EXTENSION = re.compile(r"\s*(?:ext|x)\.?\s*(\d{1,20})\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60, "seventieth": 70, "eightieth": 80,
    "ninetieth": 90, "hundredth": 100, "last": -1,
    "premier": 1, "première": 1, "premiere": 1, "deuxième": 2, "deuxieme": 2, "seconde": 2,
    "troisième": 3, "troisieme": 3, "quatrième": 4, "quatrieme": 4, "cinquième": 5, "cinquieme": 5,
    "sixième": 6, "sixieme": 6, "septième": 7, "septieme": 7, "huitième": 8, "huitieme": 8,
    "neuvième": 9, "neuvieme": 9, "dixième": 10, "dixieme": 10, "dernier": -1, "dernière": -1,
    **{f"{stem}{end}": value for stem, value in (
        ("uni", 1), ("onzi", 11), ("douzi", 12), ("treizi", 13), ("quatorzi", 14), ("quinzi", 15), ("seizi", 16),
        ("vingti", 20), ("trenti", 30), ("quaranti", 40), ("cinquanti", 50), ("soixanti", 60), ("quatre-vingti", 80),
        ("centi", 100), ("milli", 1000)) for end in ("ème", "eme")},
}
# French ordinals past ten join a ten and a unit's ordinal: "vingt et unième", "dix-septième", "quatre-vingt-dixième"
_FR_ORDINAL_UNITS = ("uni", "deuxi", "troisi", "quatri", "cinqui", "sixi", "septi", "huiti", "neuvi", "dixi", "onzi",
                     "douzi", "treizi", "quatorzi", "quinzi", "seizi")
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90, "dix": 10, "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
         "quatre-vingt": 80, "quatre-vingts": 80}
# in two patterns, each run only when the message may hold what it reads (a digit, an ordinal word):
# as one pattern, the word alternatives were tried at every position of every message with a digit
_ORDINAL_NUMBER = re.compile(r"\b(\d+)\s?(?:st|nd|rd|th|er|re|ère|ere|e|ème|eme|è)\b", re.IGNORECASE)
_ORDINAL = re.compile(
    r"\b(?P<tens>" + "|".join(sorted(_TENS, key=len, reverse=True)) + r")(?:[\s\-—–]+et)?[\s\-—–]*"
    r"(?=(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|(?:" + "|".join(_FR_ORDINAL_UNITS)
    + r")(?:ème|eme))\b)|(?:\b|(?<=ty))(?P<word>"
    + "|".join(sorted((k for k in _ORDINAL_WORDS if k not in ("last", "dernier", "dernière")),
                      key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)


# with the glued forms of Duckling's corpus ("twentyfifth")
_ORDINAL_GATE = _gate([*_ORDINAL_WORDS, *(t + o for t in _TENS for o in ("first", "second", "third", "fourth", "fifth",
                                                                          "sixth", "seventh", "eighth", "ninth"))])


def _found(dim: str, text: str, start: int, end: int, value: Any, unit: str) -> Found:
    return Found(name=dim, entity_id=f"system.{dim}", value=value, unit=unit, start=start, end=end,
                 source=text[start:end])


def _regex_entities(text: str, dim: str, regex: re.Pattern[str],
                    value: Callable[[str], Any] = lambda s: s) -> list[Found]:
    return [_found(dim, text, m.start(), m.end(), value(m.group(0)), "") for m in regex.finditer(text)]


# French groups thousands with dots or spaces: "3.000.000" and "1 000 000" are numbers, not phones
_FR_THOUSANDS = re.compile(r"\d{1,3}([. ])\d{3}(?:\1\d{3})*")


def _phones(text: str, taken: Iterable[Found], lang: str) -> list[Found]:
    out = []
    blocked = list(taken)
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if len(digits) < 7 or len(digits) > 15 or _ISO_DATE.fullmatch(m.group(0)):
            continue  # "2015-03-03" is a date
        if lang == "fr" and _FR_THOUSANDS.fullmatch(m.group(0)):
            continue
        if any(f.start < m.end() and m.start() < f.end for f in blocked):
            continue
        code = _COUNTRY_CODE.match(m.group(0))
        value = (f"(+{int(code.group(1))}) " + re.sub(r"\D", "", m.group(0)[code.end():])) if code else digits
        end = m.end()
        if (ext := _EXTENSION.match(text, end)) is not None:
            value, end = f"{value} ext {int(ext.group(1))}", ext.end()
        out.append(_found("phoneNumber", text, m.start(), end, value, ""))
    return out


def _ordinals(text: str, words: frozenset[str] | None = None, has_digit: bool = True) -> list[Found]:
    out: list[Found] = []
    if has_digit:
        out += [_found("ordinal", text, m.start(), m.end(), int(m.group(1)), "")
                for m in _ORDINAL_NUMBER.finditer(text)]
    if words is not None and words.isdisjoint(_ORDINAL_GATE):
        return out
    tens: tuple[int, int, int] | None = None  # "twenty-" right before "fifth": (start, end, 20)
    for m in _ORDINAL.finditer(text):
        if m.group("tens"):
            tens = (m.start(), m.end(), _TENS[m.group("tens").lower()])
            continue
        value = _ORDINAL_WORDS[m.group("word").lower()]
        start = m.start()
        if tens is not None and tens[1] == m.start():
            start, value = tens[0], tens[2] + value
        elif start and text[start - 1].isalpha():  # "partyfirst": only a ten is glued to its ordinal
            tens = None
            continue
        tens = None
        out.append(_found("ordinal", text, start, m.end(), value, ""))
    return sorted(out, key=lambda f: f.start) if has_digit else out


# ------------------------------------------------------------------------------------------ time

_TIME_WORDS = (
    "today", "tonight", "tomorrow", "yesterday", "now", "noon", "midnight", "morning", "afternoon", "evening",
    "week", "weekend", "month", "year", "ago", "next", "last", "this", "monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april", "june", "july",
    "august", "september", "october", "november", "december", "aujourd'hui", "demain", "hier", "maintenant",
    "midi", "minuit", "matin", "soir", "semaine", "mois", "année", "prochain", "prochaine", "dernier",
    "dernière", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "janvier", "février",
    "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)
_TIME_DIGITS_HINT = r"in \d+|dans \d+|\d+\s?(?:am|pm|h)|\d{1,2}:\d{2}|\d{1,4}[/-]\d{1,2}(?:[/-]\d{1,4})?"
_TIME_HINT = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in _TIME_WORDS) + "|" + _TIME_DIGITS_HINT + r")\b",
                        re.IGNORECASE)
# without a time word only the digits' forms can hint (one search of five forms instead of eighty)
_TIME_DIGITS_ONLY_HINT = re.compile(rf"\b(?:{_TIME_DIGITS_HINT})\b", re.IGNORECASE)
_TIME_OF_DAY = re.compile(r"\d{1,2}(?::\d{2})|\d\s?(?:am|pm|h)\b|noon|midnight|midi|minuit|\bat \d", re.I)
# month names that are also everyday words ("we march on", "may I", "in mars"): no date on their own
_WORD_MONTHS = frozenset({"may", "march", "mai", "mars", "june", "august"})


def _only_word_months(source: str) -> bool:
    """A match whose only sign of a date is such a month name, without a digit: dateparser reads
    "we march on" as the 12th of March; the grammars read the month where a date surrounds it."""
    if any(ch.isdigit() for ch in source):
        return False
    return {w.lower() for w in _TIME_HINT.findall(source)} <= _WORD_MONTHS

_dateparser_lock = threading.Lock()
_dateparser_search: Any = None


def _search_dates() -> Any:
    global _dateparser_search
    with _dateparser_lock:
        if _dateparser_search is None:
            try:
                from dateparser.search import search_dates
            except ImportError:  # dates are optional: the rest of the NLU works without them
                log.warning("dateparser is not installed: no `time` entities")
                _dateparser_search = False
            else:
                _dateparser_search = search_dates
    return _dateparser_search


def warm_up() -> None:
    """Load dateparser's tables now (≈1 s), not during the first conversation that mentions a date."""
    search = _search_dates()
    if search:
        try:
            search("tomorrow at 5pm", languages=["en"])
        except Exception:  # warming up is best effort
            log.debug("dateparser warm-up failed", exc_info=True)


_TIME_GATE = _gate(_TIME_WORDS)


def _times(text: str, lang: str, now: datetime | None, durations: list[Found],
           words: frozenset[str] | None = None, has_digit: bool = True) -> list[Found]:
    """Clock times, days, dates and spans from now as Duckling reads them (`clock` in English,
    `clock_fr` in French), then whatever else dateparser finds in the rest of the message."""
    out: list[Found] = []
    grammar = _GRAMMARS.get(lang)
    if grammar is not None and (has_digit or words is None or not words.isdisjoint(grammar.WORDS)):
        base = now if now is not None and now.tzinfo is not None else (now or datetime.now()).astimezone()
        try:
            read = grammar.find(text, base)
        except Exception:  # a bug in a grammar must not cost the message its understanding
            log.exception("reading the times of %r failed", text)
            read = []
        for start, end, when, grain in read:
            out.append(_found("time", text, start, end, when.isoformat(timespec="milliseconds"), grain))
        if out:
            mark_moment_bound()
            text = _mask(text, out, " ")  # dateparser reads the rest
    if words is not None and words.isdisjoint(_TIME_GATE):
        if not has_digit or not _TIME_DIGITS_ONLY_HINT.search(text):
            return out
    elif not _TIME_HINT.search(text):
        return out
    return out + _dateparser_times(text, lang, now, durations)


def _dateparser_times(text: str, lang: str, now: datetime | None, durations: list[Found]) -> list[Found]:
    search = _search_dates()
    if not search:
        return []
    mark_moment_bound()  # what is found (even nothing: "the 31st" in June) depends on the day and zone
    from dateparser import parse

    settings: dict[str, Any] = {"RETURN_AS_TIMEZONE_AWARE": True, "PREFER_DATES_FROM": "future"}
    if now is not None:
        settings["RELATIVE_BASE"] = now.replace(tzinfo=None)
        zone = _zone_name(now)
        if zone:  # "tomorrow at 5pm" is 5 pm where the user is
            settings["TIMEZONE"] = zone
    languages = [lang] if lang in _DATEPARSER_LANGUAGES else None
    try:
        found = search(text, languages=languages, settings=settings) or []
    except Exception:  # dateparser raises on odd inputs; a message without dates is the safe answer
        log.debug("dateparser failed on %r", text, exc_info=True)
        return []
    out: list[Found] = []
    pos = 0
    for source, _ in found:
        start = text.find(source, pos)
        if start < 0:
            continue
        pos = start + len(source)
        stripped = source.strip()
        if _MASKED in stripped:
            continue  # it spans an email, a URL or a phone number
        if not _TIME_HINT.search(stripped) or _only_word_months(stripped) or _only_in_number(stripped):
            continue  # "je", "may I…", "we march on", a bare number, "in 2 and a": not a date
        if _NOT_A_DATE.match(stripped) or (_FRACTION_ONLY.match(stripped)
                                           and _OF_AFTER.match(text, start + len(source))):
            continue  # "24/7", "2/3 of the people"
        end = start + len(source)
        if any(d.start <= start and end <= d.end for d in durations):
            continue  # "for 2 hours" is a duration; "in 2 hours" is a time
        try:  # parse the expression alone: search_dates lets neighbouring matches shift each other
            when = parse(stripped, languages=languages, settings=settings)
        except Exception:
            when = None
        if when is None:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        has_clock = bool(_TIME_OF_DAY.search(source))
        grain = ("minute" if when.minute else "hour") if has_clock else "day"
        span = _SPAN_FROM_NOW.search(source)
        if span is not None:  # Duckling: truncated to the unit below ("dans 2 heures": the minute)
            grain = "minute" if span.group(1).lower().startswith(("hour", "heure")) else "second"
            when = when.replace(microsecond=0, **({"second": 0} if grain == "minute" else {}))
        elif grain == "day" and not _PART_OF_DAY.search(source):
            when = when.replace(hour=0, minute=0, second=0, microsecond=0)  # a day is its midnight
        out.append(_found("time", text, start, end, when.isoformat(timespec="milliseconds"), grain))
    return out


_IN_NUMBER = re.compile(r"(?:in|dans)\s+\d+$", re.IGNORECASE)
_UNIT_OR_YEAR = re.compile(r"\d{4}|\b(?:sec|min|h|hr|hour|day|week|fortnight|month|year|yr|seconde|minute|heure|jour"
                           r"|semaine|mois|an|année)s?\b", re.IGNORECASE)


def _only_in_number(source: str) -> bool:
    """"in 2 and a" ("in 2 and a half days"), "in 3 and 4": dateparser reads a date into a number after
    "in" when no unit follows it (February 2014, March 4th); an hour, a day, a year are dates."""
    hints = _TIME_HINT.findall(source)
    return all(_IN_NUMBER.match(h) for h in hints) and _UNIT_OR_YEAR.search(source) is None


_NOT_A_DATE = re.compile(r"24\s?/\s?7$|\d{1,2}/\d{1,2}\s+of\b", re.IGNORECASE)
_FRACTION_ONLY = re.compile(r"\d{1,2}/\d{1,2}$")
_OF_AFTER = re.compile(r"\s+of\b", re.IGNORECASE)
_SPAN_FROM_NOW = re.compile(r"\b(?:in|dans)\s+\d+\s+(hours?|minutes?|seconds?|heures?|secondes?)", re.I)
# a day named with its part ("tonight", "ce soir"): not its midnight (Duckling answers a span there)
_PART_OF_DAY = re.compile(r"night|morning|evening|afternoon|soir|matin|midi|nuit", re.I)


def _zone_name(now: datetime) -> str | None:
    """What dateparser understands of `now`'s time zone: an IANA name, or a `+HHMM` offset."""
    tz = now.tzinfo
    if tz is None:
        return None
    key = getattr(tz, "key", None)  # zoneinfo.ZoneInfo
    if isinstance(key, str):
        return key
    offset = now.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


_GRAMMARS = {"en": clock, "fr": clock_fr}
_DATEPARSER_LANGUAGES = ("en", "fr", "es", "de", "it", "pt", "nl", "ru", "ar", "ja", "zh")


# ------------------------------------------------------------------------------------------ all


# what an email, URL or phone number is blanked out with before the other entities are looked for: not a
# space, so that no other entity spans it ("a <phone> pounds" was one pound, "thirty <phone> three" 33)
_MASKED = "\x00"


def _mask(text: str, found: Iterable[Found], fill: str = _MASKED) -> str:
    """`text` with what `found` covers blanked out (same length: the other spans keep their places)."""
    for f in found:
        text = text[:f.start] + fill * (f.end - f.start) + text[f.end:]
    return text


def extract_system(text: str, lang: str = "en", now: datetime | None = None) -> list[Found]:
    """Every system entity of `text`, sorted by position."""
    if not text.strip():
        return []
    # cheap gates first: most messages have no `@`, no `.` and no digit, and skipping those scans
    # halves the cost of a message without entities
    emails = _regex_entities(text, "email", _EMAIL) if "@" in text else []
    urls = [u for u in _regex_entities(text, "url", _URL) if not any(u.start < e.end and e.start < u.end
                                                                          for e in emails)] if (
        "." in text or "://" in text) else []
    has_digit = _ANY_DIGIT.search(text) is not None
    phones = _phones(text, [*emails, *urls], lang) if has_digit else []
    masked = _mask(text, [*emails, *urls, *phones])
    words = lower_words(masked)
    numbers = find_numbers(masked, words, lang)
    ordinals = _ordinals(masked, words, has_digit)
    ordinal_spans = [(o.start, o.end) for o in ordinals]
    numbers = [n for n in numbers if not any(s < n[1] and n[0] < e for s, e in ordinal_spans)]
    found: list[Found] = [*emails, *urls, *phones, *ordinals]
    found += [_found("number", text, s, e, _clean(v), "") for s, e, v in numbers]
    found += _measures(masked, sorted([*numbers, *_money_articles(masked, words)]), "amountOfMoney", _MONEY_UNITS)
    found += _summed_distances(masked, _measures(masked, numbers, "distance", _DISTANCE_UNITS))
    found += _measures(masked, [*numbers, *_volume_articles(masked)], "volume", _VOLUME_UNITS)
    found += _measures(masked, sorted([*numbers, *_quantity_articles(masked, words)]), "quantity", _QUANTITY_UNITS)
    found += _measures(masked, numbers, "temperature", _TEMPERATURE_UNITS)
    durations = _durations(masked, numbers)
    times = _times(masked, lang, now, durations, words, has_digit)
    if has_digit:  # "between 3 and 5 kilometers", "10-20 dollars": bare numbers before a unit are no time
        times = [t for t in times if not (t.source[-1].isdigit() and _MEASURED_AFTER.match(masked, t.end))]
    # "17h" in "demain à 17h" is a clock time, not a length of time; "dans 2 heures" is both
    clock_times = [t for t in times if not _SPAN_FROM_NOW_WORDS.search(t.source)]
    found += [d for d in durations if not any(t.start <= d.start and d.end <= t.end for t in clock_times)]
    found += times
    return sorted(found, key=lambda f: (f.start, -f.end, f.name))


_SPAN_FROM_NOW_WORDS = re.compile(r"^(?:in|dans|il\s+y\s+a)\b|\b(?:ago|from\s+(?:right\s+)?now|from\s+today"
                                  r"|hence|later)$", re.IGNORECASE)
