"""English times as Duckling reads them (`parley.nlu.entities.clock`).

Expectations follow Duckling's English corpus, whose reference moment is Tuesday 2013-02-12 04:30
(Botpress bots were written against Duckling's answers).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from parley.nlu.entities import clock_fr
from parley.nlu.entities.clock import find
from parley.nlu.entities.system import extract_system

REFERENCE = datetime(2013, 2, 12, 4, 30, tzinfo=UTC)  # a Tuesday

CASES: dict[str, tuple[str, str] | str] = {  # text -> (value, grain); "none": no time
    'today': ('2013-02-12T00:00', 'day'),
    'yesterday': ('2013-02-11T00:00', 'day'),
    'tomorrow': ('2013-02-13T00:00', 'day'),
    'monday': ('2013-02-18T00:00', 'day'),
    'this monday': ('2013-02-18T00:00', 'day'),
    'tuesday': ('2013-02-19T00:00', 'day'),
    'next tuesday': ('2013-02-19T00:00', 'day'),
    'next wednesday': ('2013-02-13T00:00', 'day'),
    'last tuesday': ('2013-02-05T00:00', 'day'),
    'last sunday': ('2013-02-10T00:00', 'day'),
    'on the 15th': ('2013-02-15T00:00', 'day'),
    'the day after tomorrow': ('2013-02-14T00:00', 'day'),
    'day after tomorrow 5pm': ('2013-02-14T17:00', 'hour'),
    'day before yesterday 8am': ('2013-02-10T08:00', 'hour'),
    'at 3am': ('2013-02-13T03:00', 'hour'),
    '3:18am': ('2013-02-13T03:18', 'minute'),
    'at 3pm': ('2013-02-12T15:00', 'hour'),
    '3PM': ('2013-02-12T15:00', 'hour'),
    '15:15': ('2013-02-12T15:15', 'minute'),
    '3:15pm': ('2013-02-12T15:15', 'minute'),
    '3:30': ('2013-02-12T15:30', 'minute'),
    '8 tonight': ('2013-02-12T20:00', 'hour'),
    'at 9am on Saturday': ('2013-02-16T09:00', 'hour'),
    'in 2 minutes': ('2013-02-12T04:32', 'second'),
    'in a couple of minutes': ('2013-02-12T04:32', 'second'),
    'in one hour': ('2013-02-12T05:30', 'minute'),
    'in 24 hours': ('2013-02-13T04:30', 'minute'),
    'in a day': ('2013-02-13T04:00', 'hour'),
    'in 7 days': ('2013-02-19T04:00', 'hour'),
    'in a week': ('2013-02-19T00:00', 'day'),
    '7 days ago': ('2013-02-05T04:00', 'hour'),
    'a week ago': ('2013-02-05T00:00', 'day'),
    'three months ago': ('2012-11-12T00:00', 'day'),
    'two years ago': ('2011-02-01T00:00', 'month'),
    '7 days hence': ('2013-02-19T04:00', 'hour'),
    'this week': ('2013-02-11T00:00', 'week'),
    'last week': ('2013-02-04T00:00', 'week'),
    'next week': ('2013-02-18T00:00', 'week'),
    'last month': ('2013-01-01T00:00', 'month'),
    'next month': ('2013-03-01T00:00', 'month'),
    'next year': ('2014-01-01T00:00', 'year'),
    'march 3': ('2013-03-03T00:00', 'day'),
    'feb 29': ('2016-02-29T00:00', 'day'),  # the next leap year (not an absence that depends on the year)
    'feb 30': 'none',
    'the first tuesday of october': ('2013-10-01T00:00', 'day'),
    'last Monday of March': ('2013-03-25T00:00', 'day'),
    'second wednesday of october 2014': ('2014-10-08T00:00', 'day'),
    'third day of october': ('2013-10-03T00:00', 'day'),
    'last day of october 2015': ('2015-10-31T00:00', 'day'),
    'last day in october 2015': ('2015-10-31T00:00', 'day'),
    'first week of october 2014': ('2014-10-06T00:00', 'week'),  # weeks wholly inside the month
    'last week of september 2014': ('2014-09-22T00:00', 'week'),
    'the week of october 6th': ('2013-10-07T00:00', 'week'),  # a Sunday: it opens the week of the 7th
    'the week of october 7th': ('2013-10-07T00:00', 'week'),
    'week of october 9th': ('2013-10-07T00:00', 'week'),  # the week the day is in
    'third tuesday of september 2014': ('2014-09-16T00:00', 'day'),
    'a quarter past 3pm': ('2013-02-12T15:15', 'minute'),
    'half three': ('2013-02-12T15:30', 'minute'),  # British: 3:30
    'half two pm': ('2013-02-12T14:30', 'minute'),
    'half two cups of flour': 'none',
    'call me at 10/31': ('2013-10-31T00:00', 'day'),  # a date after "at", not 10 o'clock
    # minutes said in words after an hour: any from 1 to 59
    'nine fifty nine a m': ('2013-02-12T09:59', 'minute'),
    'at ten twelve': ('2013-02-12T10:12', 'minute'),
    'at eleven oh five': ('2013-02-12T11:05', 'minute'),
    # minutes past or to an hour without am or pm: the next such time, like "3:30"
    'half past three': ('2013-02-12T15:30', 'minute'),
    'at half past 3': ('2013-02-12T15:30', 'minute'),
    'a quarter past three': ('2013-02-12T15:15', 'minute'),
    'ten past eight': ('2013-02-12T08:10', 'minute'),
    'a quarter to five': ('2013-02-12T04:45', 'minute'),
    'twenty-five to six': ('2013-02-12T05:35', 'minute'),
    'a quarter to one': ('2013-02-12T12:45', 'minute'),
    'half past three in the afternoon': ('2013-02-12T15:30', 'minute'),
    'I need five to ten minutes': 'none',
    '5 to 10 people': 'none',
    '15 to noon': ('2013-02-12T11:45', 'minute'),
    'at 8 in the evening': ('2013-02-12T20:00', 'hour'),
    'in the evening at eight': ('2013-02-12T20:00', 'hour'),
    'ten thirty am': ('2013-02-12T10:30', 'minute'),
    'seven thirty p.m.': ('2013-02-12T19:30', 'minute'),
    '3 oclock pm': ('2013-02-12T15:00', 'hour'),
    "3 o'clock in the afternoon": ('2013-02-12T15:00', 'hour'),
    'at three am': ('2013-02-13T03:00', 'hour'),
    'eight tonight': ('2013-02-12T20:00', 'hour'),
    'in half an hour': ('2013-02-12T05:00', 'second'),
    'in 1h': ('2013-02-12T05:30', 'minute'),
    'in 2.5 hours': ('2013-02-12T07:00', 'second'),
    'in 2 and an half hours': ('2013-02-12T07:00', 'second'),
    'in two and a half hours': ('2013-02-12T07:00', 'second'),
    'in 3/4 hour': ('2013-02-12T05:15', 'second'),
    'a fortnight ago': ('2013-01-29T04:00', 'hour'),
    'a day from right now': ('2013-02-13T04:30', 'second'),
    '3 years from today': ('2016-02-12T00:00', 'day'),
    'the following week': ('2013-02-18T00:00', 'week'),
    'this quarter': ('2013-01-01T00:00', 'quarter'),
    'next qtr': ('2013-04-01T00:00', 'quarter'),
    '3rd quarter': ('2013-07-01T00:00', 'quarter'),
    '4th qtr 2018': ('2018-10-01T00:00', 'quarter'),
    'last yr': ('2012-01-01T00:00', 'year'),
    'October 2014': ('2014-10-01T00:00', 'month'),
    'in March': ('2013-03-01T00:00', 'month'),
    'first of march': ('2013-03-01T00:00', 'day'),
    'march first': ('2013-03-01T00:00', 'day'),
    '15th february': ('2013-02-15T00:00', 'day'),
    'Monday, Feb 18': ('2013-02-18T00:00', 'day'),
    'Tuesday the 19th': ('2013-02-19T00:00', 'day'),
    'wednesday of next week': ('2013-02-20T00:00', 'day'),
    'friday after next': ('2013-02-22T00:00', 'day'),
    'thu': ('2013-02-14T00:00', 'day'),
    'now': ('2013-02-12T04:30', 'second'),
    'the 3rd floor': 'none',
    'the sun is out': 'none',
    'I sat down': 'none',
    'the first one': 'none',
    'Aug 8': ('2013-08-08T00:00', 'day'),
    'february 15': ('2013-02-15T00:00', 'day'),
    'march 3 2015': ('2015-03-03T00:00', 'day'),
    'today at 2pm': ('2013-02-12T14:00', 'hour'),
    '3pm tomorrow': ('2013-02-13T15:00', 'hour'),
    'at 5pm tomorrow': ('2013-02-13T17:00', 'hour'),
    'tomorrow at 5pm': ('2013-02-13T17:00', 'hour'),
    'at 5 tomorrow afternoon': ('2013-02-13T17:00', 'hour'),
    'at 1:30pm': ('2013-02-12T13:30', 'minute'),
    '10:30': ('2013-02-12T10:30', 'minute'),
    'at 1030': ('2013-02-12T10:30', 'minute'),
    'at 12pm': ('2013-02-12T12:00', 'hour'),
    'at 12am': ('2013-02-13T00:00', 'hour'),
    'the 1st': ('2013-03-01T00:00', 'day'),
    '11:45am': ('2013-02-12T11:45', 'minute'),
    'between 2 and 4pm': ('2013-02-12T14:00', 'hour'),
    'from 9:30 to 11': ('2013-02-12T09:30', 'minute'),
    'room for 4 people at 8': ('2013-02-12T08:00', 'hour'),
    "I'm 25 years old": 'none',
    'at 5 dollars': 'none',
    'call me at 6': ('2013-02-12T06:00', 'hour'),
    # misses of Duckling's corpus read since 2026-12-06, 12:40 UTC
    'at 3 15': ('2013-02-12T15:15', 'minute'),  # it was 15:00, the minutes left out
    'at 7 30 pm': ('2013-02-12T19:30', 'minute'),
    'at 3 15 people': ('2013-02-12T15:00', 'hour'),  # no minutes before a noun
    'at about 3pm': ('2013-02-12T15:00', 'hour'),
    '3pm approximately': ('2013-02-12T15:00', 'hour'),
    '9 tomorrow morning': ('2013-02-13T09:00', 'hour'),  # dateparser read it as tomorrow 04:30
    '9 tomorrow evening': ('2013-02-13T21:00', 'hour'),
    'in 2014': ('2014-01-01T00:00', 'year'),  # dateparser: 2014-02-12 (today's day and month)
    '2014-10': ('2014-10-01T00:00', 'month'),
    '2014/10': ('2014-10-01T00:00', 'month'),
    '10/2013': ('2013-10-01T00:00', 'month'),
    '10-31-74': ('1974-10-31T00:00', 'day'),  # dateparser: 2074
    'Tuesday 19th': ('2013-02-19T00:00', 'day'),  # it was Tuesday alone
    'Thu 15th': ('2013-08-15T00:00', 'day'),  # the next 15th that is a Thursday, as Duckling reads it
    '20th of next month': ('2013-03-20T00:00', 'day'),  # it was next month
    'the 3rd of the previous month': ('2013-01-03T00:00', 'day'),
    'christmas': ('2013-12-25T00:00', 'day'),  # holidays on a fixed date: none was read
    "on new year's eve": ('2013-12-31T00:00', 'day'),
    'new years day': ('2014-01-01T00:00', 'day'),
    'halloween': ('2013-10-31T00:00', 'day'),
    'happy new year': 'none',
    'thanksgiving': ('2013-11-28T00:00', 'day'),  # holidays that move: none was read
    'on easter': ('2013-03-31T00:00', 'day'),
    'good friday': ('2013-03-29T00:00', 'day'),  # it was the next Friday
    'black friday': ('2013-11-29T00:00', 'day'),
    "mothers day": ('2013-05-12T00:00', 'day'),
    'memorial day': ('2013-05-27T00:00', 'day'),
    'labor day': ('2013-09-02T00:00', 'day'),
    'mlk day': ('2014-01-20T00:00', 'day'),  # 2013's was on January 21st, before the reference
    'this weekend': ('2013-02-15T18:00', 'hour'),  # weekends: Friday 18:00 to Monday, where they start; none was read
    'last weekend': ('2013-02-08T18:00', 'hour'),
    'next weekend': ('2013-02-15T18:00', 'hour'),  # Duckling's "next": the first not under way, as "next wednesday"
    'are you open on weekends': ('2013-02-15T18:00', 'hour'),
    'in 7 days at 5pm': ('2013-02-19T17:00', 'hour'),  # it was in 7 days, and 5pm today
    'at 7 in 3 years': ('2016-02-12T07:00', 'hour'),
    'at 7:30 PM on Fri, Sep 20': ('2013-09-20T19:30', 'minute'),  # it was Friday the 15th at 7:30 PM
    'Mon, February 18': ('2013-02-18T00:00', 'day'),  # "mon" before a comma and a month is a weekday
    '1:30 PM on Sat, Sep 21': ('2013-09-21T13:30', 'minute'),
    'sun, 10 degrees': 'none',
}


@pytest.mark.parametrize(("text", "expected"), list(CASES.items()))
def test_times_as_duckling_reads_them(text: str, expected: tuple[str, str] | str) -> None:
    got = [(value.strftime("%Y-%m-%dT%H:%M"), grain) for _, _, value, grain in find(text, REFERENCE)]
    assert got == ([] if expected == "none" else [expected])


def test_times_follow_the_users_zone_and_reach_the_nlu() -> None:
    """Through `extract_system`: the value carries the user's offset; French is still read by dateparser."""
    paris = datetime(2013, 2, 12, 4, 30, tzinfo=timezone(timedelta(hours=1)))
    found = [(f.source, f.value, f.unit) for f in extract_system("call me at 3pm", "en", paris) if f.name == "time"]
    assert found == [("at 3pm", "2013-02-12T15:00:00.000+01:00", "hour")]
    french = [f for f in extract_system("demain à 14h", "fr", paris) if f.name == "time"]
    assert french and french[0].value.startswith("2013-02-13T14:00:00")
    assert [f for f in extract_system("I sold it at 5 dollars", "en", paris) if f.name == "time"] == []
    iso = extract_system("on 2015-03-03 please", "en", paris)  # a date, not a phone number
    assert [f.name for f in iso if f.name in ("time", "phoneNumber")] == ["time"]
    assert [f.source for f in extract_system("a table for 4 people at 8", "en", paris) if f.name == "time"] == ["at 8"]


