"""The follow-up protocol as data, loaded once.

PROTOCOL.md is the clinical specification; `v1/protocol.toml` is that text as numbers and
vocabularies. Code reads them from here instead of repeating them, and every decision records
`PROTOCOL.version` so a clinician can tell which rules made it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import time
from functools import cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent

UNCLEAR = "unclear"


@dataclass(frozen=True)
class Window:
    name: str
    start: float
    end: float
    expected_max_soreness: int

    def contains(self, hours: float) -> bool:
        return self.start <= hours < self.end


@dataclass(frozen=True)
class CheckInSpec:
    id: str
    offset_hours: float
    who: str
    expects_reply: bool


@dataclass(frozen=True)
class Protocol:
    version: str
    regions: frozenset[str]
    lung_risk_regions: frozenset[str]
    precautions: frozenset[str]
    symptoms: frozenset[str]
    levels: tuple[str, ...]
    languages: tuple[str, ...]
    windows: tuple[Window, ...]
    checkins: tuple[CheckInSpec, ...]
    extra_checkin_after_hours: float
    quiet_start: time
    quiet_end: time
    c1_lead_minutes: int
    reminder_after_hours: float
    missed_in_a_row_lung_risk: int
    missed_total: int
    max_hours_late: float
    escalation: dict[str, int]
    data_dir: Path
    # The range a clinic may set each escalation timing to: {"emergency_realert_minutes": (2, 10), ...}.
    escalation_bounds: dict[str, tuple[int, int]] = field(default_factory=dict)

    def window(self, hours_since_session: float) -> Window:
        """The protocol window an hour count falls in; negative hours count as early."""
        hours = max(0.0, hours_since_session)
        for w in self.windows:
            if w.contains(hours):
                return w
        return self.windows[-1]

    def checkin(self, checkin_id: str) -> CheckInSpec:
        for spec in self.checkins:
            if spec.id == checkin_id:
                return spec
        raise KeyError(checkin_id)

    def is_lung_risk(self, regions: Any) -> bool:
        return any(r in self.lung_risk_regions for r in regions or ())

    def rank(self, level: str) -> int:
        """Order of urgency: expected 0 ... emergency 4; unclear ranks with nothing (-1)."""
        return self.levels.index(level) if level in self.levels else -1

    def higher(self, a: str, b: str) -> str:
        return a if self.rank(a) >= self.rank(b) else b

    def check_region(self, region: str | None) -> None:
        if region is not None and region not in self.regions:
            raise ValueError(f"unknown region {region!r}; expected one of {sorted(self.regions)}")

    def check_precautions(self, precautions: Any) -> None:
        unknown = set(precautions or ()) - self.precautions
        if unknown:
            raise ValueError(
                f"unknown precaution(s) {sorted(unknown)}; expected from {sorted(self.precautions)}"
            )


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


@cache
def load(version: str = "1") -> Protocol:
    """Read one protocol version from its data directory (cached: the file never changes at run time)."""
    data_dir = _HERE / f"v{version}"
    with open(data_dir / "protocol.toml", "rb") as fh:
        raw = tomllib.load(fh)
    vocab = raw["vocabulary"]
    return Protocol(
        version=raw["version"],
        regions=frozenset(vocab["regions"]),
        lung_risk_regions=frozenset(vocab["lung_risk_regions"]),
        precautions=frozenset(vocab["precautions"]),
        symptoms=frozenset(vocab["symptoms"]),
        levels=tuple(vocab["levels"]),
        languages=tuple(vocab["languages"]),
        windows=tuple(Window(**w) for w in raw["windows"]),
        checkins=tuple(CheckInSpec(**c) for c in raw["checkins"]),
        extra_checkin_after_hours=raw["extra_checkin"]["after_hours"],
        quiet_start=_clock(raw["quiet_hours"]["start"]),
        quiet_end=_clock(raw["quiet_hours"]["end"]),
        c1_lead_minutes=raw["quiet_hours"]["c1_lead_minutes"],
        reminder_after_hours=raw["reminders"]["after_hours"],
        missed_in_a_row_lung_risk=raw["missed"]["in_a_row_lung_risk"],
        missed_total=raw["missed"]["total"],
        max_hours_late=raw["late_sends"]["max_hours_late"],
        escalation=dict(raw["escalation"]),
        data_dir=data_dir,
        escalation_bounds={name: (low, high) for name, (low, high) in raw.get("escalation_bounds", {}).items()},
    )


PROTOCOL = load()
