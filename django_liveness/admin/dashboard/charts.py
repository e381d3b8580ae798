"""SVG geometry for the dashboard's charts: numbers in a viewBox, drawn by the templates (no script).

Each chart scales to the width of its box (viewBox, width 100%); the templates add its title, a
summary for screen readers, a text legend and the same numbers as a table.
"""

import math
from dataclasses import dataclass

# viewBox units; the page scales them (a phone's 390 px shows the day chart at about half size).
DAY_CHART = {"width": 640, "height": 260, "left": 44, "right": 24, "top": 12, "bottom": 34}
DAY_LABELS = 6  # at most this many dates under the bars
PLATFORM_CHART = {"width": 400, "row": 44, "bar": 16, "label": 16}


@dataclass(frozen=True)
class Segment:
    series: str
    value: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    segments: tuple
    label: str  # the date under the bar ("" for most: DAY_LABELS at most)
    label_x: float


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class DayChart:
    width: int
    height: int
    left: int
    right: float  # x of the plot's right edge
    baseline: float
    label_y: float
    bars: tuple
    ticks: tuple


def nice_maximum(largest):
    """The smallest 1, 2, 3, 4, 5, 6 or 8 times a power of ten that is at least ``largest`` (1 for nothing)."""
    if largest <= 1:
        return 1
    power = 10 ** math.floor(math.log10(largest))
    return next(step * power for step in (1, 2, 3, 4, 5, 6, 8, 10) if step * power >= largest)


def day_chart(days, series, label=str):
    """Stacked bars, one per day: ``days`` is [(date, {series: count})], ``series`` the stacking order
    (bottom first), ``label(date)`` the text under a bar. The y axis runs from 0 to a round number,
    with ticks at 0, the top, and half of it when that is a whole number."""
    size = DAY_CHART
    plot_width = size["width"] - size["left"] - size["right"]
    plot_height = size["height"] - size["top"] - size["bottom"]
    baseline = size["top"] + plot_height
    top = nice_maximum(max((sum(counts[name] for name in series) for _day, counts in days), default=0))
    scale = plot_height / top
    slot = plot_width / max(len(days), 1)
    every = math.ceil(len(days) / DAY_LABELS)
    bars = []
    for index, (day, counts) in enumerate(days):
        x = size["left"] + index * slot
        segments, y = [], baseline
        for name in series:
            height = counts[name] * scale
            if height:
                y -= height
                segments.append(Segment(name, counts[name], round(y, 2), round(height, 2)))
        labelled = (len(days) - 1 - index) % every == 0  # the last day (today) always has its date
        bars.append(
            Bar(
                round(x + slot * 0.15, 2),
                round(slot * 0.7, 2),
                tuple(segments),
                label(day) if labelled else "",
                round(x + slot / 2, 2),
            )
        )
    half = top // 2 if top % 2 == 0 else 0
    ticks = tuple(Tick(value, round(baseline - value * scale, 2)) for value in sorted({0, half, top}))
    return DayChart(
        width=size["width"],
        height=size["height"],
        left=size["left"],
        right=size["width"] - size["right"],
        baseline=baseline,
        label_y=baseline + 22,
        bars=tuple(bars),
        ticks=ticks,
    )


@dataclass(frozen=True)
class RateBar:
    label: str
    text: str  # the rate as shown beside the label
    y: float  # the label's baseline
    bar_y: float
    width: float  # 0 without a rate


@dataclass(frozen=True)
class RateChart:
    width: int
    height: int
    bar_height: int
    rows: tuple


def rate_chart(rows):
    """Horizontal bars, one per row: ``rows`` is [(label, text, rate value 0..1 or None)]; each label
    and its text above a bar whose length is the rate (full width: 100 %)."""
    size = PLATFORM_CHART
    bars = tuple(
        RateBar(
            label=label,
            text=text,
            y=index * size["row"] + size["label"],
            bar_y=index * size["row"] + size["label"] + 6,
            width=round((value or 0) * size["width"], 2),
        )
        for index, (label, text, value) in enumerate(rows)
    )
    return RateChart(width=size["width"], height=max(len(bars), 1) * size["row"], bar_height=size["bar"], rows=bars)