def test_other_languages_follow_duckling_for_days_and_spans_from_now() -> None:
    """Read by dateparser, but shaped like Duckling's answers: a day is its midnight, "in 2 hours"
    is truncated to the minute."""
    paris = datetime(2013, 2, 12, 4, 30, 15, tzinfo=timezone(timedelta(hours=1)))

    def times(text: str) -> list[tuple[str, str]]:
        return [(f.value, f.unit) for f in extract_system(text, "fr", paris) if f.name == "time"]

    assert times("hier") == [("2013-02-11T00:00:00.000+01:00", "day")]
    assert times("dans 2 heures") == [("2013-02-12T06:30:00.000+01:00", "minute")]
    assert times("dans 10 minutes") == [("2013-02-12T04:40:15.000+01:00", "second")]


FRENCH: dict[str, tuple[str, str]] = {  # Duckling's French readings, same reference moment
    "demain à 17h": ("2013-02-13T17:00", "hour"),
    "à 15h": ("2013-02-12T15:00", "hour"),
    "15h30": ("2013-02-12T15:30", "minute"),
    "à 3h": ("2013-02-13T03:00", "hour"),
    "à quinze heures": ("2013-02-12T15:00", "hour"),
    "à trois heures et quart cet après-midi": ("2013-02-12T15:15", "minute"),
    "8 heures ce soir": ("2013-02-12T20:00", "hour"),
    "midi moins le quart": ("2013-02-12T11:45", "minute"),
    "à minuit": ("2013-02-13T00:00", "hour"),
    "lundi prochain": ("2013-02-18T00:00", "day"),
    "mercredi en huit": ("2013-02-20T00:00", "day"),
    "mardi de la semaine prochaine": ("2013-02-19T00:00", "day"),
    "le 2 mars à 5h": ("2013-03-02T05:00", "hour"),
    "vendredi 15 à 16h": ("2013-02-15T16:00", "hour"),
    "lundi 18 février": ("2013-02-18T00:00", "day"),
    "le 31/10/74": ("1974-10-31T00:00", "day"),
    "le 1er mars": ("2013-03-01T00:00", "day"),
    "le 20": ("2013-02-20T00:00", "day"),
    "en mars": ("2013-03-01T00:00", "month"),
    "dans 2 heures": ("2013-02-12T06:30", "minute"),
    "dans une demi-heure": ("2013-02-12T05:00", "second"),
    "dans deux heures et demie": ("2013-02-12T07:00", "minute"),  # it was 06:30, the half hour left out
    "il y a une heure et demie": ("2013-02-12T03:00", "minute"),
    "il y a 2 jours": ("2013-02-10T04:00", "hour"),
    "la semaine prochaine": ("2013-02-18T00:00", "week"),
    "le mois suivant": ("2013-03-01T00:00", "month"),
    "après-demain": ("2013-02-14T00:00", "day"),
    "la veille": ("2013-02-11T00:00", "day"),
    "maintenant": ("2013-02-12T04:30", "second"),
    "septembre 2014": ("2014-09-01T00:00", "month"),  # dateparser: 2014-09-12, a day
    "avril": ("2013-04-01T00:00", "month"),
    "en 2014": ("2014-01-01T00:00", "year"),
    "10/2014": ("2014-10-01T00:00", "month"),
    "le 31 10": ("2013-10-31T00:00", "day"),  # it was "le 31", March 31st
    "le 20 02 14": ("2014-02-20T00:00", "day"),
    "à noël": ("2013-12-25T00:00", "day"),
    "le jour de l'an": ("2014-01-01T00:00", "day"),
    "la toussaint": ("2013-11-01T00:00", "day"),
    "fête du travail": ("2013-05-01T00:00", "day"),
    "à pâques": ("2013-03-31T00:00", "day"),
    "le lundi de pâques": ("2013-04-01T00:00", "day"),  # it was next Monday
    "vendredi saint": ("2013-03-29T00:00", "day"),  # it was next Friday
    "la pentecôte": ("2013-05-19T00:00", "day"),
    "pour la fête des mères": ("2013-05-26T00:00", "day"),
    "ce week-end": ("2013-02-15T18:00", "hour"),
    "le weekend dernier": ("2013-02-08T18:00", "hour"),
    "dernière semaine de septembre 2014": ("2014-09-22T00:00", "week"),  # it was September 2014
    "premiere semaine d'octobre 2014": ("2014-10-06T00:00", "week"),  # the first week wholly in October
    "3eme jour d'octobre": ("2013-10-03T00:00", "day"),
    "le premier lundi de mars": ("2013-03-04T00:00", "day"),
}


