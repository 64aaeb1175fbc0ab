"""Section 4: the soreness score, and numbers that are not one."""

from __future__ import annotations

import pytest

from .helpers import result


@pytest.mark.parametrize("text, score", [
    ("6", 6),
    ("a 6", 6),
    ("still like a 6", 6),
    ("7/10", 7),
    ("7 / 10", 7),
    ("7 out of 10", 7),
    ("about 3 out of ten", 3),
    ("six", 6),
    ("it's a six today", 6),
    ("0", 0),
    ("10/10 awful", 10),
    ("seis", 6),
    ("un 4", 4),
    ("como un 5 de 10", 5),
    ("siete", 7),
    ("sigue en tres", 3),
    ("cero dolor", 0),
])
def test_a_stated_score_is_read_in_digits_or_words(text, score):
    assert result(text).soreness == score


@pytest.mark.parametrize("text, score", [
    ("4-5", 5),
    ("maybe 4 or 5", 5),
    ("2 to 3", 3),
    ("entre 3 y 4", 4),
    ("6-7 out of 10", 7),
    ("0-1", 1),
])
def test_a_range_takes_its_midpoint_rounded_up(text, score):
    assert result(text).soreness == score


def test_a_decimal_score_rounds_up():
    assert result("soreness maybe 2.5").soreness == 3


@pytest.mark.parametrize("text", [
    "had 3 needles",
    "after 2 days",
    "took 2 advil",
    "woke up at 9pm",
    "called at 9 to ask",
    "911",
    "temp 100.4",
    "day 2 now",
    "my 6 year old kid",
    "next visit is 3/14",
    "le pusieron 3 agujas",
    "tomé 2 pastillas",
    "a las 9 de la noche",
    "hace 2 dias",
    "12 hour shift",
])
def test_numbers_that_are_not_scores_are_not_read_as_scores(text):
    assert result(text).soreness is None


def test_needle_count_is_not_a_score_but_the_score_beside_it_is():
    assert result("had 5 needles, sore maybe a 3").soreness == 3


def test_an_earlier_score_is_not_the_current_one():
    assert result("was a 7 yesterday, now a 4").soreness == 4
    assert result("went from 7 to 4").soreness == 4
    assert result("4 hoy, ayer estaba en 7").soreness == 4


def test_an_earlier_score_alone_gives_a_trend_not_a_score():
    r = result("it was a 7 last night, much better today", hours=30)
    assert r.soreness is None
    assert "improving" in r.symptoms


def test_texting_2_for_to_is_not_a_score():
    r = result("hurts 2 breathe")
    assert r.soreness is None
    assert r.level == "emergency"


@pytest.mark.parametrize("text, stand_in, level_on_day2", [
    ("a bit sore", 2, "expected"),            # 2 <= 3
    ("mildly sore", 2, "expected"),
    ("sore", 4, "routine"),                   # R1: S >= 4 on day 2, not improving
    ("moderate", 4, "routine"),
    ("very sore", 6, "routine"),
    ("pretty bad", 6, "routine"),
    ("unbearable", 9, "urgent"),              # U3
    ("can't sleep for the pain", 9, "urgent"),
    ("un poco adolorido", 2, "expected"),
    ("me duele", 4, "routine"),
    ("muy adolorida", 6, "routine"),
    ("dolor insoportable", 9, "urgent"),
])
def test_intensity_words_stand_in_for_a_score_but_leave_it_empty(text, stand_in, level_on_day2):
    r = result(text, hours=40)
    assert r.soreness is None
    assert r.level == level_on_day2


def test_a_stated_number_beats_intensity_words():
    r = result("pretty sore, maybe a 3", hours=40)
    assert r.soreness == 3
    assert r.level == "expected"


def test_same_carries_the_previous_score():
    assert result("same as yesterday", hours=40, previous_soreness=5).level == "routine"   # S = 5: R1
    assert result("igual", hours=40, previous_soreness=2).level == "expected"
    assert result("same as yesterday", hours=40, previous_soreness=5).soreness is None


def test_same_without_a_previous_score_is_not_assessable():
    assert result("same").level == "unclear"


@pytest.mark.parametrize("text, score", [
    ("soreness is 8/10 k", 8),           # "k" for "ok" after a score on a scale
    ("nine out of ten k", 9),
    ("did a 10 k, legs 4/10", 4),        # a 10 k run is no score; the scaled one is
])
def test_a_score_on_a_scale_is_a_score_whatever_follows_it(text, score):
    assert result(text, hours=20).soreness == score
