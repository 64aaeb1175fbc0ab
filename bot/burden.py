"""Alert burden, per clinic and week: how much the bot asks of the care team, and how they answer.

Alert fatigue sets in when rules fire on a third or more of reports (PRO-TECT, PROTOCOL 7): a
clinic watches alerts per 100 check-ins, how many findings were acknowledged and how fast, and how
many a provider marked "not actionable". Weeks run Monday 00:00 to Monday 00:00 on the clinic's
clock. `weekly` is pure (rows in, numbers out); the dashboard reads the rows in a fixed number of
statements (bot/dashboard/burden.py).

- check-ins sent: check-in texts that went out (by when they were sent);
- replies: texts patients sent in;
- findings: escalations opened, by level; a finding counts in the week it was opened, and so do
  its acknowledgement and "not actionable" mark, whenever they came;
- alerts: texts paging a provider (first pages and re-alerts; digests are not pages).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

FINDING_LEVELS = ("routine", "urgent", "emergency")


@dataclass(frozen=True)
class FindingRow:
    opened_at: datetime
    level: str
    acknowledged_at: datetime | None
    not_actionable: bool


@dataclass(frozen=True)
class Week:
    start: date  # the Monday, on the clinic's clock
    checkins_sent: int = 0
    replies: int = 0
    findings: dict[str, int] = field(default_factory=dict)  # level -> count
    alerts: int = 0
    acknowledged: int = 0
    not_actionable: int = 0
    median_to_acknowledge: timedelta | None = None

    @property
    def finding_count(self) -> int:
        return sum(self.findings.values())

    @property
    def alerts_per_100(self) -> float | None:
        return 100 * self.alerts / self.checkins_sent if self.checkins_sent else None

    @property
    def acknowledged_share(self) -> float | None:
        return self.acknowledged / self.finding_count if self.finding_count else None

    @property
    def not_actionable_share(self) -> float | None:
        return self.not_actionable / self.finding_count if self.finding_count else None


def week_of(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday of the clinic-local week `moment` falls in."""
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def window(now: datetime, tz: ZoneInfo, weeks: int) -> tuple[datetime, list[date]]:
    """The UTC moment the first of the last `weeks` weeks (this one included) began, and their Mondays."""
    this_week = week_of(now, tz)
    mondays = [this_week - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    start = datetime.combine(mondays[0], datetime.min.time(), tzinfo=tz).astimezone(timezone.utc)
    return start, mondays


# Texts counted by the quarter hour they fall in (`Counted`): every zone's offset from UTC is a
# whole number of quarter hours, so a quarter hour never straddles a clinic's midnight, and the
# database hands back at most 672 rows a week however many texts there were.
QUARTER_HOUR = timedelta(minutes=15)
Counted = tuple[datetime, int]  # (a moment, or the start of its quarter hour; how many)


def _per_week(counted: Iterable[Counted], tz: ZoneInfo, wanted: set[date]) -> Counter[date]:
    weeks: Counter[date] = Counter()
    for moment, n in counted:
        week = week_of(moment, tz)
        if week in wanted:
            weeks[week] += n
    return weeks


def weekly(*, mondays: Sequence[date], tz: ZoneInfo, checkins_sent: Iterable[Counted],
           replies: Iterable[Counted], findings: Iterable[FindingRow], alerts: Iterable[Counted]) -> list[Week]:
    """One `Week` per Monday in `mondays` (oldest first); rows outside those weeks are left out."""
    wanted = set(mondays)
    sent, replied, paged = (_per_week(rows, tz, wanted) for rows in (checkins_sent, replies, alerts))
    levels: dict[date, Counter[str]] = {m: Counter() for m in mondays}
    acked: Counter[date] = Counter()
    dismissed: Counter[date] = Counter()
    waits: dict[date, list[timedelta]] = {m: [] for m in mondays}
    for f in findings:
        w = week_of(f.opened_at, tz)
        if w not in wanted:
            continue
        levels[w][f.level] += 1
        if f.acknowledged_at is not None:
            acked[w] += 1
            waits[w].append(f.acknowledged_at - f.opened_at)
        if f.not_actionable:
            dismissed[w] += 1
    return [Week(start=m, checkins_sent=sent[m], replies=replied[m],
                 findings={level: levels[m][level] for level in FINDING_LEVELS}, alerts=paged[m],
                 acknowledged=acked[m], not_actionable=dismissed[m],
                 median_to_acknowledge=statistics.median(waits[m]) if waits[m] else None)
            for m in mondays]
