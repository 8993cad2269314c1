"""Charts as plain geometry for inline SVG: line charts (periods along x, one line per series) and bar charts
(groups along x, one bar per series in each group)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563")


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least value."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    while power * 10 < value:
        power *= 10
    while power / 10 >= value:
        power /= 10
    for step in (1, 2, 5, 10):
        if power * step >= value:
            return power * step
    return power * 10


def line_chart(
    periods: Sequence[str],
    series: Mapping[str, Mapping[str, float | None]],
    *,
    width: int = 760,
    height: int = 280,
) -> dict[str, Any]:
    """Coordinates for each series' points (a missing value breaks nothing: the line skips it)."""
    left, right, top, bottom = 56, 16, 16, 40
    values = [v for s in series.values() for v in s.values() if v is not None]
    ymax = _nice_top(max(values, default=1.0))
    span_x = (width - left - right) / max(len(periods) - 1, 1)
    span_y = height - top - bottom

    def x(i: int) -> float:
        return round(left + (i * span_x if len(periods) > 1 else (width - left - right) / 2), 1)

    def y(v: float) -> float:
        return round(top + span_y * (1 - v / ymax), 1)

    lines = []
    for n, (name, points) in enumerate(series.items()):
        dots = [
            {"x": x(i), "y": y(value), "value": value, "period": p}
            for i, p in enumerate(periods)
            if (value := points.get(p)) is not None
        ]
        lines.append(
            {
                "name": name,
                "color": PALETTE[n % len(PALETTE)],
                "dots": dots,
                "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "bottom": height - bottom,
        "right": width - right,
        "xticks": [{"x": x(i), "label": p} for i, p in enumerate(periods)],
        "yticks": _yticks(ymax, y),
        "lines": lines,
    }


def _yticks(ymax: float, y: Callable[[float], float]) -> list[dict[str, Any]]:
    """Five ticks of the y axis, from 0 to the top."""
    return [{"y": y(ymax * k / 4), "label": f"{ymax * k / 4:g}"} for k in range(5)]


def bar_chart(
    groups: Sequence[str],
    series: Mapping[str, Mapping[str, float]],
    *,
    width: int = 760,
    height: int = 280,
    alert: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Coordinates of grouped bars: for each group along x, one bar per series, side by side. A group that
    `alert` marks has its bars of the last series drawn in red."""
    left, right, top, bottom = 56, 16, 16, 40
    ymax = _nice_top(max((v for s in series.values() for v in s.values()), default=1.0))
    span_y = height - top - bottom
    slot = (width - left - right) / max(len(groups), 1)
    bar = slot * 0.8 / max(len(series), 1)

    def y(v: float) -> float:
        return round(top + span_y * (1 - v / ymax), 1)

    bars = []
    for n, (name, values) in enumerate(series.items()):
        last = n == len(series) - 1
        for i, group in enumerate(groups):
            value = values.get(group, 0.0)
            red = last and alert is not None and alert.get(group, False)
            bars.append(
                {
                    "x": round(left + i * slot + slot * 0.1 + n * bar, 1),
                    "y": y(value),
                    "width": round(bar, 1),
                    "height": round(height - bottom - y(value), 1),
                    "color": PALETTE[1] if red else PALETTE[0 if last else 8],
                    "name": name,
                    "group": group,
                    "value": value,
                }
            )
    return {
        "width": width,
        "height": height,
        "left": left,
        "bottom": height - bottom,
        "right": width - right,
        "xticks": [{"x": round(left + (i + 0.5) * slot, 1), "label": g} for i, g in enumerate(groups)],
        "yticks": _yticks(ymax, y),
        "bars": bars,
        "legend": [{"name": name, "color": PALETTE[0 if n == len(series) - 1 else 8]} for n, name in enumerate(series)],
    }
