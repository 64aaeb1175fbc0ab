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

import dataclasses

import pytest
from conftest import ascii_id
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.triage import classify
from bot.triage.probe import (BANKS_DIR, GREETINGS, NEUTRAL_EMOJI, Composed, compose_floor, compose_lookalike,
                              load_banks, probe_floor, rank)

BANKS = load_banks()
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _alone(fragment, hours=None):
    return classify(fragment.text, fragment.hours if hours is None else hours, region=fragment.region,
                    precautions=fragment.precautions)


# -- Minimum functionality: each line alone ---------------------------------------------------------

@pytest.mark.parametrize("flag", BANKS.redflags, ids=lambda f: ascii_id(f"{f.kind}:{f.text}"))
def test_every_red_flag_alone_is_at_least_its_level(flag):
    r = _alone(flag)
    assert rank(r.level) >= rank(flag.level), r.reasons


@pytest.mark.parametrize("lookalike", BANKS.lookalikes, ids=lambda f: ascii_id(f"{f.kind}:{f.text}"))
def test_every_lookalike_alone_gets_its_labelled_level(lookalike):
    r = _alone(lookalike)
    assert r.level == lookalike.level, r.reasons


@pytest.mark.parametrize("fragment", BANKS.benign, ids=lambda f: ascii_id(f"{f.kind}:{f.text}"))
def test_every_benign_fragment_alone_is_within_the_expected_course(fragment):
    # on the day (the bank's scores are 0-5, within the early band; "tired today" is on the day)
    assert _alone(fragment, hours=6).level in ("expected", "unclear")


# "ok" or "thanks" closes a message; it is no verdict on the breathing or chest word a complaint
# before it is about ("it hurts when I breathe in ok", "me duele el pecho ok"). A thumbs-up is read
# as "ok". A bare "k" is left out: after a number it is read as kilometres ("ran a 10 k").
CLOSINGS = ("ok", "👍", "ok thanks", "thanks", "okay thank you", "gracias", "bien gracias", "ok gracias")


@pytest.mark.parametrize("closing", CLOSINGS)
def test_a_closing_ok_or_thanks_never_takes_a_red_flag_below_its_level(closing):
    below = [(flag.kind, flag.text) for flag in BANKS.redflags
             if rank(_alone(dataclasses.replace(flag, text=f"{flag.text} {closing}")).level) < rank(flag.level)]
    assert below == []


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


# -- The command ---------------------------------------------------------------------------------

@pytest.fixture
def runner():
    from flask import Flask
    from bot.triage.cli import bp
    app = Flask("t")
    app.register_blueprint(bp)
    return app.test_cli_runner()


def test_triage_probe_prints_the_floors_hold_rate_the_same_for_the_same_seed(runner):
    first = runner.invoke(args=["triage-probe", "--n", "300", "--seed", "4"])
    again = runner.invoke(args=["triage-probe", "--n", "300", "--seed", "4"])
    assert first.exit_code == 0 and first.output == again.output
    assert "red-flag floor held on 300 of 300 composed replies (100.00 %), seed 4" in first.output


def test_triage_probe_lists_the_replies_that_fall_below_their_red_flag(runner, tmp_path):
    # a bank whose "red flag" is harmless: every composed reply falls below it, and is listed
    for name in ("benign.jsonl", "lookalikes.jsonl"):
        (tmp_path / name).write_text((BANKS_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "redflags.jsonl").write_text(
        '{"text": "sunny out today", "rule": "E1", "level": "emergency", "lang": "en", "context": {}}\n',
        encoding="utf-8")
    out = runner.invoke(args=["triage-probe", "--n", "20", "--banks", str(tmp_path), "--show", "2"])
    assert out.exit_code == 0
    assert "held on 0 of 20" in out.output and "red flag E1 (emergency): 'sunny out today'" in out.output
    assert "... and 18 more (--show)" in out.output


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "--n"),
    (["--banks", "/no/such/dir"], "--banks"),
])
def test_triage_probe_names_the_option_it_cannot_use(runner, args, message):
    out = runner.invoke(args=["triage-probe", *args])
    assert out.exit_code != 0 and message in out.output


def test_triage_probe_names_a_bank_it_cannot_read(runner, tmp_path):
    out = runner.invoke(args=["triage-probe", "--banks", str(tmp_path)])
    assert out.exit_code != 0 and "cannot read the banks" in out.output