def test_during_a_weekend_this_weekend_is_the_one_under_way_and_next_weekend_the_one_after() -> None:
    saturday = datetime(2013, 2, 16, 11, 0, tzinfo=UTC)
    assert [(v.isoformat()[:16], g) for _, _, v, g in find("this weekend", saturday)] == [("2013-02-15T18:00", "hour")]
    assert [(v.isoformat()[:16], g) for _, _, v, g in find("next weekend", saturday)] == [("2013-02-22T18:00", "hour")]
    french = clock_fr.find("le week-end prochain", saturday)
    assert [v.isoformat()[:16] for _, _, v, _ in french] == ["2013-02-22T18:00"]


def test_a_date_after_from_is_not_a_span_of_clock_times() -> None:
    """"from 2014-10-02" was read as 20:14 today ("2014" an hour and its minutes, "-10" the end of a span)."""
    def times(text: str) -> list[tuple[str, str]]:
        return [(f.value[:16], f.unit) for f in extract_system(text, "en", REFERENCE) if f.name == "time"]

    assert times("pictures from 2014-10-02") == [("2014-10-02T00:00", "day")]
    assert times("between 2014-10-02 and 2014-10-05")[0] == ("2014-10-02T00:00", "day")
    assert [(v.isoformat()[:16], g) for _, _, v, g in find("from 9-10", REFERENCE)] == [("2013-02-12T09:00", "hour")]


