"""English times the way Duckling reads them, for what chat users type most: clock times, days, dates
and spans of time from now.

`dateparser` (used for everything else) reads many of these differently from Duckling, and Botpress
bots get Duckling's reading: "3pm" and "at 6" are times of the next such hour (dateparser finds none),
"at 5 tomorrow" is 5 o'clock (dateparser keeps the current time of day), a day is its midnight with
the grain `day`, "in 2 hours" is truncated to the minute, "next week" is its Monday with the grain
`week`, and "between 2 and 4pm" starts at 2 pm (dateparser reads February). The rules follow the
examples of Duckling's English corpus (reference: a Tuesday, 04:30; `tests/unit/test_nlu_clock.py`).

`find(text, now)` returns (start, end, value, grain) tuples; `now` is aware (the user's zone).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from dateutil.easter import easter

Time = tuple[int, int, datetime, str]  # (start, end, value, grain)

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# short names that are everyday words too ("sat", "sun", "wed", French "mon") are left out
_WEEKDAY = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues?\.?|thu(?:rs?)?\.?|fri\.?"
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_MONTH = "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS) + "|sept"
# a month named alone: "may", "march", "june" and "august" are words too, taken only after in/next/this/last
_MONTH_ALONE_OK = "|".join(m for m in _MONTHS if m not in ("may", "march", "june", "august"))
_HOUR_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
               "ten": 10, "eleven": 11, "twelve": 12}
_HOUR = r"\d{1,2}|" + "|".join(_HOUR_WORDS)
_UNIT_WORDS_1_9 = {w: v for w, v in _HOUR_WORDS.items() if v < 10}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19}
_MINUTE_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
# the minutes of a clock time said in words: "three ten", "nine fifty nine a m", "eleven oh five"
_MINUTE_WORDS = {**_TEENS, **_MINUTE_TENS,
                 **{f"{t} {u}": tv + uv for t, tv in _MINUTE_TENS.items() for u, uv in _UNIT_WORDS_1_9.items()},
                 **{f"{o} {u}": uv for o in ("oh", "o") for u, uv in _UNIT_WORDS_1_9.items()}}
_MINUTE_WORD = "|".join(w.replace(" ", "[- ]") for w in sorted(_MINUTE_WORDS, key=len, reverse=True))
_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                  "eighth": 8, "ninth": 9, "tenth": 10}
_DAY_NUMBER = r"\d{1,2}(?:st|nd|rd|th)?|" + "|".join(_ORDINAL_WORDS)
_SMALL = {"a pair of": 2, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a couple": 2,
          "couple of": 2, "a few": 3, "few": 3}
_UNIT_OF = {"s": "second", "sec": "second", "second": "second", "min": "minute", "minute": "minute", "h": "hour",
            "hr": "hour", "hour": "hour", "day": "day", "week": "week", "fortnight": "week", "month": "month",
            "year": "year", "yr": "year", "quarter": "quarter", "qtr": "quarter"}
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
# Duckling's grain for "in <n> <unit>" and "<n> <unit> ago": the unit below
_GRAIN_BELOW = {"second": "second", "minute": "second", "hour": "minute", "day": "hour", "week": "day",
                "month": "day", "year": "month"}
# minutes before or after an hour ("a quarter past 3pm", "twenty-five to six"), and their spellings
_OFFSETS = {"a quarter": 15, "quarter": 15, "half": 30, "five": 5, "ten": 10, "twenty": 20, "twenty five": 25}
_OFFSET_WORD = "|".join(w.replace(" ", r"[\s-]+") for w in sorted(_OFFSETS, key=len, reverse=True) if w != "half")


def _offset_minutes(raw: str) -> int:
    words = " ".join(raw.lower().replace("-", " ").split())
    return int(words) if words.isdigit() else _OFFSETS[words]


_I = re.IGNORECASE


def _ampm(name: str) -> str:
    return rf"(?P<{name}>[ap]\.?\s?m\b\.?|[ap]\b)"


def _clock(prefix: str) -> str:
    """An hour, and its minutes in digits ("3:15", "330") or words ("seven thirty")."""
    return rf"(?P<{prefix}h>{_HOUR})(?:(?::|\.)?(?P<{prefix}m>[0-5]\d)|\s+(?P<{prefix}w>{_MINUTE_WORD})\b)?"


# a number after "at" that is a measure, a price or a count, not a time
_NOT_A_TIME = (r"(?!\s*(?:%|percent|\$|€|£|dollars?|euros?|pounds?|cents?|km|kilomet|meters?|metres?|miles?"
               r"|kg|kilos?|grams?|lbs?|degrees?|°|years?|people|persons|guests|times|pieces|items"
               r"|minutes?\s+(?:past|after|to|till|before)|past|after|till|before|options?|choices?|things?|stars?"
               r"|points?|of)\b)")
# "at about 3pm", "3pm approximately": the hedge is part of the time, as in Duckling
_HEDGE = r"(?:about|around|approximately|approx\.?|roughly)"
_EXPLICIT = re.compile(r"\b(?:(?:at|@)\s+(?:" + _HEDGE + r"\s+)?|" + _HEDGE + r"\s+)?" + _clock("a") + r"\s?"
                       + _ampm("ap") + r"(?:\s+approximately\b)?", _I)
# where a time may end: "half two", "at 3 15" are times only there ("half two cups", "at 3 15 people" are not)
_TIME_END = r"(?=\s*(?:$|[.,!?;)]|today|tonight|tomorrow|on\b|in\s+the\b|this\b|next\b|at\b))"
_AT = re.compile(r"\b(?:(?:at|@)(?:\s+" + _HEDGE + r")?|around)\s+(?P<bh>" + _HOUR + r")"
                 r"(?::(?P<bm>[0-5]\d)|(?P<bm2>[0-5]\d)|\s+(?P<bw>" + _MINUTE_WORD + r")"
                 r"|\s+(?P<bm3>[0-5]\d)(?:\s?(?P<bap>[ap]\.?\s?m\b\.?))?"
                 + _TIME_END + r")?\b(?![:.,/]\d)"
                 + _NOT_A_TIME, _I)
_OCLOCK = re.compile(r"\b(?P<oh>" + _HOUR + r")\s?o'?\s?clock\b(?:\s?(?P<oap>[ap]\.?\s?m\b\.?))?", _I)
_BARE = re.compile(r"(?<![\d:.])\b(?P<ch>\d{1,2}):(?P<cm>[0-5]\d)\b(?![:.]\d)")
# British "half three" (3:30): hour words only, and only where a time can end ("half two cups" is no time)
_HALF = re.compile(r"\bhalf\s+(?P<fh>" + "|".join(_HOUR_WORDS) + r")\b(?:\s?(?P<fap>[ap]\.?\s?m\b\.?))?"
                   + _TIME_END, _I)
_NOON = re.compile(r"\b(?:(?:at|@|around)\s+)?(?P<nw>noon|midday|midnight)\b", _I)
# "half past three", "a quarter to five", "ten past 8": minutes before or after an hour with no am or pm
# (those are read by the rules above, then shifted by `_OFFSET_BEFORE`); digits only count minutes
# past an hour ("5 to 10" is a range more often than 9:55)
_OFFSET_HOUR = re.compile(
    r"\b(?:(?:at|@|around)\s+)?(?:(?P<qoff>" + _OFFSET_WORD + r")\s+(?:minutes?\s+)?"
    r"(?P<qdir>past|after|to|till|before)|(?P<qpast>half|\d{1,2})\s+(?:minutes?\s+)?(?:past|after))"
    r"\s+(?P<qh>" + _HOUR + r")\b(?!\s?[ap]\.?\s?m\b|[:.]\d|\s*o'?\s?clock"
    r"|\s+(?:secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?|months?|years?)\b)" + _NOT_A_TIME, _I)
# "8 tonight", "7:30 this evening": a bare hour before an evening is that evening's hour
_BEFORE_EVENING = re.compile(r"(?<![\d:.])\b(?P<dh>" + _HOUR + r")(?::(?P<dm>[0-5]\d))?"
                             r"\s+(?=tonight\b|this\s+evening\b|tomorrow\s+(?:morning|afternoon|evening|night)\b)", _I)
# what may follow a clock time: its part of the day ("at 8 in the evening")
_PART_AFTER = re.compile(r"\s+(?:in\s+the\s+)?(?P<part>morning|afternoon|evening|night)\b", _I)
_PART_BEFORE = re.compile(r"\b(?:in\s+the\s+)?(?P<part>morning|afternoon|evening|night)\s+$", _I)
# what may precede one: minutes before or after it ("a quarter past 3pm", "20 to noon")
_OFFSET_BEFORE = re.compile(r"\b(?:at\s+)?(?P<off>" + _OFFSET_WORD + r"|half|\d{1,2})"
                            r"\s+(?:minutes?\s+)?(?P<dir>past|after|to|till|before)\s+$", _I)
_RANGE = re.compile(r"\b(?:between|from)\s+" + _clock("s") + r"(?:\s?" + _ampm("sap") + r")?"
                    r"\s*(?:and|to|till|until|-)\s*" + _clock("e") + r"(?:\s?" + _ampm("eap") + r")?"
                    r"(?!\d|\s*[-/]\s*\d)", _I)  # "from 2014-10-02" is a date, not 20:14 to 10
# "mon", "wed", "sat" and "sun" are everyday words: weekdays only before a comma and a month ("Sat, Sep 21")
_SHORT_BEFORE_DATE = r"(?:mon|wed|sat|sun)(?=\.?,\s*(?:" + _MONTH + r"))"
_DAY = re.compile(
    r"\b(?:(?P<rel>today|tonight|tomorrow|tmrw|yesterday|(?:the\s+)?day\s+after\s+tomorrow"
    r"|(?:the\s+)?day\s+before\s+yesterday|this\s+evening)"
    r"|(?:(?P<which>on|this|next|last)\s+)?(?P<wd>" + _WEEKDAY + r"|" + _SHORT_BEFORE_DATE + r")(?!\w)"
    r"(?:\s+(?P<after>after\s+next)|\s+(?:of\s+)?(?P<week>this|next|last)\s+week)?)"
    r"(?:\s+(?:in\s+the\s+)?(?P<part>morning|afternoon|evening|night))?",
    _I)
_NOW = re.compile(r"\b(?:right\s+|just\s+)?now\b", _I)
_RELATIVE = re.compile(
    r"\b(?:(?P<in>in)\s+(?:about\s+|around\s+|approximately\s+)?)?"
    r"(?:(?P<half>half\s+an|an?\s+half|a\s+quarter\s+of\s+an|three[- ]quarters\s+of\s+an|[13]/4|1/2)\s*(?P<hu>hour|h)\b"
    r"|(?P<n>\d+(?:\.\d+)?|" + "|".join(sorted(map(re.escape, _SMALL), key=len, reverse=True)) + r")"
    r"(?P<ah>\s+and\s+(?:an?\s+)?half)?\s*(?:more\s+)?(?P<u>sec|second|min|minute|hr|hour|day|week|fortnight|month|year|yr|h(?=\b))s?\b)"
    r"(?:\s+(?P<dir>ago|from\s+(?:right\s+)?now|from\s+today|hence|later))?",
    _I)
_PERIOD = re.compile(r"\b(?:the\s+)?(?P<which>this|next|last|previous|past|current|coming|following)\s+"
                     r"(?P<u>week|month|quarter|qtr|year|yr)\b", _I)
# "this weekend", "next week-end", "over the weekend": Duckling's interval from Friday 18:00 to Monday,
# told by where it starts (grain hour); plain "weekend(s)" is the next one, or the one under way
_WEEKEND = re.compile(r"\b(?:on\s+)?(?:the\s+)?(?:(?P<which>this|next|last|past|previous|coming"
                      r"|following)\s+)?(?:week[\s-]?ends?|wkends?)\b", _I)
_WEEKEND_WORDS = frozenset({"weekend", "weekends", "week", "wkend", "wkends"})
_WEEKEND_SHIFT: dict[str, int | None] = {"next": None, "coming": None, "following": 1, "last": -1, "past": -1,
                                         "previous": -1}
_QUARTER = re.compile(r"\b(?:the\s+)?(?P<n>1st|2nd|3rd|4th|first|second|third|fourth)\s+(?:quarter|qtr)\b"
                      r"(?:\s+(?:of\s+)?(?P<y>\d{4})\b)?", _I)
# "the 15th", "on the 3rd" (not "the 3rd floor": a noun after it makes it a rank)
_DAY_OF_MONTH = re.compile(
    r"\b(?:on\s+)?the\s+(?P<d>\d{1,2}(?:st|nd|rd|th)|" + "|".join(_ORDINAL_WORDS) + r")\b"
    r"(?!\s+(?:of\s+)?(?:" + _MONTH + r"|(?:this|next|last|the)\s+month)\b)"
    r"(?!\s+(?:qtr|quarter|week|weekend|time|times|floor|place|row|item|option|choice|one|person|attempt|try"
    r"|day|days|street|st|avenue|ave|edition|grade|century|year|month|line|page|chapter)\b)",
    _I)
_MONTH_DAY = re.compile(
    r"\b(?P<mon>" + _MONTH + r")\.?\s+(?:the\s+)?(?P<d>" + _DAY_NUMBER + r")\b(?:,?\s+(?P<y>\d{4})\b)?", _I)
_DAY_MONTH = re.compile(
    r"\b(?:the\s+)?(?P<d>" + _DAY_NUMBER + r")\s+(?:of\s+)?(?P<mon>" + _MONTH + r")\b\.?(?:,?\s+(?P<y>\d{4})\b)?", _I)
# "the first tuesday of october", "last Monday of March 2014", "third day of october", "last week of
# september 2014"
_NTH_WEEKDAY = re.compile(
    r"\b(?:the\s+)?(?P<nth>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\s+"
    r"(?P<wd>" + "|".join(_WEEKDAYS) + r"|day|week)"
    r"\s+(?:of|in)\s+(?P<mon>" + _MONTH + r")\b(?:,?\s+(?P<y>\d{4})\b)?", _I)
# "2/15", "10/31/74": month first, as Duckling's English reads it (day first when the month cannot be)
_NUMERIC_DATE = re.compile(
    r"(?<![\w/.-])(?:(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?"
    r"|(?P<a2>\d{1,2})-(?P<b2>\d{1,2})-(?P<y2>\d{4}|\d{2}))(?![\w/-])"
    r"(?!\s*(?:h\b|hrs?\b|hours?|mins?\b|minutes?|cups?|gallons?|liters?|litres?|of\b|support|service))")
_FOUR_DIGITS = re.compile(r"\d{4}")
# "in 2014" (English; "en 2014" in French), and a month in digits with its year: "2014-10", "10/2014"
YEAR_OR_MONTH = re.compile(
    r"(?:\b(?:in|en)\s+(?P<y3>(?:19|20|21)\d{2})\b(?!\s*[-/:.,]?\d)"
    r"|(?<![\w/.-])(?:(?P<y>(?:19|20|21)\d{2})[-/](?P<m>\d{1,2})|(?P<m2>\d{1,2})/(?P<y2>(?:19|20|21)\d{2}))"
    r"(?![\w/.-]|[.,]\d))", _I)


def year_or_month(m: re.Match[str], now: datetime) -> tuple[datetime, str] | None:
    """A YEAR_OR_MONTH match: "in 2014" is that year, "2014-10", "2014/10" and "10/2014" are that month
    (dateparser read them as a day: today's day of that month)."""
    year = int(m.group("y") or m.group("y2") or m.group("y3"))
    month = int(m.group("m") or m.group("m2") or 1)
    if not 1 <= month <= 12:
        return None
    return _midnight(now).replace(year=year, month=month, day=1), "month" if m.group("m") or m.group("m2") else "year"


_MONTH_ONLY = re.compile(
    r"\b(?:(?P<which>in|next|this|last)\s+(?P<mon>" + _MONTH + r")|(?P<mon2>" + _MONTH_ALONE_OK + r")"
    r"|(?P<mon3>" + _MONTH + r")(?=\s+\d{4}\b))\b(?:\s+(?P<y>\d{4})\b)?(?!\s*\d)", _I)

# "Tuesday 19th", "Thu 15th": the next such day of a month that falls on that weekday (Duckling's reading)
_WEEKDAY_DAY = re.compile(r"\b(?P<wd>" + _WEEKDAY + r")\.?,?\s+(?P<d>\d{1,2}(?:st|nd|rd|th))\b"
                          r"(?!\s+(?:of\s+)?(?:" + _MONTH + r")\b)", _I)
# "the 20th of next month", "20 of the current month", "the 3rd of last month"
_DAY_OF_PERIOD = re.compile(r"\b(?:the\s+)?(?P<d>\d{1,2}(?:st|nd|rd|th)?|" + "|".join(_ORDINAL_WORDS) + r")\s+of\s+"
                            r"(?:the\s+)?(?P<which>next|this|current|last|previous|following|coming)\s+month\b", _I)
_PART_OF_MONTH = re.compile(r"\b(?:day|week|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
                            r"\s+(?:of|in)\s+$", _I)
_LETTERS = re.compile(r"[a-z]+")
_DIGIT = re.compile(r"\d")
_DAY_WORDS = frozenset({*_WEEKDAYS, "tue", "tues", "thu", "thur", "thurs", "fri", "mon", "wed", "sat", "sun",
                        "today", "tonight", "tomorrow", "tmrw", "yesterday", "evening"})
_UNIT_WORDS = frozenset({*(w + plural for w in _UNIT_OF for plural in ("", "s")), "half", "quarter"})
_MONTH_WORDS = frozenset({*_MONTHS, *(m[:3] for m in _MONTHS), "sept"})
_CLOCK_WORDS = frozenset({*_HOUR_WORDS, "noon", "midday", "midnight", "oclock", "clock"})
_PERIOD_WORDS = frozenset({"week", "month", "quarter", "qtr", "year", "yr"})
# a message needs a digit or one of these words to hold a time this module reads
# a holiday's date in a given year (month, day): fixed, the nth weekday of a month, or Easter's
HolidayDate = Callable[[int], tuple[int, int]]


def on_date(month: int, day: int) -> HolidayDate:
    return lambda year: (month, day)


def nth_weekday(month: int, weekday: int, nth: int) -> HolidayDate:
    """The `nth` (-1: the last) `weekday` (Monday 0) of `month`: Thanksgiving is the 4th Thursday of November."""
    return lambda year: (month, _month_days(year, month, weekday)[nth - 1 if nth > 0 else -1])


def after_easter(days: int) -> HolidayDate:
    """Easter Sunday moved by `days` (Good Friday is -2), Western reckoning."""
    def date(year: int) -> tuple[int, int]:
        when = easter(year) + timedelta(days=days)
        return when.month, when.day
    return date


class Holidays:
    """Holidays by name ("christmas", "thanksgiving", "le jour de l'an"): the next one, today's included.
    An apostrophe may be left out ("new years eve"), so the names are written once, with it."""

    def __init__(self, dates: dict[str, tuple[int, int] | HolidayDate], words: Iterable[str]) -> None:
        self._dates = {self._key(name): on_date(*date) if isinstance(date, tuple) else date
                       for name, date in dates.items()}
        self.words = frozenset(words)  # a word each name holds, and few other messages do
        alternatives = "|".join(sorted((re.escape(n).replace(r"\ ", r"\s+").replace("'", "['’]?") for n in dates),
                                       key=len, reverse=True))
        self._pattern = re.compile(rf"\b(?:on\s+)?(?P<h>{alternatives})(?![\w'’])", _I)

    @staticmethod
    def _key(name: str) -> str:
        return " ".join(re.sub("['’]", "", name.lower()).split())

    def read(self, text: str, words: Iterable[str], now: datetime) -> list[tuple[int, int, datetime]]:
        if self.words.isdisjoint(words):
            return []
        out = []
        today = _midnight(now)
        for m in self._pattern.finditer(text):
            date = self._dates[self._key(m.group("h"))]
            for year in (now.year, now.year + 1):
                month, day = date(year)
                if (value := today.replace(year=year, month=month, day=day)) >= today:
                    out.append((m.start(), m.end(), value))
                    break
        return out


_MON, _SUN, _THU = 0, 6, 3
HOLIDAYS = Holidays(
    {"christmas": (12, 25), "christmas day": (12, 25), "xmas": (12, 25), "christmas eve": (12, 24),
     "new year's eve": (12, 31), "new year's day": (1, 1), "valentine's day": (2, 14), "valentine day": (2, 14),
     "halloween": (10, 31), "st patrick's day": (3, 17), "st. patrick's day": (3, 17),
     "saint patrick's day": (3, 17), "independence day": (7, 4), "boxing day": (12, 26),
     # holidays that move (United States' federal ones where Duckling reads them so)
     "thanksgiving": nth_weekday(11, _THU, 4), "thanksgiving day": nth_weekday(11, _THU, 4),
     "black friday": lambda year: (11, nth_weekday(11, _THU, 4)(year)[1] + 1),
     "mother's day": nth_weekday(5, _SUN, 2), "father's day": nth_weekday(6, _SUN, 3),
     "memorial day": nth_weekday(5, _MON, -1), "labor day": nth_weekday(9, _MON, 1),
     "labour day": nth_weekday(9, _MON, 1), "columbus day": nth_weekday(10, _MON, 2),
     "martin luther king day": nth_weekday(1, _MON, 3), "martin luther king jr day": nth_weekday(1, _MON, 3),
     "mlk day": nth_weekday(1, _MON, 3), "presidents' day": nth_weekday(2, _MON, 3),
     "president's day": nth_weekday(2, _MON, 3), "washington's birthday": nth_weekday(2, _MON, 3),
     "easter": after_easter(0), "easter sunday": after_easter(0), "easter monday": after_easter(1),
     "good friday": after_easter(-2), "palm sunday": after_easter(-7), "ash wednesday": after_easter(-46),
     "pentecost": after_easter(49)},
    {"christmas", "xmas", "year", "years", "valentine", "valentines", "halloween", "patrick", "patricks",
     "independence", "boxing", "thanksgiving", "mother", "mothers", "father", "fathers", "memorial", "labor",
     "labour", "columbus", "luther", "mlk", "presidents", "president", "washington", "washingtons", "easter",
     "pentecost", "friday", "sunday", "wednesday"})  # weekdays: "good friday", "palm sunday", "ash wednesday"
WORDS = (_DAY_WORDS | _UNIT_WORDS | _MONTH_WORDS | _CLOCK_WORDS | _PERIOD_WORDS | _WEEKEND_WORDS
         | {"now", *_ORDINAL_WORDS} | HOLIDAYS.words)


# ------------------------------------------------------------------------------------ calendar maths


def _midnight(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _add_months(when: datetime, months: int) -> datetime:
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def _truncate(when: datetime, grain: str) -> datetime:
    if grain == "second":
        return when.replace(microsecond=0)
    if grain == "minute":
        return when.replace(second=0, microsecond=0)
    if grain == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    if grain == "month":
        return _midnight(when).replace(day=1)
    return _midnight(when)


def _number(raw: str) -> int:
    word = raw.lower()
    return _HOUR_WORDS.get(word) or _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))


