"""The triage rules of PROTOCOL.md section 5, one small function each, in the protocol's order.

Every rule looks at the `Facts` (what the reply says, read by `reading.py`, plus the context) and
returns the words that made it fire, or None. Each registers itself just after its body
(`rule("E1", ...)(breathing_or_chest_symptom)`) rather than with a decorator: mutmut leaves
decorated functions alone, and `make mutation` must reach every rule (tests/MUTATION.md).
`apply` runs them all; the reply's level is the highest that fired. R10 and "a second `monitor` in a row becomes `routine`" depend on earlier
replies and belong to the conversation layer, not here.

`S` is the soreness (the stated score, or the stand-in of an intensity word, or the previous score
carried by "same"); `P` the previous score (or one the patient quotes: "was a 7 yesterday");
`h` the hours since the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

from bot.protocol import PROTOCOL
from bot.triage.lexicon import LEXICON
from bot.triage.reading import CURRENT, HAPPENED, HYPOTHETICAL, NEGATED, PAST, RESOLVED, Mention, Reading

T = LEXICON.thresholds
_BAND = {w.name: w.expected_max_soreness for w in PROTOCOL.windows}   # window -> the expected band's top
INFECTION_RISK = frozenset({"diabetes", "immunosuppressed"})
_REPORTED = HAPPENED | {RESOLVED}             # now, in doubt, past, or passed
_MENTIONED = HAPPENED | {HYPOTHETICAL}        # ... or asked about
_RESOLVED = frozenset({RESOLVED})
LOCAL_SIGNS = ("redness", "red_streak", "warmth", "swelling", "discharge")
FEVER = ("fever", "chills")


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the reading of the reply, and its context."""

    reading: Reading
    hours: float
    window: str
    region: str | None
    precautions: frozenset[str]
    previous: int | None
    soreness: int | None           # S
    soreness_words: str            # what S was read from, for reasons
    reference: int | None          # P
    improving: bool
    worsening: bool
    worsening_words: str

    def has(self, *findings: str, statuses: frozenset[str] = HAPPENED) -> list[Mention]:
        """Findings reported as now, in doubt, or in the past without having passed."""
        return [m for f in findings for m in self.reading.by_finding.get(f, ()) if m.status in statuses]

    def modified(self, finding: str, *mods: str, statuses: frozenset[str] = HAPPENED) -> list[Mention]:
        return [m for m in self.has(finding, statuses=statuses) if not m.modifiers.isdisjoint(mods)]

    @property
    def lung_risk(self) -> bool:
        """The region is a lung-risk one, or unknown (which cannot rule it out)."""
        return self.region is None or self.region in PROTOCOL.lung_risk_regions

    @property
    def breathing_symptom(self) -> list[Mention]:
        return [m for m in self.reading.mentions if m.red_flag and m.status in HAPPENED]


class Hit(NamedTuple):
    rule: str
    level: str
    reason: str


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    check: Callable[[Facts], "str | None"]    # the words that made it fire, or None


RULES: list[Rule] = []


def rule(rule_id: str, level: str) -> Callable:
    """Register a rule; `apply` runs them all, in the order they are registered."""
    def register(fn: Callable[[Facts], "str | None"]) -> Callable[[Facts], "str | None"]:
        RULES.append(Rule(rule_id, level, fn))
        return fn
    return register


def quote(mentions) -> str | None:
    """The patient's words behind some findings, for a reason ("'hurts when i breathe in'",
    "'bruise' (large)"); each distinct one once."""
    if not mentions:
        return None
    seen = dict.fromkeys(
        f"'{m.words}' ({', '.join(sorted(m.modifiers))})" if m.modifiers else f"'{m.words}'" for m in mentions
    )
    return ", ".join(seen)


def first(*parts: str | None) -> str | None:
    return " + ".join(filter(None, parts)) or None


def all_of(*parts: str | None) -> str | None:
    return " + ".join(parts) if all(parts) else None  # type: ignore[arg-type]


# -- Emergency ------------------------------------------------------------------------------------