def test_french_mothers_day_gives_way_to_pentecost() -> None:
    """France's fête des mères is the last Sunday of May, unless that Sunday is Pentecost (2023: June 4th)."""
    got = [value.date().isoformat() for _, _, value, _ in clock_fr.find("la fête des mères",
                                                                        datetime(2023, 1, 1, tzinfo=UTC))]
    assert got == ["2023-06-04"]


def test_french_spans_take_the_whole_expression() -> None:
    """"ce lundi" was "lundi", and "dans la soirée" stopped at "soir"."""
    def sources(text: str) -> list[str]:
        return [text[s:e] for s, e, _, _ in clock_fr.find(text, REFERENCE)]

    assert sources("ce lundi") == ["ce lundi"]
    assert sources("le 16 vers 6h dans la soirée") == ["le 16 vers 6h dans la soirée"]
    assert sources("à 9h dans la matinée") == ["à 9h dans la matinée"]


@pytest.mark.parametrize(("text", "expected"), list(FRENCH.items()))
def test_french_times_as_duckling_reads_them(text: str, expected: tuple[str, str]) -> None:
    got = [(value.strftime("%Y-%m-%dT%H:%M"), grain) for _, _, value, grain in clock_fr.find(text, REFERENCE)]
    assert got == [expected]


def test_french_hours_spelled_out_reach_the_french_grammar() -> None:
    """"à quinze heures" was read by the French grammar and then dropped: no word of the message told
    `extract_system` it might hold a time."""
    def times(text: str) -> list[tuple[str, str]]:
        return [(f.value[:16], f.unit) for f in extract_system(text, "fr", REFERENCE) if f.name == "time"]

    assert times("rendez-vous à quinze heures") == [("2013-02-12T15:00", "hour")]
    assert times("à quinze heures quinze") == [("2013-02-12T15:15", "minute")]
    assert times("pendant deux heures") == []  # a length of time