def _month_of(raw: str) -> int:
    return next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(raw.lower()[:3]))


def _hours(hour: int, ampm: str | None, part: str | None) -> list[int]:
    """The hours of the day a clock hour can mean: explicit am/pm, a part of the day, or both halves."""
    if ampm:
        return [hour % 12 + (12 if ampm.lower().startswith("p") else 0)]
    if hour >= 13 or hour == 0:
        return [hour]
    if part and part.lower() in ("afternoon", "evening", "night"):
        return [hour % 12 + 12]
    if part:  # morning
        return [hour % 12]
    return [hour % 12, hour % 12 + 12]


def _offset_hour(m: re.Match[str], hour: int) -> tuple[int, int]:
    """The hour and minute of an `_OFFSET_HOUR` match: "a quarter to five" is 4:45 (on either half of
    the day, like "4:45"; "a quarter to one" is 12:45)."""
    if m.group("qpast"):
        return hour, _offset_minutes(m.group("qpast"))
    delta = _offset_minutes(m.group("qoff"))
    if m.group("qdir").lower() in ("past", "after"):
        return hour, delta
    before = (hour - 1) % 24
    return (12 if before == 0 and hour <= 12 else before), 60 - delta


def _weekday_index(written: str) -> int:
    """Monday is 0: "tues", "Thu." and "friday" are their days."""
    return next(i for i, name in enumerate(_WEEKDAYS) if name.startswith(written.lower().rstrip(".")[:3]))


