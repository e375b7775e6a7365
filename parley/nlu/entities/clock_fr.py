"""French times the way Duckling reads them: "à 15h", "demain à 9h30", "lundi prochain", "dans 2
heures", "il y a 3 jours", "la semaine prochaine", "le 15 février". The French counterpart of
`clock` (same values and grains: a day is its midnight, "dans 2 heures" is truncated to the minute);
the French clock is a 24-hour one, so "15h" needs no am/pm.

`find(text, now)` returns (start, end, value, grain) tuples; `now` is aware (the user's zone).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from parley.nlu.entities.clock import (
    _GRAIN_BELOW,
    YEAR_OR_MONTH,
    Holidays,
    Time,
    _add_months,
    _at,
    _free,
    _joined,
    _last_weekday,
    _midnight,
    _next_day_of_month,
    _next_month_day,
    _next_month_start,
    _next_weekday,
    _period_start,
    _truncate,
    _year,
    after_easter,
    nth_in_month,
    nth_weekday,
    weekend_start,
    year_or_month,
)

_I = re.IGNORECASE
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")
_MONTH = "|".join([*_MONTHS, "fevrier", "aout", "decembre", r"janv\.?", r"févr?\.?", r"fevr?\.?", r"avr\.?",
                   r"juil\.?", r"sept?\.?", r"oct\.?", r"nov\.?", r"déc\.?", r"dec\.?"])
_HOUR_WORDS = {"une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
               "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16,
               "dix-sept": 17, "dix-huit": 18, "dix-neuf": 19, "vingt": 20, "vingt et une": 21, "vingt-et-une": 21,
               "vingt-deux": 22, "vingt-trois": 23}
_HOUR_WORD = "|".join(sorted((w.replace(" ", r"\s+") for w in _HOUR_WORDS), key=len, reverse=True))
# minutes after an hour: "et quart", "et demie", "moins le quart", "moins cinq", "trente", "quinze minutes"
_MINUTES_AFTER = re.compile(
    r"\s+(?:(?P<plus>et\s+quart|et\s+demie?|trois\s+quarts)|moins\s+(?P<minus>le\s+quart|cinq|dix|vingt|vingt-cinq)"
    r"|(?:et\s+|passée?\s+de\s+)?(?P<word>cinq|dix|quinze|vingt|vingt-cinq|trente|quarante|quarante-cinq|cinquante"
    r"|trois|\d{1,2})(?:\s+minutes?)?)(?![\w])", _I)
_PLUS = {"et quart": 15, "et demi": 30, "et demie": 30, "trois quarts": 45}
_MINUTE_WORDS = {"trois": 3, "cinq": 5, "dix": 10, "quinze": 15, "vingt": 20, "vingt-cinq": 25, "trente": 30,
                 "quarante": 40, "quarante-cinq": 45, "cinquante": 50, "le quart": 15}
_NUMBER_WORDS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
                 "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20, "trente": 30,
                 "quelques": 3}
_UNIT_OF = {"seconde": "second", "sec": "second", "minute": "minute", "min": "minute", "heure": "hour", "h": "hour",
            "jour": "day", "journée": "day", "semaine": "week", "mois": "month", "an": "year", "année": "year"}


def _mothers_day(year: int) -> tuple[int, int]:
    """France's fête des mères: the last Sunday of May, or the first of June when that one is Pentecost."""
    last_may = nth_weekday(5, 6, -1)(year)
    return nth_weekday(6, 6, 1)(year) if last_may == after_easter(49)(year) else last_may