def test_a_french_clock_time_is_not_also_a_length_of_time() -> None:
    """"17h" in "demain à 17h" is five o'clock; "2 heures" in "dans 2 heures" is both a time and a length."""
    def names(text: str) -> list[str]:
        return sorted(f.name for f in extract_system(text, "fr", REFERENCE) if f.name in ("time", "duration"))

    assert names("demain à 17h") == ["time"]
    assert names("dans 2 heures") == ["duration", "time"]
    assert names("pendant 2 heures") == ["duration"]


@pytest.mark.parametrize(("text", "lang"), [
    ("I love the sun.", "en"), ("mon ami", "en"), ("look at 3 options", "en"), ("I'm 25 years old", "en"),
    ("le premier choix", "fr"), ("c'est le 20 sur 20", "fr"), ("pendant 2 heures", "fr"),
])
def test_everyday_words_are_not_times(text: str, lang: str) -> None:
    assert [f.source for f in extract_system(text, lang, REFERENCE) if f.name == "time"] == []


@pytest.mark.parametrize(("text", "lang", "measure"), [  # the ranges of Duckling's corpora: each was also a time
    ("between 3 and 5 kilometers", "en", "distance"), ("3-5 kilometers", "en", "distance"),
    ("~2-7 liters", "en", "volume"), ("from 100 to 1000 l", "en", "volume"), ("around 2 -7 l", "en", "volume"),
    ("from 10 to 20 dollars", "en", "amountOfMoney"), ("10-20 dollars", "en", "amountOfMoney"),
    ("from 10 to 20 degrees", "en", "temperature"), ("from 1 to 3 days", "en", "duration"),
    ("entre 3 et 5 km", "fr", "distance"), ("de 10 à 20 euros", "fr", "amountOfMoney"),
])
def test_a_range_of_amounts_is_no_time(text: str, lang: str, measure: str) -> None:
    found = extract_system(text, lang, REFERENCE)
    assert [f.source for f in found if f.name == "time"] == []
    assert measure in [f.name for f in found]