def _day(m: re.Match[str], now: datetime) -> datetime:
    rel = " ".join((m.group("rel") or "").lower().split())
    today = _midnight(now)
    if rel:
        shift = {"today": 0, "tonight": 0, "this evening": 0, "tomorrow": 1, "tmrw": 1, "yesterday": -1}.get(rel)
        if shift is None:
            shift = 2 if "after" in rel else -2
        return today + timedelta(days=shift)
    target = _weekday_index(m.group("wd"))
    week = (m.group("week") or "").lower()
    if week:  # "wednesday of next week": that day of that week
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(weeks={"this": 0, "next": 1, "last": -1}[week], days=target)
    if (m.group("which") or "").lower() == "last":
        return _last_weekday(today, target)
    day = _next_weekday(today, target)
    return day + timedelta(weeks=1) if m.group("after") else day


def _at(day: datetime | None, hours: list[int], minute: int, now: datetime) -> datetime:
    """On `day`, the first of `hours`; without a day, the next of them from `now` on."""
    if day is not None:
        return day.replace(hour=min(hours), minute=minute)
    today = _midnight(now)
    options = sorted(today + timedelta(days=d, hours=h, minutes=minute) for d in (0, 1) for h in hours)
    return next(t for t in options if t >= now.replace(second=0, microsecond=0))