def breathing_or_chest_symptom(f: Facts) -> str | None:
    """Any breathing or chest symptom, current or in doubt, in any region, at any time; a new
    cough with chest or upper-back pain. A bare breathing or chest word that the patient does not
    say is fine is kept in doubt: Aftercare never downgrades a breathing or chest complaint."""
    symptoms = quote(f.breathing_symptom)
    if symptoms:
        return symptoms
    cough = f.has("cough", statuses=HAPPENED)
    if cough:
        back = f.has("shoulder_blade_pain", "chest_pain", statuses=HAPPENED)
        in_region = f.soreness and f.region is not None and PROTOCOL.is_lung_risk([f.region])
        if back or in_region:
            return all_of(quote(cough), quote(back) or f"soreness in the {f.region}")
    bare = [m for m in f.reading.topics if m.status in HAPPENED]
    if bare:
        return f"{quote(bare)} (not said to be fine)"
    return None
rule("E1", "emergency")(breathing_or_chest_symptom)


def fainted_with_danger_signs(f: Facts) -> str | None:
    """Fainted after leaving the clinic and chest or breathing symptoms, still dizzy now, hurt in
    the fall, or `anticoagulant`."""
    fainted = _fainted_after_leaving(f)
    if not fainted:
        return None
    return all_of(quote(fainted), first(
        quote(f.breathing_symptom),
        quote(f.has("dizzy", statuses=CURRENT)),
        quote(f.has("fall_injury", statuses=_REPORTED)),   # hurt in the fall, healed or not
        "anticoagulant" if "anticoagulant" in f.precautions else None,
    ))
rule("E2", "emergency")(fainted_with_danger_signs)


def stroke_like_signs(f: Facts) -> str | None:
    """New weakness or numbness in both arms or both legs, or an arm and a leg on one side; face
    drooping, slurred speech or confusion. One that has already passed is still E3: E3 does not ask
    for it to be current, and a stroke warning that passes is still one."""
    return first(
        quote(f.modified("numbness", "bilateral", statuses=_REPORTED)),
        quote(f.modified("weakness", "bilateral", statuses=_REPORTED)),
        quote(f.has("face_droop", "slurred_speech", "confusion", statuses=_REPORTED)),
    )
rule("E3", "emergency")(stroke_like_signs)


def fever_with_sepsis_signs(f: Facts) -> str | None:
    """Fever or chills with a racing heart, fast breathing, confusion, fainting, vomiting or rapidly
    spreading redness; or fever with any infection sign in `diabetes` or `immunosuppressed`."""
    fever = f.has(*FEVER)
    if not fever:
        return None
    signs = first(
        quote(f.has("racing_heart", "fast_breathing", "confusion", "vomiting")),
        quote(f.has("fainted", statuses=HAPPENED)),
        quote(f.modified("redness", "fast_growing")),
    )
    if not signs and f.precautions & INFECTION_RISK:
        signs = first(quote(f.has(*LOCAL_SIGNS)), ", ".join(sorted(f.precautions & INFECTION_RISK)))
        signs = signs if f.has(*LOCAL_SIGNS) else None
    return all_of(quote(fever), signs)
rule("E4", "emergency")(fever_with_sepsis_signs)


def swelling_with_compromise(f: Facts) -> str | None:
    """Swelling at a needled area that keeps growing or is tight or hard, together with severe pain,
    numbness or a pale or cold limb."""
    swelling = f.modified("swelling", "growing", "fast_growing", "tight_hard")
    if not swelling:
        return None
    severe = f"soreness {f.soreness} ({f.soreness_words})" if (f.soreness or 0) >= 9 else None
    return all_of(quote(swelling), first(severe, quote(f.has("numbness", "pale_cold_limb"))))
rule("E5", "emergency")(swelling_with_compromise)