@pytest.mark.parametrize(("text", "lang", "time"), [
    ("between 3 and 5pm", "en", "between 3 and 5pm"), ("from 3 to 5", "en", "from 3 to 5"),
    ("at 7 for 2 hours", "en", "at 7"), ("tomorrow 2 hours", "en", "tomorrow"), ("at 7 2 km", "en", "at 7"),
    ("à 10h pour 20 euros", "fr", "à 10h"),
])
def test_a_time_next_to_an_amount_stays_a_time(text: str, lang: str, time: str) -> None:
    assert [f.source for f in extract_system(text, lang, REFERENCE) if f.name == "time"] == [time]


@pytest.mark.parametrize(("text", "lang"), [  # found by fuzzing: each once raised ValueError
    ("24:31 monday 7", "en"), ("at 24 tomorrow", "en"), ("2H 74 HALF", "fr"), ("minuit 74 matin", "fr"),
    ("25h demain", "fr"), ("20 Sep lundi", "fr"),  # a weekday after a date gave a span ending before it began
])
def test_impossible_clock_times_are_no_times_not_errors(text: str, lang: str) -> None:
    grammar = find if lang == "en" else clock_fr.find
    assert all(0 <= value.hour <= 23 and start < end for start, end, value, _ in grammar(text, REFERENCE))
    found = extract_system(text, lang, REFERENCE)
    assert all(0 <= int(f.value[11:13]) <= 23 for f in found if f.name == "time")


