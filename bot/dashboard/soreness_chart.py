"""The soreness chart of an episode: scores against hours since the session, over the protocol's band.

Drawn on the server as SVG by pygal (pure Python, no browser script), so a phone shows it as it
shows text. The page's Content-Security-Policy allows no inline script or style: the filter below
takes pygal's <script> and <style> out (the dashboard's stylesheet styles the chart by pygal's
class names) along with its script-driven tooltip, and names the chart for screen readers. The
page lists the same points in a table; the chart is never the only place they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..protocol import Window
from .charts import Style, pygal

SCALE_MAX = 10
# A finding whose text gave no score (a breathing complaint, no reply) is marked in a strip above 10.
NO_SCORE_RAIL = 10.8
WIDTH, HEIGHT = 480, 330
# pygal lays the chart out for these sizes; the stylesheet (course.css) sets the text to the same.
FONT_PX = 16
STYLE = Style(label_font_size=FONT_PX, major_label_font_size=FONT_PX, title_font_size=FONT_PX,
              legend_font_size=FONT_PX, tooltip_font_size=FONT_PX, value_font_size=FONT_PX)


@dataclass(frozen=True)
class Reading:
    """A score the patient gave, at `hours` after the session."""
    hours: float
    soreness: int
    label: str


@dataclass(frozen=True)
class Mark:
    """A finding raised at `hours`, on the score of the text that raised it if it had one."""
    hours: float
    soreness: int | None
    label: str


def x_extent(windows: Sequence[Window], hours: Iterable[float]) -> float:
    """Where the hour axis ends: a day past the last window's start, or past the latest hour to show,
    on a 12-hour line."""
    furthest = max([windows[-1].start + 24, *(h + 6 for h in hours)])
    return float(math.ceil(furthest / 12) * 12)


def band(windows: Sequence[Window], x_max: float) -> list[tuple[float, float]]:
    """The expected soreness as a step line: each window's upper bound across its hours (filled down to 0)."""
    steps: list[tuple[float, float]] = []
    for w in windows:
        if w.start >= x_max:
            break
        steps += [(w.start, w.expected_max_soreness), (min(w.end, x_max), w.expected_max_soreness)]
    return steps


def _hours(value: float) -> str:
    return f"{value:g} h"


def _for_a_page(title: str) -> Any:
    """An xml filter: no script, no style, no tooltip, no ids that repeat when a page has two charts."""
    def clean(root: Any) -> Any:
        for parent in list(root.iter()):
            for child in list(parent):
                if child.tag in ("script", "style") or "tooltip-overlay" in child.get("class", ""):
                    parent.remove(child)
        for node in root.iter():
            node.attrib.pop("style", None)
            node.attrib.pop("id", None)
            if node.tag == "title" and node.text == "Pygal":
                node.text = title
        root.set("role", "img")
        return root
    return clean


def render(readings: Sequence[Reading], marks: Sequence[Mark], windows: Sequence[Window], *, x_max: float,
           title: str) -> str:
    """The chart as an <svg> element to put in a page: the band, the readings in time order, the findings."""
    chart = pygal.XY(
        width=WIDTH, height=HEIGHT, style=STYLE, disable_xml_declaration=True, js=[], css=[], no_prefix=True,
        range=(0, NO_SCORE_RAIL + 0.2), xrange=(0, x_max), include_x_axis=True,
        y_labels=list(range(0, SCALE_MAX + 1, 2)), x_labels=sorted({*(w.start for w in windows if w.start < x_max), x_max}),
        x_value_formatter=_hours, value_formatter=lambda v: f"{v:g}",
        x_title="Hours since the session", y_title="Soreness (0-10)", legend_box_size=14,
        show_legend=True, legend_at_bottom=True, legend_at_bottom_columns=3, truncate_legend=-1,
        show_x_guides=True, dots_size=4,
    )
    chart.add_xml_filter(_for_a_page(title))
    chart.add("Expected", band(windows, x_max), fill=True, show_dots=False)
    chart.add("Soreness", [{"value": (r.hours, r.soreness), "label": r.label}
                           for r in sorted(readings, key=lambda r: r.hours)])
    chart.add("Finding", [{"value": (m.hours, NO_SCORE_RAIL if m.soreness is None else m.soreness), "label": m.label}
                          for m in marks], stroke=False, dots_size=8)
    return str(chart.render(is_unicode=True))