# holidays ("à noël", "le jour de l'an", "à pâques")
HOLIDAYS = Holidays(
    {"noël": (12, 25), "noel": (12, 25), "jour de noël": (12, 25), "jour de noel": (12, 25),
     "réveillon de noël": (12, 24), "veille de noël": (12, 24), "nouvel an": (1, 1), "jour de l'an": (1, 1),
     "premier de l'an": (1, 1), "réveillon du nouvel an": (12, 31), "saint-sylvestre": (12, 31),
     "saint sylvestre": (12, 31), "saint-valentin": (2, 14), "saint valentin": (2, 14), "st valentin": (2, 14),
     "toussaint": (11, 1), "jour des morts": (11, 2), "fête du travail": (5, 1), "fete du travail": (5, 1),
     "armistice": (11, 11), "fête nationale": (7, 14), "fête de la musique": (6, 21), "assomption": (8, 15),
     "pâques": after_easter(0), "paques": after_easter(0), "dimanche de pâques": after_easter(0),
     "lundi de pâques": after_easter(1), "lundi de paques": after_easter(1), "vendredi saint": after_easter(-2),
     "ascension": after_easter(39), "pentecôte": after_easter(49), "pentecote": after_easter(49),
     "lundi de pentecôte": after_easter(50), "lundi de pentecote": after_easter(50),
     "fête des mères": _mothers_day, "fete des meres": _mothers_day,
     "fête des pères": nth_weekday(6, 6, 3), "fete des peres": nth_weekday(6, 6, 3)},
    {"noël", "noel", "an", "sylvestre", "valentin", "toussaint", "morts", "travail", "armistice", "nationale",
     "musique", "assomption", "pâques", "paques", "vendredi", "ascension", "pentecôte", "pentecote", "mères", "meres",
     "pères", "peres"})
# "ce week-end", "le week-end prochain", "le weekend dernier" (Duckling's Friday 18:00 to Monday)
_WEEKEND = re.compile(r"\b(?:ce|le|du|au)\s+(?:week[\s-]?end|weekend)s?"
                      r"(?:\s+(?P<which>prochain|suivant|dernier|passé))?\b", _I)
# a message without digits needs one of these words to hold a time this module reads
WORDS = HOLIDAYS.words | frozenset({*_WEEKDAYS, *_MONTHS, "fevrier", "aout", "decembre", "aujourd", "demain", "hier",
                                    "midi", "week", "weekend",
                   "minuit", "soir", "semaine", "mois", "année", "an", "dans", "il", "premier", "1er", "maintenant",
                   "suite", "lendemain", "veille", "jour", "jours", "moment", "journée", "heure", "heures"})
_AMOUNT = r"\d+|" + "|".join(_NUMBER_WORDS)
_UNIT = r"secondes?|sec|minutes?|min|heures?|h|jours?|journées?|semaines?|mois|ans?|années?"

# "15h", "à 15 h 30", "9h du matin", "15:30", "à 15 heures"
# ("2 heures" alone is a length of time: "heures" spelt out is a clock time after "à" only)
_CLOCK = re.compile(
    r"(?:\b(?:(?:à|a|vers|pour)\s+)?(?P<h>\d{1,2})\s?h|\b(?:à|a|vers|pour)\s+(?:environ\s+)?(?P<h3>\d{1,2}|"
    + _HOUR_WORD + r")\s?heures?"
    r"|\b(?P<h4>\d{1,2}|" + _HOUR_WORD + r")\s+heures?"
    r"(?=\s+(?:du|de\s+l'|cet|ce|dans\s+l[ae])\s*(?:mat|après|apres|soir)))"
    r"(?:\s?(?P<m>[0-5]\d))?(?![\w])"
    r"(?:\s+(?:du|de\s+l'|cet|ce|dans\s+l[ae])\s*(?P<part>matinée|matin|après-midi|apres-midi|soirée|soir|mat)\b)?"
    r"|\b(?:(?:à|a|vers)\s+)?(?P<h2>\d{1,2}):(?P<m2>[0-5]\d)\b", _I)
_PART_AFTER = re.compile(r"\s+(?:du|de\s+l'|cet|ce|dans\s+l[ae])\s*(?P<part>matin|matinée|après-midi|apres-midi"
                         r"|soir|soirée|mat)\b", _I)
_NOON = re.compile(r"\b(?:(?:à|a|vers)\s+)?(?<![-\w])(?P<w>midi|minuit)\b", _I)
_DAY = re.compile(
    r"\b(?:(?P<rel>aujourd'hui|aujourd’hui|demain|hier|après-demain|apres-demain|avant-hier|ce\s+soir)"
    r"|(?:ce\s+)?(?P<wd>" + "|".join(_WEEKDAYS) + r")"
    r"(?:\s+(?P<which>prochain|dernier|suivant|d'après|en\s+(?:huit|8|quinze|15))"
    r"|\s+(?:de\s+)?(?P<week>cette\s+semaine|la\s+semaine\s+(?:prochaine|suivante|d'après|dernière|passée)))?)\b"
    r"(?:\s+(?P<part>matin|après-midi|apres-midi|soir))?", _I)