def bleeding_that_will_not_stop(f: Facts) -> str | None:
    """Bleeding that will not stop after 10 minutes of firm pressure (design): said so ("won't
    stop", "keeps bleeding"), or still bleeding or oozing after the patient pressed on it for
    10 minutes or more, or for a time they do not give (safety first)."""
    wont_stop = quote(f.modified("bleeding", "wont_stop"))
    if wont_stop:
        return wont_stop
    pressed = f.reading.pressure_minutes
    if pressed is None or 0 <= pressed < T["firm_pressure_minutes"]:
        return None
    still = [m for m in f.has("bleeding", "discharge", statuses=CURRENT)
             if "stopped" not in m.modifiers]
    when = f"{pressed:g} minutes of pressure" if pressed >= 0 else "pressure"
    return all_of(quote(still), when)
rule("E6", "emergency")(bleeding_that_will_not_stop)


def thunderclap_headache_or_meningism(f: Facts) -> str | None:
    """Sudden worst-ever headache; stiff neck with vomiting (design). A headache said to be sudden,
    or the worst ever, is taken as this one (safety first)."""
    sudden_severe = [m for m in f.has("headache") if not m.modifiers.isdisjoint(("sudden", "worst"))]
    return first(
        quote(f.has("worst_headache")),
        quote(sudden_severe),
        all_of(quote(f.has("stiff_neck")), quote(f.has("vomiting", statuses=HAPPENED))),
    )
rule("E7", "emergency")(thunderclap_headache_or_meningism)


# -- Urgent ---------------------------------------------------------------------------------------

def infection_signs(f: Facts) -> str | None:
    """Redness spreading, warmth, increasing swelling, pus, a red streak; or fever or chills (E4
    takes those with its features). A swelling or redness turned hard ("inflamed and hard",
    "hinchado y duro") is an infection sign too, unless E5 takes it or it is said to be small (M5).
    With `diabetes` or `immunosuppressed`, any one local sign (redness, warmth, swelling at a
    needle site) after 24 h."""
    fever = f.has(*FEVER)
    signs = first(
        quote(f.modified("redness", "growing", "fast_growing")),
        quote(f.has("red_streak", "warmth", "discharge")),
        quote(f.modified("swelling", "growing", "fast_growing")),
        None if swelling_with_compromise(f) else quote(_hard_not_small(f)),
        quote(fever) if fever and not fever_with_sepsis_signs(f) else None,
    )
    if signs:
        return signs
    if _local_sign_is_urgent(f):
        local = quote(f.has("redness", "warmth", "swelling", "lump"))
        return all_of(local, ", ".join(sorted(f.precautions & INFECTION_RISK)))
    return None
rule("U1", "urgent")(infection_signs)


def weakness_of_treated_limb(f: Facts) -> str | None:
    """Weakness of the treated limb: wrist or foot drop, weak grip, can't lift the arm."""
    return quote(_one_sided(f.has("weakness")))
rule("U2", "urgent")(weakness_of_treated_limb)


def severe_soreness(f: Facts) -> str | None:
    """S >= 8 at any time."""
    if f.soreness is not None and f.soreness >= T["urgent_soreness"]:
        return f"soreness {f.soreness} ({f.soreness_words})"
    return None
rule("U3", "urgent")(severe_soreness)


def anticoagulant_with_large_bruise_or_rebleed(f: Facts) -> str | None:
    """`anticoagulant` with a bruise larger than the palm, a bruise getting bigger, or bleeding
    that restarted."""
    if "anticoagulant" not in f.precautions:
        return None
    return all_of(first(
        quote(f.modified("bruise", "large", "growing", "fast_growing")),
        quote(f.modified("bleeding", "restarted")),
    ), "anticoagulant")
rule("U4", "urgent")(anticoagulant_with_large_bruise_or_rebleed)


def fainted_and_recovered_or_still_dizzy(f: Facts) -> str | None:
    """Fainted after leaving the clinic and fully recovered (no E2 features); or dizziness still
    present more than 2 hours after the session."""
    dizzy = f.has("dizzy", statuses=CURRENT)
    still_dizzy = [
        m for m in dizzy if f.hours > T["dizziness_after_hours"] and not (_in_clinic(m) or "on_way_home" in m.modifiers)
    ]
    after_leaving = _fainted_after_leaving(f)
    fainted = quote(after_leaving) if after_leaving and not fainted_with_danger_signs(f) else None
    return first(fainted, quote(still_dizzy))