def _next_month_day(now: datetime, month: int, day: int, year: int | None) -> datetime | None:
    """The date `day` of `month`: in `year`, else its next occurrence (Feb 29 waits for a leap year)."""
    if year is not None:
        return _midnight(now).replace(year=year, month=month, day=day) if (
            1 <= day <= calendar.monthrange(year, month)[1]) else None
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:  # not even in a leap year
        return None
    for y in range(now.year, now.year + 9):
        if day <= calendar.monthrange(y, month)[1]:
            value = _midnight(now).replace(year=y, month=month, day=day)
            if value >= _midnight(now):
                return value
    return None


def weekend_start(now: datetime, shift: int | None) -> datetime:
    """Friday 18:00 of the weekend under way (Friday evening to Sunday) or else the next one, moved by
    `shift` weekends; None is Duckling's "next": the first weekend not under way (on a Tuesday, the
    coming one, as "next wednesday" is tomorrow)."""
    today = _midnight(now)
    start = (today + timedelta(days=4 - today.weekday())).replace(hour=18)  # a past one from Saturday on
    if shift is None:
        shift = 1 if start <= now else 0
    return start + timedelta(weeks=shift)


def _next_weekday(today: datetime, target: int) -> datetime:
    """The next `target` weekday (Monday 0) after `today`: a Tuesday's "tuesday" is next week's."""
    return today + timedelta(days=(target - today.weekday()) % 7 or 7)


