"""When each check-in goes out: pure functions of the session, the clinic's settings, the protocol and `now`.

Nothing here reads the clock or the database. The dispatcher and the conversation pass in what
they know and apply what comes back.

Offsets of whole days (+24 h, +48 h, day 7) are counted on the patient's wall clock, so a text
planned for 3 pm still comes at 3 pm after a daylight-saving change; shorter offsets (+4 h, the
extra check-in 6 h later) are elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .protocol import PROTOCOL, Protocol

# Precautions that always ask for the day-7 check-in (C5), and the one that does with a lung-risk region.
C5_PRECAUTIONS = frozenset({"diabetes", "immunosuppressed"})
# Rules whose findings ask for C5: infection (U1, E4) and breathing (E1, U7).
C5_RULES = frozenset({"U1", "E4", "E1", "U7"})


@dataclass(frozen=True)
class QuietHours:
    """A daily window, patient-local, in which no check-in or reminder is sent (may span midnight)."""

    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def end_after(self, local: datetime) -> datetime:
        """The first end of the window at or after `local` (same zone as `local`)."""
        candidate = at_local(local, local.date(), self.end)
        if candidate < local:
            candidate = at_local(local, local.date() + timedelta(days=1), self.end)
        return candidate


@dataclass(frozen=True)
class PlannedCheckIn:
    protocol_id: str
    due_at: datetime  # UTC


@dataclass(frozen=True)
class CheckInState:
    """What the planner needs to know of an existing check-in row."""

    id: int
    protocol_id: str
    status: str
    due_at: datetime


@dataclass(frozen=True)
class Finding:
    """What the planner needs to know of one assessment."""

    level: str
    rules: frozenset[str]
    symptoms: frozenset[str]
    protocol_id: str | None  # the check-in the reply answered, if any
    at: datetime


@dataclass(frozen=True)
class Replan:
    add: tuple[PlannedCheckIn, ...] = ()
    cancel: tuple[int, ...] = ()  # check-in ids


@dataclass(frozen=True)
class SendDecision:
    action: str  # send | defer | skip
    until: datetime | None = None  # for defer
    reason: str = ""


def at_local(like: datetime, day: date, clock: time) -> datetime:
    """A wall-clock time on `day` in the zone of `like`, normalised through UTC (DST gaps resolve forward)."""
    naive = datetime.combine(day, clock)
    return naive.replace(tzinfo=like.tzinfo).astimezone(timezone.utc).astimezone(like.tzinfo)


def offset_from(ended_at: datetime, hours: float, tz: ZoneInfo) -> datetime:
    """`ended_at` plus an offset: whole days on the local wall clock, anything shorter as elapsed time."""
    if hours and hours % 24 == 0:
        local = ended_at.astimezone(tz)
        shifted = (local.replace(tzinfo=None) + timedelta(days=hours // 24)).replace(tzinfo=tz)
        return shifted.astimezone(timezone.utc)
    return (ended_at + timedelta(hours=hours)).astimezone(timezone.utc)


def respect_quiet_hours(due: datetime, tz: ZoneInfo, quiet: QuietHours, *, protocol_id: str = "",
                        ended_at: datetime | None = None, lead_minutes: int = 30) -> datetime:
    """Move a due time out of quiet hours: to their end, or for C1 to just before they start.

    PROTOCOL 3: "a check-in due inside them moves to the end of the window; C1 due after 21:00
    goes at 20:30 instead if the session ended before 20:30".
    """
    local = due.astimezone(tz)
    if not quiet.contains(local):
        return due.astimezone(timezone.utc)
    if protocol_id == "C1" and ended_at is not None:
        # "due after 21:00": the evening side of the window, on the day it started.
        start_day = local.date() if local.time() >= quiet.start else local.date() - timedelta(days=1)
        window_start = at_local(local, start_day, quiet.start)
        early = window_start - timedelta(minutes=lead_minutes)
        if local >= window_start and ended_at.astimezone(tz) < early:
            return early.astimezone(timezone.utc)
    return quiet.end_after(local).astimezone(timezone.utc)


def wants_c4(regions: Iterable[str], findings: Sequence[Finding], protocol: Protocol = PROTOCOL) -> bool:
    """C4 (+72 h): lung-risk regions always; others when C3 was not `expected` or any reply was monitor+."""
    if protocol.is_lung_risk(regions):
        return True
    for f in findings:
        if f.protocol_id == "C3" and f.level != "expected":
            return True
        if protocol.rank(f.level) >= protocol.rank("monitor"):
            return True
    return False


def wants_c5(regions: Iterable[str], precautions: Iterable[str], findings: Sequence[Finding],
             protocol: Protocol = PROTOCOL) -> bool:
    """C5 (day 7): see PROTOCOL 3 for who gets it."""
    regions, precautions = list(regions), set(precautions)
    if precautions & C5_PRECAUTIONS:
        return True
    if "lung_disease" in precautions and protocol.is_lung_risk(regions):
        return True
    for f in findings:
        if "anticoagulant" in precautions and "bruising" in f.symptoms:
            return True
        if f.rules & C5_RULES:
            return True
    return False


def _due(protocol_id: str, ended_at: datetime, tz: ZoneInfo, quiet: QuietHours, protocol: Protocol) -> datetime:
    raw = offset_from(ended_at, protocol.checkin(protocol_id).offset_hours, tz)
    return respect_quiet_hours(raw, tz, quiet, protocol_id=protocol_id, ended_at=ended_at,
                               lead_minutes=protocol.c1_lead_minutes)


def plan_checkins(*, ended_at: datetime, regions: Sequence[str], precautions: Sequence[str],
                  tz: ZoneInfo, quiet: QuietHours, now: datetime,
                  protocol: Protocol = PROTOCOL) -> list[PlannedCheckIn]:
    """The check-ins of a new episode: C0 now, C1-C3, and C4/C5 where the protocol already asks for them.

    Check-ins whose time has already passed are planned anyway; the dispatcher sends them late
    while their window is open and skips them after, so planning and downtime follow one rule.
    """
    plan = [PlannedCheckIn("C0", respect_quiet_hours(now, tz, quiet))]
    ids = ["C1", "C2", "C3"]
    if wants_c4(regions, (), protocol):
        ids.append("C4")
    if wants_c5(regions, precautions, (), protocol):
        ids.append("C5")
    plan += [PlannedCheckIn(i, _due(i, ended_at, tz, quiet, protocol)) for i in ids]
    return sorted(plan, key=lambda p: p.due_at)


def replan_after_finding(*, ended_at: datetime, regions: Sequence[str], precautions: Sequence[str],
                         tz: ZoneInfo, quiet: QuietHours, checkins: Sequence[CheckInState],
                         findings: Sequence[Finding], now: datetime,
                         protocol: Protocol = PROTOCOL) -> Replan:
    """Add or drop C4, C5 and the extra check-in after an assessment (the newest finding is last).

    - C4/C5 are added once the protocol asks for them and they are not already planned or past.
    - `monitor` asks for one extra check-in 6 h later (next morning if that is in quiet hours);
      a newer reply that is `expected` drops a pending extra, as the worry it re-checked is gone.
    """
    have = {c.protocol_id for c in checkins if c.status != "cancelled"}
    add: list[PlannedCheckIn] = []
    for protocol_id, wanted in (("C4", wants_c4(regions, findings, protocol)),
                                ("C5", wants_c5(regions, precautions, findings, protocol))):
        if wanted and protocol_id not in have:
            due = _due(protocol_id, ended_at, tz, quiet, protocol)
            if due > now:
                add.append(PlannedCheckIn(protocol_id, due))
    cancel: list[int] = []
    pending_extras = [c for c in checkins if c.protocol_id == "extra" and c.status == "planned"]
    latest = findings[-1] if findings else None
    if latest is not None and latest.level == "monitor" and not pending_extras:
        due = now + timedelta(hours=protocol.extra_checkin_after_hours)
        add.append(PlannedCheckIn("extra", respect_quiet_hours(due, tz, quiet)))
    elif latest is not None and latest.level == "expected":
        cancel = [c.id for c in pending_extras]
    return Replan(add=tuple(add), cancel=tuple(cancel))


def moved_plan(*, new_ended_at: datetime, checkins: Sequence[CheckInState],
               tz: ZoneInfo, quiet: QuietHours, protocol: Protocol = PROTOCOL) -> dict[int, datetime]:
    """New due times for the still-planned check-ins when the session time is corrected.

    C0 (the welcome) and extra check-ins are timed from when they were asked for, not from the
    session, so they keep their time.
    """
    return {
        c.id: _due(c.protocol_id, new_ended_at, tz, quiet, protocol)
        for c in checkins
        if c.status == "planned" and c.protocol_id not in ("C0", "extra")
    }


def send_decision(*, due_at: datetime, next_due_at: datetime | None, now: datetime, tz: ZoneInfo,
                  quiet: QuietHours, protocol: Protocol = PROTOCOL) -> SendDecision:
    """Whether a due check-in goes now, later, or not at all.

    PROTOCOL 3: a check-in whose time passed during downtime is sent late while its window is
    open (until the next check-in is due, at most 12 hours late); after that it is skipped. A late
    send that would land in quiet hours waits for their end, if the window is still open then.
    """
    deadline = due_at + timedelta(hours=protocol.max_hours_late)
    if next_due_at is not None:
        deadline = min(deadline, next_due_at)
    if now >= deadline:
        return SendDecision("skip", reason="window closed")
    local = now.astimezone(tz)
    if quiet.contains(local):
        until = quiet.end_after(local).astimezone(timezone.utc)
        if until >= deadline:
            return SendDecision("skip", reason="window closes in quiet hours")
        return SendDecision("defer", until=until, reason="quiet hours")
    return SendDecision("send")


def reminder_due(*, sent_at: datetime, next_due_at: datetime | None, tz: ZoneInfo, quiet: QuietHours,
                 protocol: Protocol = PROTOCOL) -> datetime | None:
    """When to remind a patient who has not replied: 4 h after the check-in, outside quiet hours,
    and only if that is before the next check-in (which asks again anyway)."""
    due = respect_quiet_hours(sent_at + timedelta(hours=protocol.reminder_after_hours), tz, quiet)
    if next_due_at is not None and due >= next_due_at:
        return None
    return due


# A check-in left without a reply is `missed` when the next one is due; the last one of an
# episode after this long (a design choice: a day to answer the last question).
LAST_CHECKIN_REPLY_HOURS = 24


def not_responding(statuses: Sequence[str], *, lung_risk: bool, protocol: Protocol = PROTOCOL) -> bool:
    """Two missed in a row in a lung-risk region, or three in total (statuses in check-in order)."""
    if statuses.count("missed") >= protocol.missed_total:
        return True
    if lung_risk:
        run = 0
        for status in statuses:
            run = run + 1 if status == "missed" else (run if status in ("skipped", "cancelled") else 0)
            if run >= protocol.missed_in_a_row_lung_risk:
                return True
    return False