rule("U5", "urgent")(fainted_and_recovered_or_still_dizzy)


def sharp_pain_at_shoulder_blade_or_chest_wall(f: Facts) -> str | None:
    """Lung-risk region with new or increasing sharp pain at the shoulder blade or chest wall and
    no breathing symptom (the patient is also told: if breathing becomes hard or painful, call 911).
    A sharp pain there is taken as new, even when the soreness is said to be better (safety first)."""
    if not f.lung_risk or f.breathing_symptom:
        return None
    # the pain at the shoulder blade said to be sharp, or a sharp pain said with it ("dolor agudo
    # y nuevo en el omóplato")
    sharp_clauses = {m.clause for m in f.modified("soreness", "sharp")}
    return quote(f.modified("shoulder_blade_pain", "sharp")
                 or [m for m in f.has("shoulder_blade_pain") if m.clause in sharp_clauses])
rule("U6", "urgent")(sharp_pain_at_shoulder_blade_or_chest_wall)


def resolved_breathing_or_chest_symptom(f: Facts) -> str | None:
    """A breathing or chest symptom that has fully resolved; E1's cough with chest or upper-back
    pain too, when both have passed."""
    resolved = quote([m for m in (*f.reading.mentions, *f.reading.topics) if m.red_flag and m.status == RESOLVED])
    if resolved:
        return resolved
    cough = f.has("cough", statuses=_RESOLVED)
    return all_of(quote(cough), quote(f.has("shoulder_blade_pain", statuses=_RESOLVED))) if cough else None
rule("U7", "urgent")(resolved_breathing_or_chest_symptom)


# -- Routine --------------------------------------------------------------------------------------

def day2_soreness_not_improving(f: Facts) -> str | None:
    """Day 2: S >= 4 and not improving (no improving trend, and P unknown or S >= P)."""
    if f.window != "day2" or f.soreness is None or f.soreness < 4 or f.improving:
        return None
    if f.reference is not None and f.soreness < f.reference:
        return None
    return f"soreness {f.soreness} ({f.soreness_words}) on day 2, not improving"
rule("R1", "routine")(day2_soreness_not_improving)


def soreness_worsening_from_day2(f: Facts) -> str | None:
    """From day 2 on: S >= P + 2, or the patient says the soreness is getting worse."""
    if f.window not in ("day2", "day3", "late") or not f.worsening:
        return None
    return f"soreness worse ({f.worsening_words})"
rule("R2", "routine")(soreness_worsening_from_day2)


def soreness_lasting(f: Facts) -> str | None:
    """Day 3: S >= 3. Late: S >= 2."""
    limit = {"day3": 3, "late": 2}.get(f.window)
    if limit is not None and f.soreness is not None and f.soreness >= limit:
        return f"soreness {f.soreness} ({f.soreness_words}) on {f.window}"
    return None
rule("R3", "routine")(soreness_lasting)


def flare_after_48h(f: Facts) -> str | None:
    """After 48 h: the usual symptoms still worse than before the session."""
    if f.hours <= T["lingering_hours"]:
        return None
    return quote(f.has("flare"))
rule("R4", "routine")(flare_after_48h)


def large_or_growing_or_lasting_bruise(f: Facts) -> str | None:
    """A large bruise ("bigger than my palm", "huge") or one getting bigger, not `anticoagulant`
    (U4 takes those); any bruise still there after 14 days."""
    lasting = f.has("bruise") if f.hours >= T["late_bruise_hours"] else ()
    large = () if "anticoagulant" in f.precautions else f.modified("bruise", "large", "growing", "fast_growing")
    return first(quote(large), quote(lasting))
rule("R5", "routine")(large_or_growing_or_lasting_bruise)


def numbness_lasting(f: Facts) -> str | None:
    """Numbness or tingling lasting more than 24 hours, without weakness."""
    if f.hours <= T["numbness_hours"] or _one_sided(f.has("weakness")):
        return None
    return quote(_one_sided(f.has("numbness", "tingling")))