def _last_weekday(today: datetime, target: int) -> datetime:
    return today - timedelta(days=(today.weekday() - target) % 7 or 7)


def _next_day_of_month(now: datetime, day: int, weekday: int | None = None) -> datetime | None:
    """The next `day` of a month from today on, this month included ("the 15th"), skipping months
    without it ("the 31st"); with `weekday`, the next one falling on that day ("jeudi 15")."""
    first = _midnight(now).replace(day=1)
    for ahead in range(28 if weekday is not None else 13):
        month = _add_months(first, ahead)
        if not 1 <= day <= calendar.monthrange(month.year, month.month)[1]:
            continue
        value = month.replace(day=day)
        if value >= _midnight(now) and (weekday is None or value.weekday() == weekday):
            return value
    return None


def _next_month_start(now: datetime, month: int, year: int | None = None, last: bool = False) -> datetime:
    """The first day of `month`: in `year`, else the next such month (this one included), or with
    `last` the one before (this one included)."""
    first = _midnight(now).replace(day=1)
    if year is not None:
        return first.replace(year=year, month=month)
    if last:
        return first.replace(month=month, year=first.year - (1 if month >= first.month else 0))
    return first.replace(month=month, year=first.year + (1 if month < first.month else 0))


def _period_start(now: datetime, unit: str, shift: int) -> datetime:
    """The first day of this week (Monday), month, quarter or year, or of the one `shift` away."""
    today = _midnight(now)
    if unit == "quarter":
        return _add_months(today.replace(day=1, month=(today.month - 1) // 3 * 3 + 1), 3 * shift)
    if unit == "week":
        return today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
    if unit == "month":
        return _add_months(today.replace(day=1), shift)
    return today.replace(year=today.year + shift, month=1, day=1)


def _year(raw: str | None, now: datetime) -> int | None:
    """A written year; two digits are the nearest such year (74 is 1974 in 2013, 14 is 2014)."""
    if not raw:
        return None
    year = int(raw)
    if len(raw) == 2:
        year += 2000 if 2000 + year <= now.year + 50 else 1900
    return year


def _nth_weekday(now: datetime, m: re.Match[str]) -> datetime | None:
    """"the first tuesday of october", "the third day of october", "the last week of september"."""
    nth = -1 if m.group("nth").lower() == "last" else _number(m.group("nth"))
    kind = m.group("wd").lower()
    return nth_in_month(now, _month_of(m.group("mon")), kind if kind in ("day", "week") else _WEEKDAYS.index(kind),
                        nth, int(m.group("y")) if m.group("y") else None)


def _month_days(year: int, month: int, kind: str | int) -> list[int]:
    """The days of `month` that are of `kind`: "day" (all), "week" (the Mondays of weeks wholly inside it)
    or a weekday (Monday 0)."""
    length = calendar.monthrange(year, month)[1]
    if kind == "day":
        return list(range(1, length + 1))
    if kind == "week":
        return [d for d in range(1, length - 5) if datetime(year, month, d).weekday() == 0]
    return [d for d in range(1, length + 1) if datetime(year, month, d).weekday() == kind]


def nth_in_month(now: datetime, month: int, kind: str | int, nth: int, year: int | None) -> datetime | None:
    """The `nth` (-1: the last) day, week or weekday (`kind`: "day", "week" or a weekday, Monday 0) of
    `month`: in `year`, else in the next such month (this one included). A month's weeks are the
    Monday-to-Sunday weeks wholly inside it, as Duckling counts them ("first week of october 2014" is the 6th)."""
    years = [year] if year is not None else [now.year, now.year + 1]
    for year in years:
        days = _month_days(year, month, kind)
        if nth > len(days):  # no fifth Monday this February: the next month that has one
            continue
        value = _midnight(now).replace(year=year, month=month, day=days[nth - 1 if nth > 0 else -1])
        if len(years) == 1 or value >= _midnight(now) - timedelta(days=6 if kind == "week" else 0):
            return value
    return None


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= s or e <= start for s, e in taken)


# --------------------------------------------------------------------------------------------- rules


class _Reader:
    """One message: the rules in order, each taking what the ones before left."""

    def __init__(self, text: str, now: datetime) -> None:
        self.text, self.now = text, now
        self.out: list[Time] = []
        self.taken: list[tuple[int, int]] = []
        # each rule runs only when the message holds what it needs (a digit, a day's name...): most
        # messages hold none, and a dozen regular expressions on every message add up
        self.words = set(_LETTERS.findall(text.lower()))
        self.dated: list[tuple[int, int, datetime]] = []  # dates read, before clock times may join them
        self.digit = _DIGIT.search(text) is not None

    def scan(self, regex: re.Pattern[str], needs_digit: bool,
             needs: frozenset[str] | None = None) -> list[re.Match[str]]:
        if needs_digit and not self.digit and (needs is None or self.words.isdisjoint(needs)):
            return []
        if not needs_digit and needs is not None and self.words.isdisjoint(needs):
            return []
        return [m for m in regex.finditer(self.text) if _free(self.taken, m.start(), m.end())]

    def add(self, start: int, end: int, value: datetime, grain: str) -> None:
        self.out.append((start, end, value, grain))
        self.taken.append((start, end))

    def ranges(self) -> None:
        """A span of clock times: where it starts, with the end's am/pm if the start has none."""
        for m in self.scan(_RANGE, True):
            start_hour, end_hour = _number(m.group("sh")), _number(m.group("eh"))
            if start_hour > 23 or end_hour > 24:
                continue
            end_ampm = m.group("eap")
            ampm = m.group("sap") or (end_ampm if end_ampm and start_hour % 12 <= end_hour % 12 else None)
            self.add(m.start(), m.end(), _at(None, _hours(start_hour, ampm, None), int(m.group("sm") or 0), self.now),
                     "minute" if m.group("sm") else "hour")

    def clocks(self, days: list[re.Match[str]]) -> None:
        found: list[tuple[int, int, int, int | None, str | None]] = []  # start, end, hour, minute, am/pm
        rules: list[tuple[re.Pattern[str], str, tuple[str, ...], str | None, bool, frozenset[str] | None]] = [
            (_HALF, "fh", (), "fap", False, frozenset({"half"})),  # before "two pm" is read in "half two pm"
            (_EXPLICIT, "ah", ("am", "aw"), "ap", True, frozenset(_HOUR_WORDS)),
            (_AT, "bh", ("bm", "bm2", "bw", "bm3"), "bap", True, frozenset(_HOUR_WORDS)),
            (_OCLOCK, "oh", (), "oap", False, frozenset({"oclock", "clock"})),
            (_BARE, "ch", ("cm",), None, True, None),
            (_BEFORE_EVENING, "dh", ("dm",), None, True, frozenset(_HOUR_WORDS)),
            (_NOON, "nw", (), None, False, frozenset({"noon", "midday", "midnight"})),
            (_OFFSET_HOUR, "qh", (), None, False, frozenset({"past", "after", "to", "till", "before"})),
        ]
        for regex, h, mins, ap, needs_digit, needs in rules:
            for m in self.scan(regex, needs_digit, needs):
                if any(c[0] < m.end() and m.start() < c[1] for c in found):
                    continue
                if regex is _NOON:  # noon is 12 pm; midnight 12 am, the next one
                    found.append((m.start(), m.end(), 12, None, "am" if m.group(h).lower() == "midnight" else "pm"))
                    continue
                written = next((m.group(g) for g in mins if m.group(g)), None)
                hour, ampm = _number(m.group(h)), m.group(ap) if ap else None
                if hour > 23 or (ampm and (hour > 12 or (len(ampm) == 1 and written is None))):
                    continue  # "13pm"; "3 a" is no time, "3:15p" is
                minute = None if written is None else int(written) if written.isdigit() else _MINUTE_WORDS[
                    " ".join(written.lower().replace("-", " ").split())]
                if regex is _HALF:
                    minute = 30
                elif regex is _OFFSET_HOUR:
                    hour, minute = _offset_hour(m, hour)
                found.append((m.start(), m.end(), hour, minute, ampm))
        for start, end, hour, minute, ampm in sorted(found):
            self._clock(days, start, end, hour, minute, ampm)

    def _clock(self, days: list[re.Match[str]], start: int, end: int, hour: int, minute: int | None,
               ampm: str | None) -> None:
        text, now = self.text, self.now
        part = None
        after = _PART_AFTER.match(text, end)
        if after is not None and not ampm:
            part, end = after.group("part"), after.end()
        offset = _OFFSET_BEFORE.search(text[:start]) if minute is None else None
        day_match = next((d for d in days if _free(self.taken, d.start(), d.end()) and _adjacent(text, d, start, end)),
                         None)
        date = next((d for d in self.dated if _joined(text, (d[0], d[1]), (start, end), _BETWEEN)),
                    None) if day_match is None else None
        if day_match is not None and day_match.group("wd"):  # "at 7:30 PM on Fri, Sep 20": the date's weekday
            date = next((d for d in self.dated if day_match.end() <= d[0]
                         and _NEXT_TO.match(text[day_match.end():d[0]])), None)
            if date is not None:
                start, end, day_match = min(start, day_match.start()), max(end, day_match.end()), None
        before = _PART_BEFORE.search(text[:start]) if day_match is None and part is None and not ampm else None
        if before is not None:  # "in the evening at eight"
            part, start = before.group("part"), before.start()
        if day_match is not None:
            part = part or day_match.group("part")
            if " ".join((day_match.group("rel") or "").lower().split()) in ("tonight", "this evening"):
                part = part or "evening"
        hours, minutes = _hours(hour, ampm, part), minute or 0
        if date is not None:  # "Dec 24 at 7pm", "4/25 at 4:00pm"
            self.dated.remove(date)
            value = _at(date[2], hours, minutes, now)
            start, end = min(start, date[0]), max(end, date[1])
        elif day_match is None:
            value = _at(None, hours, minutes, now)
        else:
            day = _day(day_match, now)
            upcoming = [day.replace(hour=h, minute=minutes) for h in sorted(hours)
                        if day.replace(hour=h, minute=minutes) >= now.replace(second=0, microsecond=0)]
            # today: the next of its hours still to come; another day: its first
            value = upcoming[0] if day == _midnight(now) and upcoming else _at(day, hours, minutes, now)
            start, end = min(start, day_match.start()), max(end, day_match.end())
        grain = "minute" if minute is not None else "hour"
        if offset is not None:  # "a quarter past 3pm", "20 to noon"
            delta = _offset_minutes(offset.group("off"))
            value += timedelta(minutes=delta if offset.group("dir").lower() in ("past", "after") else -delta)
            start, grain = offset.start(), "minute"
        self.add(start, end, value, grain)

    def relative(self) -> None:
        """"in 2 hours", "3 days ago", "a week from now": truncated to the unit below (Duckling's grain)."""
        for m in self.scan(_RELATIVE, False, _UNIT_WORDS):
            future, direction = bool(m.group("in")), (m.group("dir") or "").lower()
            if future == bool(direction):
                continue  # "2 days" alone is a duration; "in 2 days ago" is nothing
            if m.group("half"):
                half = m.group("half").lower()
                amount = 45.0 if half.startswith(("three", "3/4")) else (
                    15.0 if "quarter" in half or half == "1/4" else 30.0)
                unit = "minute"
            else:
                raw = " ".join(m.group("n").lower().split())
                amount = float(raw) if raw[0].isdigit() else float(_SMALL[raw])
                unit = _UNIT_OF[m.group("u").lower()]
                if m.group("ah"):  # Duckling's "<integer> and a half hours"; no other unit
                    if unit != "hour" or amount != int(amount):
                        continue
                    amount += 0.5
                if m.group("u").lower() == "fortnight":
                    amount, unit = amount * 14, "day"
            if direction == "ago":
                amount = -amount
            if unit in ("month", "year") and amount != int(amount):
                continue  # "in 1.5 months": no such calendar arithmetic
            try:
                value = (_add_months(self.now, int(amount) * (12 if unit == "year" else 1)) if unit in ("month", "year")
                         else self.now + timedelta(seconds=amount * _UNIT_SECONDS[unit]))
            except (OverflowError, ValueError):  # "in 9300165 days": past the calendar's end
                continue
            if amount != int(amount):  # "in 2.5 hours" is 150 minutes: its grain is below the minute
                unit = {"hour": "minute", "day": "hour", "week": "day"}.get(unit, "second")
            grain = _GRAIN_BELOW[unit]
            if direction.endswith("right now"):  # "a day from right now": to the second
                grain = "second"
            elif direction.endswith("today"):  # "3 years from today": that day
                grain = "day"
            if unit in ("day", "week", "month", "year") and self._with_clock(m.start(), m.end(), value):
                continue
            self.add(m.start(), m.end(), _truncate(value, grain), grain)

    def _with_clock(self, start: int, end: int, day: datetime) -> bool:
        """A clock time read next to "in 7 days" ("in 7 days at 5pm", "at 7 in 3 years") is on that day."""
        for i, (s, e, value, grain) in enumerate(self.out):
            if grain in ("hour", "minute") and _joined(self.text, (start, end), (s, e), _BETWEEN):
                self.out[i] = (min(s, start), max(e, end), day.replace(hour=value.hour, minute=value.minute,
                                                                       second=0, microsecond=0), grain)
                self.taken.append((start, end))
                return True
        return False

    def years_and_months(self) -> None:
        if not self.digit or _FOUR_DIGITS.search(self.text) is None:  # every form has a year in digits
            return
        for m in self.scan(YEAR_OR_MONTH, True):
            if (read := year_or_month(m, self.now)) is not None:
                self.add(m.start(), m.end(), *read)

    def periods(self) -> None:
        for m in self.scan(_PERIOD, False, _PERIOD_WORDS):
            which, unit = m.group("which").lower(), _UNIT_OF[m.group("u").lower()]
            shift = {"this": 0, "current": 0, "coming": 0, "next": 1, "following": 1, "last": -1, "previous": -1,
                     "past": -1}[which]
            self.add(m.start(), m.end(), _period_start(self.now, unit, shift), unit)

    def weekends(self) -> None:
        for m in self.scan(_WEEKEND, False, _WEEKEND_WORDS):
            which = (m.group("which") or "").lower()
            self.add(m.start(), m.end(), weekend_start(self.now, _WEEKEND_SHIFT.get(which, 0)), "hour")

    def quarters(self) -> None:
        for m in self.scan(_QUARTER, False, frozenset({"quarter", "qtr"})):
            n = _number(m.group("n"))
            year = int(m.group("y")) if m.group("y") else self.now.year
            self.add(m.start(), m.end(), _midnight(self.now).replace(year=year, month=3 * n - 2, day=1), "quarter")

    def collect_dates(self) -> None:
        """Dates, kept aside: a clock time next to one is that date's ("Dec 24 at 7pm")."""
        def keep(m: re.Match[str], value: datetime | None) -> None:
            if value is not None and all(e <= m.start() or m.end() <= s for s, e, _ in self.dated):
                self.dated.append((m.start(), m.end(), value))

        for m in self.scan(_NTH_WEEKDAY, False, _MONTH_WORDS):
            if m.group("wd").lower() != "week":
                keep(m, _nth_weekday(self.now, m))
            elif (week := _nth_weekday(self.now, m)) is not None:  # no clock time joins a week
                self.add(m.start(), m.end(), week, "week")

        for regex in (_MONTH_DAY, _DAY_MONTH) if not self.words.isdisjoint(_MONTH_WORDS) else ():
            for m in self.scan(regex, True, frozenset(_ORDINAL_WORDS)):
                keep(m, _next_month_day(self.now, _month_of(m.group("mon")), _number(m.group("d")),
                                        int(m.group("y")) if m.group("y") else None))
        for m in self.scan(_NUMERIC_DATE, True):
            a, b = int(m.group("a") or m.group("a2")), int(m.group("b") or m.group("b2"))
            month, day = (a, b) if 1 <= a <= 12 else (b, a)
            if 1 <= month <= 12:
                keep(m, _next_month_day(self.now, month, day, _year(m.group("y") or m.group("y2"), self.now)))
        for m in self.scan(_WEEKDAY_DAY, True) if not self.words.isdisjoint(_DAY_WORDS) else ():
            keep(m, _next_day_of_month(self.now, _number(m.group("d")), weekday=_weekday_index(m.group("wd"))))
        for m in self.scan(_DAY_OF_PERIOD, False, frozenset({"month"})):
            which = m.group("which").lower()
            first = _period_start(self.now, "month", 1 if which in ("next", "following", "coming") else
                                  -1 if which in ("last", "previous") else 0)
            nth = _number(m.group("d"))
            if 1 <= nth <= calendar.monthrange(first.year, first.month)[1]:
                keep(m, first.replace(day=nth))
        for m in self.scan(_DAY_OF_MONTH, True, frozenset(_ORDINAL_WORDS)):
            keep(m, _next_day_of_month(self.now, _number(m.group("d"))))

    def dates(self) -> None:
        for start, end, value in sorted(self.dated):
            if _free(self.taken, start, end):
                if (week := _WEEK_OF.search(self.text, 0, start)) is not None:
                    # the week the day is in, told by its Monday; a Sunday opens the next one: Duckling's
                    # "the week of october 6th" (a Sunday) and "… 7th" are both the week of Monday the 7th
                    shift = 1 if value.weekday() == 6 else -value.weekday()
                    self.add(week.start(), end, value + timedelta(days=shift), "week")
                    continue
                self.add(start, end, value, "day")
        for m in self.scan(_MONTH_ONLY, False, _MONTH_WORDS):
            if _PART_OF_MONTH.search(self.text[:m.start("mon") if m.group("mon") else m.start()]):
                continue  # "the third day of october" is a day this module does not read, not October
            month = _month_of(m.group("mon") or m.group("mon2") or m.group("mon3"))
            value = _next_month_start(self.now, month, int(m.group("y")) if m.group("y") else None,
                                      last=(m.group("which") or "").lower() == "last")
            self.add(m.start(), m.end(), value, "month")

    def lone_days(self, days: list[re.Match[str]]) -> None:
        """A day on its own ("tonight" alone is an evening, a span: left to dateparser). A weekday
        written next to a date ("Monday, Feb 18") names that date's day: the date is the time."""
        for d in days:
            rel = " ".join((d.group("rel") or "").lower().split())
            if not _free(self.taken, d.start(), d.end()) or d.group("part") or rel in ("tonight", "this evening"):
                continue
            named = next((i for i, (s, e, _, grain) in enumerate(self.out) if grain in ("day", "hour", "minute") and (
                (d.end() <= s and _NEXT_TO.match(self.text[d.end():s]))
                or (e <= d.start() and _NEXT_TO.match(self.text[e:d.start()])))), None) if d.group("wd") else None
            if named is not None:  # the date's entity covers its day name too
                s, e, value, grain = self.out[named]
                self.out[named] = (min(s, d.start()), max(e, d.end()), value, grain)
                self.taken.append((d.start(), d.end()))
                continue
            self.add(d.start(), d.end(), _day(d, self.now), "day")

    def holidays(self) -> None:
        for start, end, value in HOLIDAYS.read(self.text, self.words, self.now):
            if _free(self.taken, start, end):
                self.add(start, end, value, "day")

    def moments(self) -> None:
        for m in self.scan(_NOW, False, frozenset({"now"})):
            self.add(m.start(), m.end(), self.now.replace(microsecond=0), "second")


def find(text: str, now: datetime) -> list[Time]:
    reader = _Reader(text, now)
    days = reader.scan(_DAY, False, _DAY_WORDS)
    steps: list[Callable[[], None]] = [reader.ranges, reader.collect_dates, lambda: reader.clocks(days), reader.dates,
                                       reader.relative, reader.holidays, lambda: reader.lone_days(days),
                                       reader.years_and_months, reader.quarters, reader.weekends, reader.periods,
                                       reader.moments]
    for step in steps:
        step()
    return sorted(reader.out)


_BETWEEN = re.compile(r"^[\s,]*(?:on|at|for|,)?[\s,]*$", _I)
_WEEK_OF = re.compile(r"\b(?:the\s+)?week\s+of\s+$", _I)
_NEXT_TO = re.compile(r"^[\s,]*(?:the\s*)?$", _I)


def _adjacent(text: str, day: re.Match[str], start: int, end: int) -> bool:
    """Whether a day and a clock time are one expression ("tomorrow at 5", "at 9am on Saturday")."""
    return _joined(text, (day.start(), day.end()), (start, end), _BETWEEN)


def _joined(text: str, a: tuple[int, int], b: tuple[int, int], between: re.Pattern[str]) -> bool:
    """Whether two spans of `text` follow each other with only `between` (words such as "at") between."""
    if a[1] <= b[0]:
        return bool(between.match(text[a[1]:b[0]]))
    if b[1] <= a[0]:
        return bool(between.match(text[b[1]:a[0]]))
    return False
