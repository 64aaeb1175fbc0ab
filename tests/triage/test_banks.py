"""The red-flag floor, shown by properties over the behavioural banks (issue #9, part 1).

tests/data/banks/ was written by a helper who read only PROTOCOL.md (its README.md): red-flag
statements, benign fragments and look-alikes. Composed in any order with connectors, case and
punctuation dropped, a typo, an emoji, a name (`bot.triage.probe`):

- minimum functionality: every bank line alone gets its labelled level (a red flag at least that);
- floor: a reply with a red flag is never below the flag's level;
- look-alikes: never raise a reply beyond max(the reply without them, their own level);
- invariance: "lol", an emoji or a greeting changes nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.triage import classify
from bot.triage.probe import (GREETINGS, NEUTRAL_EMOJI, Composed, compose_floor, compose_lookalike, load_banks,
                              probe_floor, rank)

BANKS = load_banks()
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _alone(fragment, hours=None):
    return classify(fragment.text, fragment.hours if hours is None else hours, region=fragment.region,
                    precautions=fragment.precautions)


# -- Minimum functionality: each line alone ---------------------------------------------------------

@pytest.mark.parametrize("flag", BANKS.redflags, ids=lambda f: f"{f.kind}:{f.text}")
def test_every_red_flag_alone_is_at_least_its_level(flag):
    r = _alone(flag)
    assert rank(r.level) >= rank(flag.level), r.reasons


@pytest.mark.parametrize("lookalike", BANKS.lookalikes, ids=lambda f: f"{f.kind}:{f.text}")
def test_every_lookalike_alone_gets_its_labelled_level(lookalike):
    r = _alone(lookalike)
    assert r.level == lookalike.level, r.reasons


@pytest.mark.parametrize("fragment", BANKS.benign, ids=lambda f: f"{f.kind}:{f.text}")
def test_every_benign_fragment_alone_is_within_the_expected_course(fragment):
    # on the day (the bank's scores are 0-5, within the early band; "tired today" is on the day)
    assert _alone(fragment, hours=6).level in ("expected", "unclear")


# -- Properties over composed replies ---------------------------------------------------------------

@PROPERTY
@given(st.randoms(use_true_random=False))
def test_a_reply_with_a_red_flag_is_never_below_the_flags_level(rng):
    reply, flag = compose_floor(rng, BANKS)
    r = reply.classify()
    assert rank(r.level) >= rank(flag.level), (reply.text, flag.kind, r.reasons)


@PROPERTY
@given(st.randoms(use_true_random=False))
def test_a_lookalike_never_raises_a_reply_beyond_its_own_level(rng):
    with_it, without_it, lookalike = compose_lookalike(rng, BANKS)
    bound = max(rank(without_it.classify().level), rank(lookalike.level))
    r = with_it.classify()
    assert rank(r.level) <= bound, (with_it.text, without_it.text, r.reasons)


@PROPERTY
@given(st.randoms(use_true_random=False), st.sampled_from(("lol", *NEUTRAL_EMOJI, *GREETINGS)),
       st.booleans())
def test_lol_an_emoji_or_a_greeting_never_changes_the_level(rng, extra, kind_of_reply):
    reply = compose_floor(rng, BANKS)[0] if kind_of_reply else compose_lookalike(rng, BANKS)[0]
    text = f"{extra}, {reply.text}" if extra in GREETINGS else f"{reply.text} {extra}"
    more = Composed(text, reply.hours, reply.region, reply.precautions)
    assert more.classify().level == reply.classify().level, (reply.text, text)


def test_the_floor_holds_on_ten_thousand_composed_replies():
    """`flask triage-probe` with its defaults: every failure listed here would be a missed red flag."""
    report = probe_floor(BANKS, n=10_000, seed=9)
    assert report.hold_rate == 1.0, [(f.reply.text, f.flag.kind, f.result.level) for f in report.failures[:20]]
