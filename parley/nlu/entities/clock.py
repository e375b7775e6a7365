"""English times the way Duckling reads them, for what chat users type most: clock times, days, and
spans of time from now.

`dateparser` (used for everything else) reads many of these differently from Duckling, and Botpress
bots get Duckling's reading: "3pm" and "at 6" are times of the next such hour (dateparser finds none),
"at 5 tomorrow" is 5 o'clock (dateparser keeps the current time of day), a day is its midnight with
the grain `day`, "in 2 hours" is truncated to the minute, "next week" is its Monday with the grain
`week`, and "between 2 and 4pm" starts at 2 pm (dateparser reads February). The rules follow the
examples of Duckling's English corpus (reference: a Tuesday, 04:30).

`find(text, now)` returns (start, end, value, grain) tuples; `now` is aware (the user's zone).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

Time = tuple[int, int, datetime, str]  # (start, end, value, grain)

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a couple": 2,
          "couple of": 2, "a few": 3, "few": 3}
_UNIT_OF = {"sec": "second", "second": "second", "min": "minute", "minute": "minute", "hr": "hour",
            "hour": "hour", "day": "day", "week": "week", "month": "month", "year": "year"}
# Duckling's grain for "in <n> <unit>" and "<n> <unit> ago": the unit below
_GRAIN_BELOW = {"second": "second", "minute": "second", "hour": "minute", "day": "hour", "week": "day",
                "month": "day", "year": "month"}

_AMPM = r"(?P<{0}>[ap]\.?\s?m\b\.?)"
_CLOCK = r"(?P<{0}h>\d{{1,2}})(?:(?::|\.)(?P<{0}m>[0-5]\d))?"
# a number after "at" that is a measure, a price or a count, not a time
_NOT_A_TIME = (r"(?!\s*(?:%|percent|\$|€|£|dollars?|euros?|pounds?|cents?|km|kilomet|meters?|metres?|miles?"
               r"|kg|kilos?|grams?|lbs?|degrees?|°|years?|people|persons|guests|times|pieces|items))")
_EXPLICIT = re.compile(r"\b(?:(?:at|@|around)\s+)?" + _CLOCK.format("a") + r"\s?" + _AMPM.format("ap"),
                       re.IGNORECASE)
_AT = re.compile(r"\b(?:at|@|around)\s+(?P<bh>\d{1,2})(?::(?P<bm>[0-5]\d)|(?P<bm2>[0-5]\d))?\b(?![:.,]\d)"
                 + _NOT_A_TIME, re.IGNORECASE)
_BARE = re.compile(r"(?<![\d:.])\b(?P<ch>\d{1,2}):(?P<cm>[0-5]\d)\b(?![:.]\d)")
_NOON = re.compile(r"\b(?:(?:at|@|around)\s+)?(?P<nw>noon|midday|midnight)\b", re.IGNORECASE)
# "8 tonight", "7:30 this evening": a bare hour before an evening is that evening's hour
_BEFORE_EVENING = re.compile(r"(?<![\d:.])\b(?P<dh>\d{1,2})(?::(?P<dm>[0-5]\d))?\s+(?=tonight\b|this\s+evening\b)",
                             re.IGNORECASE)
_RANGE = re.compile(r"\b(?:between|from)\s+" + _CLOCK.format("s") + r"(?:\s?" + _AMPM.format("sap") + r")?"
                    r"\s*(?:and|to|till|until|-)\s*" + _CLOCK.format("e") + r"(?:\s?" + _AMPM.format("eap") + r")?",
                    re.IGNORECASE)
_DAY = re.compile(
    r"\b(?:(?P<rel>today|tonight|tomorrow|tmrw|yesterday|(?:the\s+)?day\s+after\s+tomorrow"
    r"|(?:the\s+)?day\s+before\s+yesterday|this\s+evening)"
    r"|(?:(?P<which>on|this|next|last)\s+)?(?P<wd>" + "|".join(_WEEKDAYS) + r"))\b"
    r"(?:\s+(?:in\s+the\s+)?(?P<part>morning|afternoon|evening|night))?",
    re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(?:(?P<in>in)\s+)?(?P<n>\d+|" + "|".join(sorted(map(re.escape, _SMALL), key=len, reverse=True)) + r")"
    r"\s+(?:more\s+)?(?P<u>sec|second|min|minute|hr|hour|day|week|month|year)s?\b"
    r"(?:\s+(?P<dir>ago|from\s+now|hence|later))?",
    re.IGNORECASE)
_PERIOD = re.compile(r"\b(?P<which>this|next|last|previous|coming)\s+(?P<u>week|month|year)\b", re.IGNORECASE)
_DAY_OF_MONTH = re.compile(
    r"\b(?:on\s+)?the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b"
    r"(?!\s+(?:of\s+)?(?:" + "|".join(m[:3] for m in _MONTHS) + r"|(?:this|next|last|the)\s+month))",
    re.IGNORECASE)
_MONTH_DAY = re.compile(
    r"\b(?P<mon>" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS) + r")\.?\s+(?:the\s+)?(?P<d>\d{1,2})"
    r"(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4})\b)?",
    re.IGNORECASE)


# a message without digits needs one of these words to hold a time this module reads
WORDS = frozenset({*_WEEKDAYS, *_MONTHS, *(m[:3] for m in _MONTHS), "today", "tonight", "tomorrow", "tmrw",
                   "yesterday", "day", "week", "month", "year", "hour", "minute", "second", "sec", "min", "hr",
                   "days", "weeks", "months", "years", "hours", "minutes", "seconds", "secs", "mins", "hrs",
                   "first", "evening", "noon", "midday", "midnight"})


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


def _day(m: re.Match[str], now: datetime) -> datetime:
    rel = (m.group("rel") or "").lower()
    today = _midnight(now)
    if rel:
        shift = {"today": 0, "tonight": 0, "this evening": 0, "tomorrow": 1, "tmrw": 1, "yesterday": -1}.get(
            " ".join(rel.split()))
        if shift is None:
            shift = 2 if "after" in rel else -2
        return today + timedelta(days=shift)
    target = _WEEKDAYS.index(m.group("wd").lower())
    if (m.group("which") or "").lower() == "last":
        return today - timedelta(days=(today.weekday() - target) % 7 or 7)
    return today + timedelta(days=(target - today.weekday()) % 7 or 7)


def _at(day: datetime | None, hours: list[int], minute: int, now: datetime) -> datetime:
    """On `day`, the first of `hours`; without a day, the next of them from `now` on."""
    if day is not None:
        return day.replace(hour=min(hours), minute=minute)
    today = _midnight(now)
    options = sorted(today + timedelta(days=d, hours=h, minutes=minute) for d in (0, 1) for h in hours)
    return next(t for t in options if t >= now.replace(second=0, microsecond=0))


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= s or e <= start for s, e in taken)


_LETTERS = re.compile(r"[a-z]+")
_DAY_WORDS = frozenset({*_WEEKDAYS, "today", "tonight", "tomorrow", "tmrw", "yesterday", "evening"})
_UNIT_WORDS = frozenset(w + plural for w in _UNIT_OF for plural in ("", "s"))
_MONTH_WORDS = frozenset({*_MONTHS, *(m[:3] for m in _MONTHS)})
_NOON_WORDS = frozenset({"noon", "midday", "midnight"})
_PERIOD_WORDS = frozenset({"week", "month", "year"})


def find(text: str, now: datetime) -> list[Time]:
    out: list[Time] = []
    taken: list[tuple[int, int]] = []
    # each rule runs only when the message holds what it needs (a digit, a day's name...): most
    # messages hold none, and a dozen regular expressions on every message add up
    words = set(_LETTERS.findall(text.lower()))
    digit = any(c.isdigit() for c in text)

    def scan(regex: re.Pattern[str], needs_digit: bool, needs: frozenset[str] | None = None) -> list[re.Match[str]]:
        if (needs_digit and not digit) or (needs is not None and words.isdisjoint(needs)):
            return []
        return list(regex.finditer(text))

    def add(start: int, end: int, value: datetime, grain: str) -> None:
        out.append((start, end, value, grain))
        taken.append((start, end))

    days = scan(_DAY, False, _DAY_WORDS)
    for m in scan(_RANGE, True):  # a span of time: where it starts, with the end's am/pm if it has none
        end_ampm = m.group("eap")
        start_hour, end_hour = int(m.group("sh")), int(m.group("eh"))
        if start_hour > 24 or end_hour > 24:
            continue
        ampm = m.group("sap") or (end_ampm if end_ampm and start_hour % 12 <= end_hour % 12 else None)
        add(m.start(), m.end(), _at(None, _hours(start_hour, ampm, None), int(m.group("sm") or 0), now),
            "minute" if m.group("sm") else "hour")
    clocks: list[tuple[int, int, int, int | None, str | None, bool]] = []  # start, end, hour, minute, am/pm
    for regex, h, mins, ap in ((_EXPLICIT, "ah", ("am",), "ap"), (_AT, "bh", ("bm", "bm2"), None),
                               (_BARE, "ch", ("cm",), None), (_BEFORE_EVENING, "dh", ("dm",), None),
                               (_NOON, "nw", (), None)):
        for m in scan(regex, regex is not _NOON, _NOON_WORDS if regex is _NOON else None):
            if not _free(taken, m.start(), m.end()) or any(c[0] < m.end() and m.start() < c[1] for c in clocks):
                continue
            written = next((m.group(g) for g in mins if m.group(g)), None)
            if regex is _NOON:  # noon is 12 pm; midnight 12 am, the next one
                clocks.append((m.start(), m.end(), 12, None, "am" if m.group(h).lower() == "midnight" else "pm", False))
                continue
            hour = int(m.group(h))
            if hour > 24 or (ap and hour > 12):
                continue
            clocks.append((m.start(), m.end(), hour, int(written) if written else None,
                           m.group(ap) if ap else None, written is not None))
    for start, end, hour, minute, ampm, has_minutes in sorted(clocks):
        day_match = next((d for d in days if _free(taken, d.start(), d.end()) and _adjacent(text, d, start, end)),
                         None)
        part = day_match.group("part") if day_match else None
        if day_match is not None and (day_match.group("rel") or "").lower() in ("tonight", "this evening"):
            part = part or "evening"
        hours, minutes = _hours(hour, ampm, part), minute or 0
        if day_match is None:
            value = _at(None, hours, minutes, now)
        else:
            day = _day(day_match, now)
            upcoming = [day.replace(hour=h, minute=minutes) for h in sorted(hours)
                        if day.replace(hour=h, minute=minutes) >= now.replace(second=0, microsecond=0)]
            # today: the next of its hours still to come; another day: its first
            value = upcoming[0] if day == _midnight(now) and upcoming else _at(day, hours, minutes, now)
        lo, hi = (min(start, day_match.start()), max(end, day_match.end())) if day_match else (start, end)
        add(lo, hi, value, "minute" if has_minutes else "hour")
    for m in scan(_RELATIVE, False, _UNIT_WORDS):
        future, direction = bool(m.group("in")), (m.group("dir") or "").lower()
        if future == bool(direction) or not _free(taken, m.start(), m.end()):
            continue  # "2 days" alone is a duration; "in 2 days ago" is nothing
        raw = m.group("n").lower()
        n = int(raw) if raw.isdigit() else _SMALL[" ".join(raw.split())]
        if direction == "ago":
            n = -n
        unit = _UNIT_OF[m.group("u").lower()]
        if unit in ("month", "year"):
            value = _add_months(now, n * (12 if unit == "year" else 1))
        else:
            value = now + timedelta(**{f"{unit}s": n})
        grain = _GRAIN_BELOW[unit]
        add(m.start(), m.end(), _truncate(value, grain), grain)
    for m in scan(_PERIOD, False, _PERIOD_WORDS):
        if not _free(taken, m.start(), m.end()):
            continue
        which, unit = m.group("which").lower(), m.group("u").lower()
        shift = {"this": 0, "coming": 0, "next": 1, "last": -1, "previous": -1}[which]
        if unit == "week":
            value = _midnight(now) - timedelta(days=now.weekday()) + timedelta(weeks=shift)
        elif unit == "month":
            value = _add_months(_midnight(now).replace(day=1), shift)
        else:
            value = _midnight(now).replace(year=now.year + shift, month=1, day=1)
        add(m.start(), m.end(), value, unit)
    for m in scan(_MONTH_DAY, True, _MONTH_WORDS):
        if not _free(taken, m.start(), m.end()):
            continue
        month = next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(m.group("mon").lower()[:3]))
        day_of_month = int(m.group("d"))
        if m.group("y"):
            years = [int(m.group("y"))]
        elif 1 <= day_of_month <= calendar.monthrange(2000, month)[1]:  # possible in a leap year
            years = list(range(now.year, now.year + 9))  # the next time it comes: Feb 29 waits for a leap year
        else:
            continue
        for year in years:
            if day_of_month <= calendar.monthrange(year, month)[1] and day_of_month >= 1:
                value = _midnight(now).replace(year=year, month=month, day=day_of_month)
                if m.group("y") or value >= _midnight(now):
                    add(m.start(), m.end(), value, "day")
                    break
    for m in scan(_DAY_OF_MONTH, True):
        day_of_month = int(m.group("d"))
        if not _free(taken, m.start(), m.end()) or not 1 <= day_of_month <= 31:
            continue
        first = _midnight(now).replace(day=1)
        for ahead in range(13):  # the next month that has that day, from this one on
            candidate = _add_months(first, ahead)
            if day_of_month <= calendar.monthrange(candidate.year, candidate.month)[1]:
                if candidate.replace(day=day_of_month) >= _midnight(now):
                    add(m.start(), m.end(), candidate.replace(day=day_of_month), "day")
                    break
    for d in days:  # a day on its own ("tonight" alone is an evening, a span: left to dateparser)
        if _free(taken, d.start(), d.end()) and not d.group("part") and " ".join(
                (d.group("rel") or "").lower().split()) not in ("tonight", "this evening"):
            add(d.start(), d.end(), _day(d, now), "day")
    return sorted(out)


_BETWEEN = re.compile(r"^[\s,]*(?:on|at|,)?[\s,]*$", re.IGNORECASE)


def _adjacent(text: str, day: re.Match[str], start: int, end: int) -> bool:
    """Whether a day and a clock time are one expression ("tomorrow at 5", "at 9am on Saturday")."""
    if day.end() <= start:
        return bool(_BETWEEN.match(text[day.end():start]))
    if end <= day.start():
        return bool(_BETWEEN.match(text[end:day.start()]))
    return False