_RELATIVE = re.compile(
    r"\b(?:(?P<in>dans)\s+(?:environ\s+)?|(?P<ago>il\s+y\s+a)\s+)(?P<n>" + _AMOUNT + r")\s*(?P<u>" + _UNIT + r")\b"
    # "dans deux heures et demie": half an hour more (of hours only, as in English)
    r"(?P<half>(?<=heure)\s+et\s+demie|(?<=heures)\s+et\s+demie)?\b",
    _I)
_HALF_HOUR = re.compile(r"\bdans\s+(?:une\s+)?(?P<what>demi-heure|demi\s+heure|quart\s+d'heure)", _I)
_PERIOD = re.compile(
    r"\b(?:(?P<this>cette\s+semaine|ce\s+mois(?:-ci)?|cette\s+année)"
    r"|(?:la|le|l')\s*(?P<u>semaine|mois|année|an)\s+(?P<which>prochaine?|suivante?|qui\s+suit|d'après|dernière|dernier"
    r"|passée?))\b", _I)
_DAY_NUMBER_WORDS = {"premier": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
                     "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
                     "seize": 16, "vingt": 20, "trente": 30}
_DATE = re.compile(
    r"\b(?:le\s+)?(?P<nd>\d{1,2})[/.](?P<nm>\d{1,2})(?:[/.](?P<ny>\d{4}|\d{2}))?\b"
    r"|\b(?P<wd>" + "|".join(_WEEKDAYS) + r")\s+(?P<d3>\d{1,2}|" + "|".join(_DAY_NUMBER_WORDS) + r")\b"
    r"(?!\s*(?:h\b|heures?|:|" + _MONTH + r"))"
    r"|\b(?:le\s+)?(?P<d>\d{1,2}|1er|premier)\s+(?P<mon>" + _MONTH + r")(?:\s+(?P<y>\d{4}|\d{2}))?\b"
    # "le 31 10", "le 24 12 2014": day, month and year apart (it was "le 31" alone: March 31st)
    r"|\ble\s+(?P<sd>\d{1,2})\s+(?P<sm>\d{1,2})(?:\s+(?P<sy>\d{4}|\d{2}))?\b(?!\s*(?:h\b|heures?|:|%|€|\$|\d))"
    r"|\ble\s+(?P<d2>\d{1,2}|1er|premier)\b(?!\s*(?:h\b|heures?|:|%|€|\$)|\s+\d)"
    # "le 20 sur 20", "le premier choix": a word after it makes it no date
    r"(?!\s+(?!(?:à|a|vers|au|du|de|et|ou|prochain|plutôt)\b)[a-zà-ÿ])", _I)


def _day_of(m: re.Match[str], now: datetime) -> datetime:
    today = _midnight(now)
    rel = " ".join((m.group("rel") or "").lower().replace("apres", "après").replace("’", "'").split())
    if rel:
        return today + timedelta(days={"aujourd'hui": 0, "ce soir": 0, "demain": 1, "hier": -1, "après-demain": 2,
                                       "avant-hier": -2}[rel])
    target = _WEEKDAYS.index(m.group("wd").lower())
    week = " ".join((m.group("week") or "").lower().split())
    if week:  # "mardi de la semaine prochaine": that day of that week
        shift = 0 if week.startswith("cette") else -1 if week.endswith(("dernière", "passée")) else 1
        return today - timedelta(days=today.weekday()) + timedelta(weeks=shift, days=target)
    which = " ".join((m.group("which") or "").lower().split())
    if which == "dernier":
        return _last_weekday(today, target)
    later = {"suivant": 7, "d'après": 7, "en huit": 7, "en 8": 7, "en quinze": 14, "en 15": 14}.get(which)
    if later is not None:  # "mardi en huit": the first Tuesday a week or more from today
        base = today + timedelta(days=later)
        return base + timedelta(days=(target - base.weekday()) % 7)
    return _next_weekday(today, target)


