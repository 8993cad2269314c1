"""Line charts as plain geometry for inline SVG: periods along x, one line per series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        "yticks": [{"y": y(ymax * k / 4), "label": f"{ymax * k / 4:g}"} for k in range(5)],
        "lines": lines,
    }