rule("R6", "routine")(numbness_lasting)


def tiredness_or_nausea_lasting(f: Facts) -> str | None:
    """Tiredness, drowsiness or nausea lasting more than 48 hours."""
    if f.hours <= T["lingering_hours"]:
        return None
    return quote(f.has("fatigue", "nausea"))
rule("R7", "routine")(tiredness_or_nausea_lasting)


def for_a_person(f: Facts) -> str | None:
    """A question the bot cannot answer; the patient says they will stop treatment because of
    soreness; `pregnancy` mentioned for the first time."""
    r = f.reading
    band = _BAND[f.window]
    within_course = f.soreness is None or f.soreness <= band
    answerable = r.question_answerable and within_course
    question = f"asks '{r.question_words}'" if r.is_question and not answerable else None
    pregnancy = None if "pregnancy" in f.precautions else quote(f.has("pregnancy", statuses=_MENTIONED))
    return first(question, quote(f.has("stop_treatment", statuses=HAPPENED)), pregnancy)
rule("R8", "routine")(for_a_person)


def lump_a_week_later(f: Facts) -> str | None:
    """A lump or sore at a needle site a week or more later."""
    if f.hours < T["late_lump_hours"]:
        return None
    return quote(f.has("lump", "site_sore"))
rule("R9", "routine")(lump_a_week_later)


# -- Monitor --------------------------------------------------------------------------------------

def early_soreness_7(f: Facts) -> str | None:
    """Early: S = 7."""
    return f"soreness 7 ({f.soreness_words}) early" if f.window == "early" and f.soreness == 7 else None
rule("M1", "monitor")(early_soreness_7)


def day1_soreness_high_or_worse(f: Facts) -> str | None:
    """Day 1: S = 6 or 7; or S >= P + 2, or worse in the patient's words (late onset is allowed in
    the first 24 h, so it is re-checked rather than escalated)."""
    if f.window != "day1":
        return None
    if f.soreness in (6, 7):
        return f"soreness {f.soreness} ({f.soreness_words}) on day 1"
    if f.worsening:
        return f"soreness worse ({f.worsening_words}) on day 1"
    return None
rule("M2", "monitor")(day1_soreness_high_or_worse)


def day2_soreness_improving(f: Facts) -> str | None:
    """Day 2: S of 4 to 7 and improving (an improving trend, or S < P)."""
    if f.window != "day2" or f.soreness is None or not 4 <= f.soreness <= 7:
        return None
    if f.improving or (f.reference is not None and f.soreness < f.reference):
        return f"soreness {f.soreness} ({f.soreness_words}) on day 2, improving"
    return None
rule("M3", "monitor")(day2_soreness_improving)


def passing_lightheadedness_nausea_headache(f: Facts) -> str | None:
    """Light-headedness in the clinic or on the way home that has passed, or a faint in the clinic;
    nausea; a headache that is not sudden and severe."""
    passed_dizzy = [
        m for m in f.reading.mentions
        if m.finding == "dizzy" and (
            m.status in (PAST, RESOLVED)
            or (m.status in CURRENT and (f.hours <= T["dizziness_after_hours"] or m.modifiers & {"in_clinic", "on_way_home"}))
        )
    ]
    fainted = f.has("fainted", statuses=_REPORTED)
    faint_in_clinic = [m for m in fainted if _in_clinic(m)]
    headache = f.has("headache")
    if headache and thunderclap_headache_or_meningism(f):
        headache = []
    return first(
        quote(passed_dizzy), quote(faint_in_clinic), quote(f.has("nausea", "vomiting")), quote(headache),
    )
rule("M4", "monitor")(passing_lightheadedness_nausea_headache)