def _month_of(raw: str) -> int:
    key = raw.lower().rstrip(".").replace("é", "e").replace("û", "u")
    return next(i for i, name in enumerate(_MONTHS, 1) if name.replace("é", "e").replace("û", "u").startswith(key[:3]))


def find(text: str, now: datetime) -> list[Time]:
    out: list[Time] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, value: datetime, grain: str) -> None:
        out.append((start, end, value, grain))
        taken.append((start, end))

    days = list(_DAY.finditer(text))
    for m in _HALF_HOUR.finditer(text):
        if _free(taken, m.start(), m.end()):
            add(m.start(), m.end(), now.replace(microsecond=0) + timedelta(
                minutes=15 if "quart" in m.group("what").lower() else 30), "second")
    for m in _NTH_IN_MONTH.finditer(text):
        written = m.group("kind").lower()
        kind = {"semaine": "week", "jour": "day"}.get(written) or _WEEKDAYS.index(written)
        when = nth_in_month(now, _month_of(m.group("mon")), kind, _NTH_WORDS[m.group("nth").lower()],
                            int(m.group("y")) if m.group("y") else None)
        if when is not None and _free(taken, m.start(), m.end()):
            add(m.start(), m.end(), when, "week" if kind == "week" else "day")
    for m in _RELATIVE.finditer(text):
        if not _free(taken, m.start(), m.end()):
            continue
        raw = m.group("n").lower()
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        unit = _UNIT_OF.get(m.group("u").lower().rstrip("s")) or _UNIT_OF[m.group("u").lower()]
        half = 30 if m.group("half") else 0
        if m.group("ago"):
            n, half = -n, -half
        try:
            value = (_add_months(now, n * (12 if unit == "year" else 1)) if unit in ("month", "year")
                     else now + timedelta(**{f"{unit}s": n}) + timedelta(minutes=half))
        except (OverflowError, ValueError):  # "dans 9300165 jours": past the calendar's end
            continue
        grain = _GRAIN_BELOW[unit]
        add(m.start(), m.end(), _truncate(value, grain), grain)
    dates: list[tuple[int, int, datetime]] = []
    for m in _DATE.finditer(text):
        if not _free(taken, m.start(), m.end()):
            continue
        if m.group("nd") or m.group("sd"):  # "le 2/3", "31/10/74", "le 31 10": day, month, year
            month, day_of_month = int(m.group("nm") or m.group("sm")), int(m.group("nd") or m.group("sd"))
            year = _year(m.group("ny") or m.group("sy"), now)
            when = _next_month_day(now, month, day_of_month, year) if 1 <= month <= 12 else None
            if when is not None:
                dates.append((m.start(), m.end(), when))
            continue
        if m.group("wd"):  # "jeudi 15": the next 15th that is a Thursday
            raw = m.group("d3").lower()
            day_of_month = _DAY_NUMBER_WORDS.get(raw) or int(raw)
            when = _next_day_of_month(now, day_of_month, weekday=_WEEKDAYS.index(m.group("wd").lower()))
            if when is not None:
                dates.append((m.start(), m.end(), when))
            continue
        raw = (m.group("d") or m.group("d2")).lower()
        day_of_month = 1 if raw in ("1er", "premier") else int(raw)
        if m.group("mon"):
            when = _next_month_day(now, _month_of(m.group("mon")), day_of_month, _year(m.group("y"), now))
        else:  # "le 15": the next 15th
            when = _next_day_of_month(now, day_of_month)
        if when is not None:
            start = m.start()
            named = next((d for d in days if d.group("wd") and not d.group("which") and not d.group("week")
                          and d.end() <= start and _NEXT_TO.match(text[d.end():start])), None)
            if named is not None:  # "lundi 18 février": the day's name belongs to the date
                start = named.start()
                days.remove(named)
            dates.append((start, m.end(), when))
    clocks: list[tuple[int, int, int, str | None, str]] = []
    for m in [*_CLOCK.finditer(text), *_NOON.finditer(text)]:
        if "w" in m.groupdict() and m.group("w"):
            hour, minutes, part = (12 if m.group("w").lower() == "midi" else 0), None, ""
        else:
            raw = (m.group("h") or m.group("h2") or m.group("h3") or m.group("h4")).lower()
            hour = int(raw) if raw.isdigit() else _HOUR_WORDS[" ".join(raw.split())]
            minutes, part = m.group("m") or m.group("m2"), (m.group("part") or "").lower()
        end = m.end()
        if minutes is None and (extra := _MINUTES_AFTER.match(text, end)) is not None:  # "midi et quart"
            shifted = hour
            if extra.group("plus"):
                extra_minutes = _PLUS[" ".join(extra.group("plus").lower().split())]
            elif extra.group("minus"):  # "midi moins le quart": 11:45
                shifted, extra_minutes = hour - 1, 60 - _MINUTE_WORDS[" ".join(extra.group("minus").lower().split())]
            else:
                word = extra.group("word").lower()
                extra_minutes = int(word) if word.isdigit() else _MINUTE_WORDS[word]
            if extra_minutes <= 59:  # "2h 74" has no minutes
                hour, minutes, end = shifted, str(extra_minutes), extra.end()
                if (after := _PART_AFTER.match(text, end)) is not None and not part:
                    part, end = after.group("part").lower(), after.end()
        clocks.append((m.start(), end, hour, minutes, part))
    for start, end, hour, minutes, part in sorted(clocks):
        if not -1 <= hour <= 23 or not _free(taken, start, end):
            continue  # "25h" is no time; -1 is "minuit moins cinq"
        day = next((d for d in days if _free(taken, d.start(), d.end()) and _adjacent(text, d.start(), d.end(),
                                                                                     start, end)), None)
        date = next((d for d in dates if _adjacent(text, d[0], d[1], start, end)), None) if day is None else None
        part = part or ((day.group("part") or "") if day else "").lower()
        if day is not None and "soir" in (day.group("rel") or "").lower():
            part = part or "soir"
        if part.startswith(("soir", "après-midi", "apres-midi")) and hour < 12:
            hour += 12
        anchor = _day_of(day, now) if day is not None else date[2] if date is not None else None
        value = _at(anchor, [hour % 24], int(minutes or 0), now)
        if day is not None:
            start, end = min(start, day.start()), max(end, day.end())
        elif date is not None:
            dates.remove(date)
            start, end = min(start, date[0]), max(end, date[1])
        add(start, end, value, "minute" if minutes else "hour")
    for start, end, when in dates:
        if _free(taken, start, end):
            add(start, end, when, "day")
    for m in _WEEKEND.finditer(text):
        if _free(taken, m.start(), m.end()):
            which = (m.group("which") or "").lower()
            shift = None if which == "prochain" else 1 if which == "suivant" else -1 if which else 0
            add(m.start(), m.end(), weekend_start(now, shift), "hour")
    for start, end, holiday in HOLIDAYS.read(text, re.findall(r"\w+", text.lower()), now):
        if _free(taken, start, end):
            add(start, end, holiday, "day")
    for d in days:
        if _free(taken, d.start(), d.end()) and not d.group("part") and "soir" not in (d.group("rel") or "").lower():
            add(d.start(), d.end(), _day_of(d, now), "day")
    for m in _SHIFTED.finditer(text):  # "le lendemain", "la veille", "deux jours plus tard", "maintenant"
        if _free(taken, m.start(), m.end()):
            add(m.start(), m.end(), *_shifted(m, now))
    for m in _MONTH_ONLY.finditer(text):
        if _free(taken, m.start(), m.end()):
            written_year = m.group("y") or m.group("y2")
            month_name = m.group("mon") or m.group("mon2") or m.group("mon3")
            add(m.start(), m.end(), _next_month_start(now, _month_of(month_name),
                                                      int(written_year) if written_year else None), "month")
    for m in YEAR_OR_MONTH.finditer(text):  # "en 2014", "10/2014"
        if _free(taken, m.start(), m.end()) and (read := year_or_month(m, now)) is not None:
            add(m.start(), m.end(), *read)
    for m in _PERIOD.finditer(text):
        if not _free(taken, m.start(), m.end()):
            continue
        this = (m.group("this") or "").lower()
        unit = "week" if "semaine" in this else "month" if "mois" in this else "year" if this else (
            {"semaine": "week", "mois": "month", "année": "year", "an": "year"}[m.group("u").lower()])
        which = " ".join((m.group("which") or "").lower().split())
        shift = 0 if this else (1 if which.startswith(("prochain", "suivant", "qui suit", "d'après")) else -1)
        add(m.start(), m.end(), _period_start(now, unit, shift), unit)
    return sorted(out)


