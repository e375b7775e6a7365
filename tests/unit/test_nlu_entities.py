"""Entities: list entities scored like Botpress, pattern entities, and system entities under Duckling's names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from parley.nlu.entities.lists import ListEntity, extract_list
from parley.nlu.entities.patterns import PatternEntity, extract_pattern
from parley.nlu.entities.system import extract_system
from parley.nlu.service import user_now

CITIES = {"occurrences": [{"name": "New York", "synonyms": ["NYC", "big apple"]},
                          {"name": "Montreal", "synonyms": ["mtl"]}]}


def cities(fuzzy: float) -> ListEntity:
    return ListEntity.from_definition("city", {**CITIES, "fuzzy": fuzzy})


def values(text: str, entity: ListEntity) -> list[tuple[str, str]]:
    return [(f.value, f.source) for f in extract_list(text, entity)]


def test_list_entity_exact_and_synonyms() -> None:
    strict = cities(1.0)
    assert values("flights to NYC please", strict) == [("New York", "NYC")]
    assert values("I live in Montreal", strict) == [("Montreal", "Montreal")]
    assert values("I live in Mtl", strict) == [("Montreal", "Mtl")]  # case differs: still found
    assert values("I live in new yrok", strict) == []  # strict means exact only


def test_list_entity_fuzzy_levels() -> None:
    found = extract_list("I want to go to new yrok tomorrow", cities(0.8))
    assert [(f.value, f.source, f.start, f.end) for f in found] == [("New York", "new yrok", 16, 24)]
    assert 0.6 <= found[0].confidence < 1
    assert found[0].entity_id == "custom.list.city"
    assert values("the big aple", cities(0.8)) == [("New York", "big aple")]
    assert values("montral", cities(0.65)) == [("Montreal", "montral")]
    assert values("nothing to see here", cities(0.65)) == []


def test_list_entity_prefers_the_longest_match() -> None:
    entity = ListEntity.from_definition("drink", {"fuzzy": 0.8, "occurrences": [
        {"name": "tea", "synonyms": []}, {"name": "green tea", "synonyms": []}]})
    assert values("a green tea please", entity) == [("green tea", "green tea")]


def test_pattern_entity() -> None:
    sku = PatternEntity.from_definition("sku", {"pattern": "[A-Z]{2}-\\d{3}", "matchCase": False})
    found = extract_pattern("order ab-123 and CD-456", sku)
    assert [(f.value, f.start, f.end, f.entity_id) for f in found] == [
        ("ab-123", 6, 12, "custom.pattern.sku"), ("CD-456", 17, 23, "custom.pattern.sku")]
    cased = PatternEntity.from_definition("sku", {"pattern": "[A-Z]{2}-\\d{3}", "matchCase": True})
    assert [f.value for f in extract_pattern("order ab-123 and CD-456", cased)] == ["CD-456"]
    named = PatternEntity.from_definition("x", {"pattern": "(?<code>\\d+)-\\k<code>"})  # JavaScript spelling
    assert [f.value for f in extract_pattern("12-12 and 12-13", named)] == ["12-12"]
    with pytest.raises(ValueError):
        PatternEntity.from_definition("bad", {"pattern": "(unclosed"})


def test_a_pattern_that_backtracks_without_end_gives_up_on_that_message(caplog: pytest.LogCaptureFixture) -> None:
    """A bot's pattern with catastrophic backtracking must not hold the server on a crafted message
    (2**28 paths here: minutes for Python's `re`): the message just has no such entity."""
    evil = PatternEntity.from_definition("evil", {"pattern": "^(a|a)*$"})
    assert extract_pattern("a" * 28 + "!", evil) == []
    assert "took over" in caplog.text
    assert [f.value for f in extract_pattern("aaaa", evil)] == ["aaaa"]  # the same pattern still matches


def system(text: str, lang: str = "en") -> list[tuple[str, object, str, str]]:
    now = datetime(2024, 3, 14, 9, 30)
    return [(f.name, f.value, f.unit, f.source) for f in extract_system(text, lang, now)]


def of_dimension(dim: str, lang: str = "en") -> Callable[[str], list[tuple[object, str, str]]]:
    """(value, unit, source) of the entities of one dimension that `system` finds in a text."""
    def read(text: str) -> list[tuple[object, str, str]]:
        return [(value, unit, source) for name, value, unit, source in system(text, lang) if name == dim]
    return read


def test_system_numbers_and_ordinals() -> None:
    assert ("number", 25, "", "twenty five") in system("I need twenty five apples")
    assert ("number", 3.5, "", "3.5") in system("and 3.5 more")
    assert ("number", 1234.5, "", "1,234.5") in system("it is 1,234.5")
    assert ("number", 99, "", "quatre-vingt-dix-neuf") in system("quatre-vingt-dix-neuf poires", "fr")
    assert ("ordinal", 3, "", "third") in system("the third one")
    assert ("ordinal", 21, "", "21st") in system("on the 21st floor")
    assert system("one moment please") == []  # "one" as a word, not a number


def test_numbers_read_as_duckling_reads_them() -> None:
    """Forms from Duckling's corpora that were read wrong: scales after digits, dozens, minus signs in
    words, compound ordinals, fractions before a unit, and each language's own number words."""
    assert ("number", 24, "", "two dozen") in system("two dozen eggs")
    assert ("number", 24, "", "2 dozens") in system("2 dozens eggs")
    assert ("number", 3_000_000, "", "3 million") in system("3 million people")
    assert ("number", 5000, "", "5k") in system("a 5k run")
    assert ("number", -5, "", "minus 5") in system("minus 5")
    assert ("number", -504, "", "negative five hundred and four") in system("negative five hundred and four")
    assert ("ordinal", 25, "", "twenty-fifth") in system("the twenty-fifth")
    assert ("ordinal", 31, "", "thirty first") in system("the thirty first")
    assert ("ordinal", 90, "", "ninetieth") in system("the ninetieth")
    assert ("duration", 1800, "second", "1/2 hour") in system("in 1/2 hour")
    assert ("volume", 0.5, "gallon", "1/2 gallon") in system("1/2 gallon")
    # in English "ten cents" is money; in French "deux cents" is two hundred
    english = system("ten cents")
    assert ("amountOfMoney", 10, "cent", "ten cents") in english and ("number", 1000, "", "ten cents") not in english
    assert ("number", 200, "", "deux cents") in system("deux cents personnes", "fr")


def test_a_run_of_number_words_is_cut_where_english_starts_a_new_number() -> None:
    """Number words compose as in Duckling's English rules: a ten before a unit, what follows a hundred
    or a scale word, and a first unit before a ten with the hundred left unsaid ("one twenty two" is
    122, "three thirty" 330: they were 23 and 33); anything else starts a new number."""
    assert ("number", 122, "", "one twenty two") in system("one twenty two")
    assert [f[1] for f in system("meet me at three thirty") if f[0] == "number"] == [330]
    assert [f[1] for f in system("nine fifty nine") if f[0] == "number"] == [959]
    assert [f[1] for f in system("twenty fifteen") if f[0] == "number"] == [20, 15]
    assert [f[1] for f in system("twelve thirty") if f[0] == "number"] == [12, 30]
    assert [f[1] for f in system("two three") if f[0] == "number"] == [2, 3]
    assert ("number", 21, "", "twenty-one") in system("twenty-one")
    assert ("number", 205, "", "two hundred and five") in system("two hundred and five")
    assert ("number", 1_200_000, "", "one million two hundred thousand") in system("one million two hundred thousand")
    assert ("number", 2020, "", "two thousand and twenty") in system("two thousand and twenty")
    assert [f[1] for f in system("three and four") if f[0] == "number"] == [3, 4]
    assert ("number", 71, "", "soixante et onze") in system("soixante et onze", "fr")


def test_decimals_suffixes_and_fractions_as_duckling_reads_them() -> None:
    """Forms of Duckling's numeral corpus that were missed or misread: "1.2M" was 1, a fraction was two
    numbers, "point" decimals were whole numbers."""
    assert ("number", 1_200_000, "", "1.2M") in system("1.2M")
    assert ("number", 3_000_000, "", "3M") in system("3M")
    assert ("number", 1_200_000, "", ".0012G") in system(".0012G")
    assert ("number", 0.77, "", ".77") in system(".77")
    assert ("number", 0.2, "", "3/15") in system("3/15")
    assert ("number", 1.1, "", "1 point 1") in system("1 point 1")
    assert ("number", 0.77, "", "point 77") in system("point 77")
    assert ("volume", 1.5, "litre", "one point five liters") in system("one point five liters")
    assert [f for f in system("version 1.2b") if f[0] == "number"] == []  # not 1
    assert ("distance", 3, "metre", "3m") in system("3m")  # a lower-case m stays a metre


def test_french_digits_group_thousands_with_dots_or_spaces() -> None:
    """As Duckling's French corpus: "100.000" is a hundred thousand (it was 100), "6 700,54" one number
    (it was 6 and 700.54), "1,2M" 1.2 million."""
    assert ("amountOfMoney", 100_000, "EUR", "100.000 euros") in system("il coûte 100.000 euros", "fr")
    assert ("number", 6700.54, "", "6 700,54") in system("6 700,54", "fr")
    assert ("number", 1_200_000, "", "1,2M") in system("1,2M", "fr")
    assert ("amountOfMoney", 3000, "EUR", "3 000 euros") in system("3 000 euros", "fr")
    assert [f[1] for f in system("3 pommes et 200 poires", "fr") if f[0] == "number"] == [3, 200]


def test_a_scale_word_after_spelled_decimals_scales_the_whole_number() -> None:
    """Duckling's "two point two million" is 2.2 million: it was 2 and 2,000,000, and "one point five
    billion dollars" was five billion dollars."""
    assert ("number", 2_200_000, "", "two point two million") in system("two point two million")
    assert ("number", 1_200_000, "", "1 point 2 million") in system("1 point 2 million")
    assert ("number", 500_000, "", "point five million") in system("point five million")
    assert system("one point five billion dollars")[0] == (
        "amountOfMoney", 1_500_000_000, "$", "one point five billion dollars")
    assert ("number", 2_000_000, "", "two million") in system("two million")
    assert ("number", 100.5, "", "one hundred point five") in system("one hundred point five")


def test_french_thousands_are_numbers_not_phone_numbers() -> None:
    """"3.000.000" is three million in French (Duckling's French corpus); it was a phone number. Groups of
    two digits stay a phone number, and English keeps reading "3.000.000" as one."""
    assert system("3.000.000", "fr") == [("number", 3_000_000, "", "3.000.000")]
    assert ("number", 1_000_000, "", "1 000 000") in system("1 000 000", "fr")
    assert system("01.23.45.67.89", "fr") == [("phoneNumber", "0123456789", "", "01.23.45.67.89")]
    assert system("06 12 34 56 78", "fr") == [("phoneNumber", "0612345678", "", "06 12 34 56 78")]
    assert [f[0] for f in system("3.000.000")] == ["phoneNumber"]


def test_french_amounts_of_money_as_duckling_reads_them() -> None:
    """Forms of Duckling's French money corpus that were missed: codes glued to amounts with a decimal
    comma, centimes after "et", slang and "livres"; and "3 millions d'euros"."""
    money = of_dimension("amountOfMoney", "fr")

    assert money("USD1,23") == [(1.23, "USD", "USD1,23")]
    assert money("EUR29,99") == [(29.99, "EUR", "EUR29,99")]
    assert money("GBP 3,01") == [(3.01, "GBP", "GBP 3,01")]
    assert money("1 USD et 23 centimes") == [(1.23, "USD", "1 USD et 23 centimes")]
    assert money("1 USD 23 cents") == [(1.23, "USD", "1 USD 23 cents")]
    assert ("number", 2300, "", "23 cents") not in system("1 USD 23 cents", "fr")  # digits + "cents" is no 2,300
    assert money("3 balles") == [(3, "unknown", "3 balles")]
    assert money("quasi neuf livres") == [(9, "£", "neuf livres")]
    assert money("3 millions d'euros") == [(3_000_000, "EUR", "3 millions d'euros")]
    assert money("un milliard de dollars") == [(1_000_000_000, "$", "un milliard de dollars")]
    assert money("10 de dollars") == []  # "de" only after millions and billions
    assert ("number", 200, "", "deux cents") in system("deux cents", "fr")


def test_currency_codes_written_against_their_amount() -> None:
    """Duckling's "USD3.14", "42MYR", "RM42", "GBP3.01": the code glued to the digits is still the currency."""
    assert ("amountOfMoney", 3.14, "USD", "USD3.14") in system("USD3.14")
    assert ("amountOfMoney", 42, "MYR", "42MYR") in system("42MYR")
    assert ("amountOfMoney", 42, "MYR", "RM42") in system("pay RM42 now")
    assert ("amountOfMoney", 3.01, "GBP", "GBP3.01") in system("GBP3.01")
    assert [f for f in system("an MP3 player and A4 paper") if f[0] in ("number", "amountOfMoney")] == []


def test_an_ordinal_glued_to_its_ten_as_in_duckling_corpus() -> None:
    assert ("ordinal", 25, "", "twentyfifth") in system("the twentyfifth")
    assert ("ordinal", 42, "", "fortysecond") in system("fortysecond")
    assert [f for f in system("partyfirst") if f[0] == "ordinal"] == []  # only a ten is glued to its ordinal


def test_an_integer_and_a_half_hours_is_a_duration_of_hours() -> None:
    """Duckling's "<integer> and a half hours" (hours only): "two and a half hours" is 150 minutes, not the
    half hour at its end."""
    assert ("duration", 9000, "second", "two and a half hours") in system("two and a half hours")
    assert ("duration", 12600, "second", "3 and a half hours") in system("it took 3 and a half hours")
    assert ("duration", 5400, "second", "one and a half hour") in system("one and a half hour")
    assert ("duration", 5400, "second", "an hour and a half") in system("an hour and a half")


def test_indian_numbering_as_duckling_reads_it() -> None:
    """Lakh (100,000) and crore (10,000,000), in digits and in words ("lac" stays a French lake), and a
    scale of a scale ("three thousand millions")."""
    assert ("number", 3_000_000, "", "30 lakh") in system("30 lakh")
    assert ("number", 1_200_000, "", "12 lakhs") in system("12 lakhs")
    words = "three crore twelve lakh fifty-six thousand seven hundred twenty-one"
    assert ("number", 31_256_721, "", words) in system(words)
    assert ("number", 3_000_000_000, "", "three hundred crores") in system("three hundred crores")
    assert ("number", 3_000_000_000, "", "three thousand millions") in system("three thousand millions")
    assert ("amountOfMoney", 200_000, "INR", "Rs 2 lakh") in system("Rs 2 lakh")
    assert [f for f in system("le lac est beau", "fr") if f[0] == "number"] == []


def test_units_written_against_their_number() -> None:
    assert ("volume", 250, "millilitre", "250ml") in system("I need 250ml of milk")
    assert ("distance", 3, "kilometre", "3km") in system("a 3km walk")
    assert ("quantity", 500, "gram", "500g") in system("500g of strawberries")
    assert ("duration", 7200, "second", "2h") in system("it took 2h")
    assert [f for f in system("the 3rd one at 4pm") if f[0] in ("distance", "quantity", "volume")] == []
    assert ("amountOfMoney", 10, "£", "£10") in system("£10")
    assert ("amountOfMoney", 20, "USD", "20 USD") in system("20 USD")
    assert ("temperature", 70, "fahrenheit", "70 degrees F") in system("70 degrees F")
    assert ("temperature", 37, "celsius", "37 ° celsius") in system("37 ° celsius")
    assert ("temperature", -2, "degree", "2 degrees below zero") in system("2 degrees below zero")


def test_french_ordinals_past_ten_and_first_written_1ere() -> None:
    """Duckling's French ordinal corpus: "1ère", "onzième"; and tens joined to a unit's ordinal, which
    were a number and an ordinal ("trente-deuxième" was 30 and 2)."""
    def ordinals(text: str) -> list[tuple[object, str]]:
        return [(value, source) for name, value, _, source in system(text, "fr") if name == "ordinal"]

    assert ordinals("la 1ère fois") == [(1, "1ère")]
    assert ordinals("1ere") == [(1, "1ere")]
    assert ordinals("le onzième") == [(11, "onzième")]
    assert ordinals("la vingtième") == [(20, "vingtième")]
    assert ordinals("trente-deuxième") == [(32, "trente-deuxième")]
    assert ordinals("vingt et unième") == [(21, "vingt et unième")]
    assert ordinals("dix-septième") == [(17, "dix-septième")]
    assert ordinals("soixante-et-onzième") == [(71, "soixante-et-onzième")]
    assert ordinals("quatre-vingt-dixième") == [(90, "quatre-vingt-dixième")]
    assert [f for f in system("trente-deuxième", "fr") if f[0] == "number"] == []


def test_temperatures_below_zero_without_a_unit_and_in_french() -> None:
    """"2 below zero" is -2 degrees (Duckling's corpus; it was no temperature), "10 degrés en dessous de zéro"
    -10 (it was +10)."""
    temperatures, french_temperatures = of_dimension("temperature"), of_dimension("temperature", "fr")

    assert temperatures("2 below zero") == [(-2, "degree", "2 below zero")]
    assert french_temperatures("10 degrés en dessous de zéro") == [(-10, "degree", "10 degrés en dessous de zéro")]
    assert french_temperatures("10 en dessous de zero") == [(-10, "degree", "10 en dessous de zero")]
    assert temperatures("2 below the line") == []


def test_distances_of_one_system_one_after_the_other_add_up() -> None:
    """Duckling's "7 feet 10 inches" is 94 inches and "2 km and 1 meter" 2,001 metres: each part was a
    distance of its own. "kms" and "yds" are units too."""
    distances = of_dimension("distance")

    assert distances("he is 7 feet 10 inches tall") == [(94, "inch", "7 feet 10 inches")]
    assert distances("2 km and 1 meter") == [(2001, "metre", "2 km and 1 meter")]
    assert distances("2 yards, 7 feet") == [(13, "foot", "2 yards, 7 feet")]
    assert distances("10 kms, 8 meters, 6 cm") == [(1_000_806, "centimetre", "10 kms, 8 meters, 6 cm")]
    assert distances("3 yds") == [(3, "yard", "3 yds")]
    # another system, or a larger unit after a smaller one, is another distance
    assert distances("1 kilometer and 1 mile") == [(1, "kilometre", "1 kilometer"), (1, "mile", "1 mile")]
    assert distances("5 inches or 3 feet") == [(5, "inch", "5 inches"), (3, "foot", "3 feet")]


def test_one_of_a_unit_named_by_a_word_and_french_kitchen_units() -> None:
    """"a kilogram", "a cup of sugar" are quantities of one; "cuillères à soupe" are tablespoons; "un
    demi-litre" half a litre; "une demi heure" half an hour (none was read)."""
    assert ("quantity", 1, "kilogram", "a kilogram") in system("a kilogram of apples")
    assert ("quantity", 1, "cup", "a cup") in system("add a cup of sugar")
    assert ("quantity", 1, "pound", "a lb") in system("a lb of meat")
    assert [f for f in system("a cat and a dog") if f[0] == "quantity"] == []
    assert ("quantity", 3, "tablespoon", "3 Cuillères à soupe") in system("3 Cuillères à soupe de sucre", "fr")
    assert ("quantity", 1, "teaspoon", "une cuillère à café") in system("une cuillère à café", "fr")
    assert ("volume", 0.5, "litre", "un demi-litre") in system("un demi-litre de lait", "fr")
    assert ("volume", 0.25, "litre", "un quart de litre") in system("un quart de litre", "fr")
    assert ("duration", 1800, "second", "une demi heure") in system("pendant une demi heure", "fr")


def test_volumes_durations_and_urls_as_duckling_reads_them() -> None:
    assert ("volume", 1, "litre", "a liter") in system("a liter of milk")
    assert ("volume", 0.5, "gallon", "half a gallon") in system("half a gallon")
    assert ("volume", 0.25, "litre", "a quarter-litre") in system("a quarter-litre")
    assert ("volume", 250, "millilitre", "250mls") in system("250mls")
    assert ("duration", 5400, "second", "an hour and a half") in system("an hour and a half")
    assert ("duration", 1800, "second", "half hour") in system("wait half hour")
    assert ("duration", 1800, "second", "1/2h") in system("1/2h")
    assert ("duration", 31536000 + 172800 + 10800 + 4, "second", "1 year, 2 days, 3 hours and 4 seconds") in system(
        "1 year, 2 days, 3 hours and 4 seconds")
    assert ("url", "https://myserver?foo=bar", "", "https://myserver?foo=bar") in system("https://myserver?foo=bar")
    assert ("url", "www2.foo-bar.net?foo=bar", "", "www2.foo-bar.net?foo=bar") in system("www2.foo-bar.net?foo=bar")


def test_amounts_of_money_as_duckling_reads_them() -> None:
    money = of_dimension("amountOfMoney")

    assert money("20 dollars 43 cents") == [(20.43, "$", "20 dollars 43 cents")]
    assert money("$20 and 43c") == [(20.43, "$", "$20 and 43c")]
    assert money("3 GBP 1 pence") == [(3.01, "GBP", "3 GBP 1 pence")]
    assert money("$20 and 2 pizzas") == [(20, "$", "$20")]  # the pizzas are not cents
    assert money("Rs 20") == [(20, "INR", "Rs 20")]
    assert money("42 malaysian ringgits") == [(42, "MYR", "42 malaysian ringgits")]
    assert money("$10K") == [(10_000, "$", "$10K")]
    assert money("ten pounds") == [(10, "£", "ten pounds")]
    assert money("42 bucks") == [(42, "unknown", "42 bucks")]  # Duckling's own unit for bucks
    # "a dollar" is one (Duckling's corpus), with its cents too
    assert money("it costs a dollar") == [(1, "$", "a dollar")]
    assert money("above a dollar and 42 cents") == [(1.42, "$", "a dollar and 42 cents")]
    assert money("an euro") == [(1, "EUR", "an euro")]
    assert money("a hundred people") == []


@pytest.mark.parametrize("text", [  # found by fuzzing: each gave an entity whose source ran over the phone number
    "a 555-123-4567 pounds", "thirty 555-123-4567 three inches", "kg a 3.000.000 litre", "cups at 3.000.000 one",
    "inch EUR below cuillères cups 7pm 3.000.000 1,5",
])
def test_no_entity_spans_an_email_url_or_phone_number(text: str) -> None:
    for lang in ("en", "fr"):
        found = extract_system(text, lang, datetime(2024, 3, 14, 9, 30))
        phones = [f for f in found if f.name == "phoneNumber"]
        assert phones or lang == "fr"  # "3.000.000" is three million in French
        for f in found:
            assert text[f.start:f.end] == f.source, f
            assert f in phones or not any(f.start < p.end and p.start < f.end for p in phones), f


def test_system_email_url_phone() -> None:
    found = system("write to john.doe@example.com, see https://botpress.com/docs or call +1 514-555-1234")
    assert ("email", "john.doe@example.com", "", "john.doe@example.com") in found
    assert ("url", "https://botpress.com/docs", "", "https://botpress.com/docs") in found
    assert ("phoneNumber", "(+1) 5145551234", "", "+1 514-555-1234") in found  # Duckling's layout


@pytest.mark.parametrize(("text", "value"), [  # Duckling's readings
    ("650-701-8887", "6507018887"), ("(+1)650-701-8887", "(+1) 6507018887"), ("(+1) 650-701-8887", "(+1) 6507018887"),
    ("+1 6507018887", "(+1) 6507018887"), ("+33 1 46647998", "(+33) 146647998"), ("06 2070 2220", "0620702220"),
    ("(650)-701-8887 ext 897", "6507018887 ext 897"), ("+1-202-555-0121", "(+1) 2025550121"),
    ("+1 202.555.0121", "(+1) 2025550121"), ("06354640807", "06354640807"),
])
def test_phone_numbers_as_duckling_writes_them(text: str, value: str) -> None:
    assert [v for name, v, _, _ in system(f"call {text} now") if name == "phoneNumber"] == [value]


def test_system_measures() -> None:
    assert ("amountOfMoney", 20, "$", "$20") in system("it costs $20")
    assert ("amountOfMoney", 15, "EUR", "15 euros") in system("or 15 euros")
    assert ("distance", 5, "kilometre", "5 km") in system("run 5 km")
    assert ("volume", 2, "litre", "2 liters") in system("drink 2 liters")
    assert ("quantity", 3.5, "kilogram", "3.5 kg") in system("3.5 kg of flour")
    assert ("temperature", 25, "celsius", "25°C") in system("it is 25°C")
    assert ("duration", 7200, "second", "2 hours") in system("for 2 hours")
    assert ("duration", 1800, "second", "half an hour") in system("wait half an hour")


def test_system_time() -> None:
    found = [f for f in extract_system("book a table for tomorrow at 7pm", "en", datetime(2024, 3, 14, 9, 30))
             if f.name == "time"]
    assert len(found) == 1
    assert found[0].source == "tomorrow at 7pm"
    assert found[0].value.startswith("2024-03-15T19:00:00")
    assert found[0].unit == "hour"
    assert found[0].entity_id == "system.time"
    french = [f for f in extract_system("rendez-vous demain à 14h", "fr", datetime(2024, 3, 14, 9, 30))
              if f.name == "time"]
    assert french and french[0].value.startswith("2024-03-15T14:00:00")
    assert [f for f in extract_system("may I help you", "en") if f.name == "time"] == []


def test_a_month_name_used_as_a_word_is_no_date() -> None:
    """"march", "may" as verbs: no date, while the same words in a date still are one."""
    now = datetime(2013, 2, 12, 4, 30)

    def times(text: str) -> list[tuple[str, str]]:
        return [(f.source, f.value[:10]) for f in extract_system(text, "en", now) if f.name == "time"]

    assert times("we march on") == []
    assert times("the band will march on") == []
    assert times("we march on tomorrow") == [("tomorrow", "2013-02-13")]
    assert times("see you on march 3") == [("march 3", "2013-03-03")]
    assert times("next march") == [("next march", "2013-03-01")]


def test_system_time_in_the_users_time_zone() -> None:
    """Late evening in Montréal is already tomorrow in UTC: "tomorrow at 7pm" follows the user's day."""
    now = datetime(2024, 3, 14, 22, 30, tzinfo=ZoneInfo("America/Montreal"))  # 02:30 UTC on the 15th
    found = [f for f in extract_system("tomorrow at 7pm", "en", now) if f.name == "time"]
    assert found and found[0].value == "2024-03-15T19:00:00.000-04:00"
    plus_five = datetime(2024, 3, 14, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    found = [f for f in extract_system("tomorrow at 7pm", "en", plus_five) if f.name == "time"]
    assert found and found[0].value == "2024-03-15T19:00:00.000+05:30"


@pytest.mark.parametrize(("where", "offset"), [
    ({"payload": {"text": "hi", "timezone": -5}}, timedelta(hours=-5)),
    ({"payload": {"text": "hi"}, "state": {"user": {"timezone": 5.5}}}, timedelta(hours=5, minutes=30)),
    ({"payload": {"text": "hi"}, "state": {"user": {"timezone": "Asia/Tokyo"}}}, timedelta(hours=9)),
])
def test_the_users_time_zone_comes_from_the_message_or_their_attributes(where: dict[str, object],
                                                                       offset: timedelta) -> None:
    now = user_now(where)
    assert now is not None and now.utcoffset() == offset


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", 99, True, None, {"h": 1}])
def test_an_unknown_time_zone_means_the_servers(bad: object) -> None:
    assert user_now({"payload": {"timezone": bad}, "state": {"user": {}}}) is None