def small_local_redness_or_swelling(f: Facts) -> str | None:
    """A small pink spot or slight swelling at a needle point, not spreading, not warm, no fever."""
    if f.has("warmth", *FEVER) or _local_sign_is_urgent(f):
        return None                      # U1 takes these
    late = f.hours >= T["late_lump_hours"]
    hard = _hard_not_small(f)
    calm = [
        m for m in f.has("redness", "swelling", "lump")
        if not m.modifiers & {"growing", "fast_growing"}                  # U1 / E5 take these
        and not (m in hard)                                               # U1 / E5
        and not (late and m.finding == "lump")                            # R9 takes these
    ]
    return quote(calm)
rule("M5", "monitor")(small_local_redness_or_swelling)


def anticoagulant_with_small_bruise(f: Facts) -> str | None:
    """`anticoagulant` with a small bruise (smaller than the palm, not growing)."""
    if "anticoagulant" not in f.precautions:
        return None
    small = [m for m in f.has("bruise") if not m.modifiers & {"large", "growing", "fast_growing"}]
    return all_of(quote(small), "anticoagulant")
rule("M6", "monitor")(anticoagulant_with_small_bruise)


def early_numbness_or_tingling(f: Facts) -> str | None:
    """Numbness or tingling in the first 24 hours, without weakness."""
    if f.hours > T["numbness_hours"] or _one_sided(f.has("weakness")):
        return None
    return quote(_one_sided(f.has("numbness", "tingling")))
rule("M7", "monitor")(early_numbness_or_tingling)


def _local_sign_is_urgent(f: Facts) -> bool:
    """U1 with `diabetes` or `immunosuppressed`: any one local sign once more than 24 h have passed."""
    return bool(f.precautions & INFECTION_RISK) and f.hours > T["local_sign_after_hours"]


def _hard_not_small(f: Facts) -> list[Mention]:
    """A swelling or redness turned hard, not said to be small ("a small firm red bump" is M5's)."""
    return [m for m in f.modified("swelling", "tight_hard") + f.modified("redness", "tight_hard")
            if "small" not in m.modifiers]


def _one_sided(mentions) -> list[Mention]:
    """Numbness, tingling or weakness that is not E3's (both sides, or an arm and a leg)."""
    return [m for m in mentions if "bilateral" not in m.modifiers]


def _in_clinic(m: Mention) -> bool:
    """In the clinic, unless also said to be after leaving ("passed out in the car park after",
    "fainted at home")."""
    return "in_clinic" in m.modifiers and not m.modifiers & {"after_leaving", "on_way_home"}


def _fainted_after_leaving(f: Facts) -> list[Mention]:
    fainted = f.has("fainted", statuses=_REPORTED)
    return [m for m in fainted if not _in_clinic(m)]


def apply(facts: Facts) -> list[Hit]:
    """Every rule that fires, highest level first (the protocol's order within a level)."""
    hits = []
    for r in RULES:
        words = r.check(facts)
        if words:
            hits.append(Hit(r.id, r.level, f"{r.id}: {words}"))
    return hits


if [PROTOCOL.rank(r.level) for r in RULES] != sorted((PROTOCOL.rank(r.level) for r in RULES), reverse=True):
    raise RuntimeError("rules must be registered highest level first: `apply` relies on it")


def expected_reason(facts: Facts) -> str:
    """Why a reply with no rule firing is `expected` (section 5, "Expected")."""
    r = facts.reading
    parts = []
    if facts.soreness is not None:
        parts.append(f"soreness {facts.soreness} ({facts.soreness_words}) within {facts.window} band "
                     f"0-{_BAND[facts.window]}")
    things = quote([m for m in r.mentions if m.status in _REPORTED])
    if things:
        parts.append(things)
    if r.wellness:
        parts.append(", ".join(f"'{w}'" for w in dict.fromkeys(r.wellness)))
    if r.is_question and r.question_answerable:
        parts.append(f"answerable question '{r.question_words}'")
    denied = quote([m for m in (*r.mentions, *r.topics) if m.status == NEGATED])
    if denied:
        parts.append(f"denied {denied}")
    if r.harmless:
        parts.append("harmless " + ", ".join(f"'{w}'" for w in dict.fromkeys(r.harmless)))
    return "expected: " + ("; ".join(parts) if parts else "nothing of concern")