# "la dernière semaine de septembre 2014", "le 3ème jour d'octobre", "le premier lundi de mars"
_NTH_WORDS = {"premier": 1, "première": 1, "premiere": 1, "1er": 1, "1ère": 1, "1ere": 1, "1re": 1, "deuxième": 2,
              "deuxieme": 2, "2e": 2, "2ème": 2, "2eme": 2, "second": 2, "seconde": 2, "troisième": 3, "troisieme": 3,
              "3e": 3, "3ème": 3, "3eme": 3, "quatrième": 4, "quatrieme": 4, "4e": 4, "4ème": 4, "4eme": 4,
              "cinquième": 5, "cinquieme": 5, "5e": 5, "5ème": 5, "5eme": 5, "dernier": -1, "dernière": -1,
              "derniere": -1}
_NTH_IN_MONTH = re.compile(
    r"\b(?:(?:la|le)\s+)?(?P<nth>" + "|".join(sorted(_NTH_WORDS, key=len, reverse=True)) + r")\s+"
    r"(?P<kind>semaine|jour|" + "|".join(_WEEKDAYS) + r")\s+(?:de\s+|d['’]\s*|du\s+mois\s+d['’]?\s*)"
    r"(?P<mon>" + _MONTH + r")\b(?:\s+(?P<y>\d{4})\b)?", _I)