def test_a_span_past_the_calendars_end_is_no_time(caplog: pytest.LogCaptureFixture) -> None:
    """"in 9300165 days" is past year 9999: no time, and nothing logged as a failure."""
    assert find("in 9300165 days", REFERENCE) == [] and clock_fr.find("dans 9300165 jours", REFERENCE) == []
    assert [f for f in extract_system("in 9300165 days", "en", REFERENCE) if f.name == "time"] == []
    assert "failed" not in caplog.text


@pytest.mark.parametrize(("text", "expected"), [
    ("book for Dec 24 at 7pm", ("Dec 24 at 7pm", "2013-12-24T19:00:00.000+00:00", "hour")),
    ("4/25 at 4:00pm", ("4/25 at 4:00pm", "2013-04-25T16:00:00.000+00:00", "minute")),
    ("Monday, Feb 18 at 5pm", ("Monday, Feb 18 at 5pm", "2013-02-18T17:00:00.000+00:00", "hour")),
    ("10/31/74", ("10/31/74", "1974-10-31T00:00:00.000+00:00", "day")),
])
def test_a_date_and_its_clock_time_are_one_time(text: str, expected: tuple[str, str, str]) -> None:
    found = extract_system(text, "en", REFERENCE)
    assert [(f.source, f.value, f.unit) for f in found if f.name == "time"] == [expected]


@pytest.mark.parametrize("text", ["24/7 support", "2/3 of the people", "1/2 hour"])
def test_fractions_are_not_dates(text: str) -> None:
    assert [f.source for f in extract_system(text, "en", REFERENCE) if f.name == "time"] == []


@pytest.mark.parametrize("text", ["in 2 and a half days", "in 3 and 4", "in 2 and a"])
def test_a_number_after_in_is_no_date_without_its_unit(text: str) -> None:
    """dateparser read "in 2 and a" as February 2014 and "in 3 and 4" as March 4th; "in 3 days" and
    "in 2020" stay dates."""
    assert [f.source for f in extract_system(text, "en", REFERENCE) if f.name == "time"] == []
    assert [f.source for f in extract_system("see you in 3 days", "en", REFERENCE) if f.name == "time"] == ["in 3 days"]
    assert [f.source for f in extract_system("in 2020", "en", REFERENCE) if f.name == "time"] == ["in 2020"]