_SHIFT_WORDS = {"le lendemain": 1, "lendemain": 1, "le jour suivant": 1, "jour suivant": 1, "le jour d'après": 1,
                "un jour après": 1, "la veille": -1, "le jour d'avant": -1, "le jour précédent": -1, "ce jour": 0,
                "dans la journée": 0, "en ce moment": 0}
_SHIFTED = re.compile(
    r"\b(?P<now>maintenant|tout\s+de\s+suite)\b"
    r"|(?P<fixed>" + "|".join(sorted(map(re.escape, _SHIFT_WORDS), key=len, reverse=True)) + r")(?![\w'])"
    r"|\b(?P<n>\d+|" + "|".join(_NUMBER_WORDS) + r")\s+jours?\s+(?:plus\s+tard|après)\b", _I)
# "en mars", "au mois de mai 2014", a month with its year alone ("septembre 2014") and a month's name alone
# ("avril"; both were today's day of that month)
_MONTH_ONLY = re.compile(r"\b(?:(?:en|au\s+mois\s+de|le\s+mois\s+de|mois\s+de)\s+(?P<mon>" + _MONTH + r")\b"
                         r"(?:\s+(?P<y>\d{4}))?|(?P<mon2>" + _MONTH + r")\s+(?P<y2>\d{4})\b"
                         r"|(?P<mon3>" + "|".join([*_MONTHS, "fevrier", "aout", "decembre"]) + r")\b)(?!\s*\d)", _I)


def _shifted(m: re.Match[str], now: datetime) -> tuple[datetime, str]:
    if m.group("now"):
        return now.replace(microsecond=0), "second"
    if m.group("fixed"):
        return _midnight(now) + timedelta(days=_SHIFT_WORDS[" ".join(m.group("fixed").lower().split())]), "day"
    raw = m.group("n").lower()
    return _midnight(now) + timedelta(days=int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]), "day"


_BETWEEN = re.compile(r"^[\s,]*(?:à|a|vers|le|,|plutôt\s+vers|à\s+environ|aux\s+alentours\s+de|autour\s+de)?[\s,]*$",
                      _I)
_NEXT_TO = re.compile(r"^[\s,]*(?:le\s*)?$", _I)


def _adjacent(text: str, day_start: int, day_end: int, start: int, end: int) -> bool:
    """Whether a day (or date) and a clock time are one expression ("demain à 9h", "à 9h lundi")."""
    return _joined(text, (day_start, day_end), (start, end), _BETWEEN)
