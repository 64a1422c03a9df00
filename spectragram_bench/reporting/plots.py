"""Charts as inline SVG strings, built by hand so the report needs no plotting library and no network.

A `Chart` maps data to pixels on linear or log axes with "nice" ticks, and draws points, error
bars, lines and horizontal box plots. Every text that reaches the SVG (labels, tooltips) is
escaped here. Colours are the Okabe-Ito palette, which stays distinguishable for colour-blind readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

import numpy as np

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999933", "#000000")
WIDTH, HEIGHT = 720, 380
LEGEND_W = 190

Formatter = Callable[[float, float], str]


def clip_label(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _num(v: float) -> str:
    return f"{v:.1f}"


def nice_step(span: float, target: int = 5) -> float:
    raw = span / max(target, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    step = nice_step(hi - lo, target)
    start = math.floor(lo / step + 1e-9) * step
    ticks, v = [], start
    while v <= hi + step * 1e-6:
        if v >= lo - step * 1e-6:
            ticks.append(round(v, 12))
        v += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10**e
            if lo <= v <= hi:
                ticks.append(float(v))
    return ticks


@dataclass
class Axis:
    lo: float
    hi: float
    px_lo: float
    px_hi: float
    log: bool = False

    def __call__(self, v: float) -> float:
        if self.log:
            a, b, v = math.log10(self.lo), math.log10(self.hi), math.log10(max(v, self.lo))
        else:
            a, b = self.lo, self.hi
        return self.px_lo + (v - a) / (b - a) * (self.px_hi - self.px_lo)

    def ticks(self) -> list[float]:
        return log_ticks(self.lo, self.hi) if self.log else nice_ticks(self.lo, self.hi)


def domain(values: Sequence[float], *, zero: bool, pad: float = 0.08, log: bool = False) -> tuple[float, float]:
    """A padded [lo, hi] covering `values`, from 0 when `zero`, snapped to nice ticks."""
    vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not vals:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if log:
        return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    if zero:
        lo = min(0.0, lo)
    if hi == lo:
        hi, lo = hi + (abs(hi) or 1.0) * 0.5, (lo if zero else lo - (abs(lo) or 1.0) * 0.5)
    span = hi - lo
    hi += span * pad
    if not zero:
        lo -= span * pad
    step = nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def fmt_percent(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(100 * step))) if step > 0 else 0
    return f"{100 * v:.{decimals}f}%"


def fmt_plain(v: float, step: float) -> str:
    if step >= 1 or step <= 0:
        return f"{v:,.0f}"
    return f"{v:,.{max(0, -math.floor(math.log10(step)))}f}"


def usd_tick(v: float, step: float) -> str:
    return "$" + fmt_plain(v, step)


@dataclass
class Series:
    """One legend entry; `index` picks its colour so a system keeps one colour across charts."""

    name: str
    index: int


@dataclass
class Chart:
    element_id: str
    title: str
    x_label: str
    y_label: str
    x: Axis
    y: Axis
    x_fmt: Formatter = fmt_plain
    y_fmt: Formatter = fmt_plain
    legend: list[Series] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    y_categories: list[str] | None = None
    height: int = HEIGHT
    _labels: list[tuple[float, float, float, float]] = field(default_factory=list)

    @classmethod
    def create(
        cls, element_id: str, title: str, x_label: str, y_label: str,
        x_domain: tuple[float, float], y_domain: tuple[float, float], *,
        x_log: bool = False, x_fmt: Formatter = fmt_plain, y_fmt: Formatter = fmt_plain,
        legend: bool = True, left: float = 70, height: int = HEIGHT,
    ) -> Chart:
        right = WIDTH - (LEGEND_W if legend else 20)
        return cls(
            element_id, title, x_label, y_label,
            Axis(x_domain[0], x_domain[1], left, right, log=x_log),
            Axis(y_domain[0], y_domain[1], height - 52, 36),
            x_fmt, y_fmt, height=height,
        )

    def place_label(self, px: float, py: float, text: str) -> tuple[float, float, str] | None:
        """Where a point's label fits (right or left, above or below) without overlapping an
        earlier one or leaving the plot; None when nowhere fits (the tooltip still names it)."""
        w, h = 6.0 * len(text), 12.0
        for dx, dy, anchor in ((8, -6, "start"), (8, 14, "start"), (-8, -6, "end"), (-8, 14, "end")):
            x0 = px + dx if anchor == "start" else px + dx - w
            box = (x0, py + dy - h + 2, x0 + w, py + dy + 2)
            inside = box[0] >= self.x.px_lo and box[2] <= self.x.px_hi + 4 and box[1] >= self.y.px_hi - 8
            if inside and all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in self._labels):
                self._labels.append(box)
                return px + dx, py + dy, anchor
        return None

    def point(self, series: Series, x: float, y: float, tooltip: str, *, y_low: float | None = None,
              y_high: float | None = None, label: str | None = None) -> None:
        c = colour(series.index)
        px, py = self.x(x), self.y(y)
        parts = [f'<g class="pt" data-series="{escape(series.name)}"><title>{escape(tooltip)}</title>']
        if y_low is not None and y_high is not None:
            lo, hi = self.y(y_low), self.y(y_high)
            parts.append(
                f'<path class="ci" d="M{_num(px)} {_num(lo)}V{_num(hi)}M{_num(px - 5)} {_num(lo)}h10M{_num(px - 5)} {_num(hi)}h10" '
                f'stroke="{c}" stroke-width="1.5" fill="none"/>'
            )
        parts.append(f'<circle cx="{_num(px)}" cy="{_num(py)}" r="5" fill="{c}" stroke="#fff" stroke-width="1"/>')
        spot = self.place_label(px, py, label) if label else None
        if spot is not None:
            lx, ly, anchor = spot
            parts.append(f'<text x="{_num(lx)}" y="{_num(ly)}" class="pl" text-anchor="{anchor}">{escape(label)}</text>')
        parts.append("</g>")
        self.body.append("".join(parts))
        self._remember(series)

    def line(self, series: Series, xs: Sequence[float], ys: Sequence[float], *, dashed: bool = False,
             tooltip: str | None = None) -> None:
        if not xs:
            return
        d = "M" + "L".join(f"{_num(self.x(x))} {_num(self.y(y))}" for x, y in zip(xs, ys, strict=True))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        title = f"<title>{escape(tooltip)}</title>" if tooltip else ""
        self.body.append(
            f'<path class="ln" data-series="{escape(series.name)}" d="{d}" stroke="{colour(series.index)}" '
            f'stroke-width="2" fill="none"{dash}>{title}</path>'
        )
        self._remember(series)

    def box(self, series: Series, row: int, values: Sequence[float], unit: str = "ms") -> None:
        """A horizontal box: p25-p75 box, median bar, p5-p95 whiskers, samples beyond as dots."""
        arr = np.asarray(values, dtype=float)
        if arr.size == 0:
            return
        p5, p25, p50, p75, p95 = np.percentile(arr, [5, 25, 50, 75, 95])
        cy = self.y(row)
        half = min(14.0, abs(self.y(0) - self.y(1)) * 0.3)
        c = colour(series.index)
        tip = (
            f"{series.name}: n={arr.size}, p5 {p5:,.0f}, p25 {p25:,.0f}, median {p50:,.0f}, "
            f"p75 {p75:,.0f}, p95 {p95:,.0f}, max {arr.max():,.0f} {unit}"
        )
        x = self.x
        parts = [
            f'<g class="box" data-series="{escape(series.name)}"><title>{escape(tip)}</title>',
            f'<path d="M{_num(x(p5))} {_num(cy)}H{_num(x(p25))}M{_num(x(p75))} {_num(cy)}H{_num(x(p95))}'
            f'M{_num(x(p5))} {_num(cy - half / 2)}v{_num(half)}M{_num(x(p95))} {_num(cy - half / 2)}v{_num(half)}" '
            f'stroke="{c}" stroke-width="1.5" fill="none"/>',
            f'<rect x="{_num(x(p25))}" y="{_num(cy - half)}" width="{_num(max(1.0, x(p75) - x(p25)))}" '
            f'height="{_num(2 * half)}" fill="{c}" fill-opacity="0.25" stroke="{c}"/>',
            f'<path d="M{_num(x(p50))} {_num(cy - half)}v{_num(2 * half)}" stroke="{c}" stroke-width="3"/>',
        ]
        outliers = np.sort(arr[(arr < p5) | (arr > p95)])
        if outliers.size > 200:  # keep the file small: an even sample of the tails, extremes included
            outliers = outliers[np.linspace(0, outliers.size - 1, 200).round().astype(int)]
        parts.extend(
            f'<circle cx="{_num(x(v))}" cy="{_num(cy)}" r="2" fill="{c}" fill-opacity="0.6"/>' for v in outliers
        )
        parts.append("</g>")
        self.body.append("".join(parts))

    def _remember(self, series: Series) -> None:
        if all(s.name != series.name for s in self.legend):
            self.legend.append(series)

    def render(self) -> str:
        x, y = self.x, self.y
        out = [
            f'<svg id="{escape(self.element_id)}" class="chart" viewBox="0 0 {WIDTH} {self.height}" '
            f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(self.title)}">',
            f'<text x="10" y="20" class="ct"><title>{escape(self.title)}</title>{escape(clip_label(self.title, 68))}</text>',
        ]
        x_ticks = x.ticks()
        x_step = (x_ticks[1] - x_ticks[0]) if len(x_ticks) > 1 else 1.0
        for t in x_ticks:
            px = x(t)
            out.append(f'<path class="grid" d="M{_num(px)} {_num(y.px_lo)}V{_num(y.px_hi)}"/>')
            label = self.x_fmt(t, t if x.log else x_step)
            out.append(f'<text x="{_num(px)}" y="{_num(y.px_lo + 16)}" class="tk" text-anchor="middle">{escape(label)}</text>')
        if self.y_categories is not None:
            for i, name in enumerate(self.y_categories):
                short = clip_label(name, 40)
                out.append(
                    f'<text x="{_num(x.px_lo - 6)}" y="{_num(y(i) + 4)}" class="tk" text-anchor="end">'
                    f"<title>{escape(name)}</title>{escape(short)}</text>"
                )
        else:
            y_ticks = y.ticks()
            y_step = (y_ticks[1] - y_ticks[0]) if len(y_ticks) > 1 else 1.0
            for t in y_ticks:
                py = y(t)
                out.append(f'<path class="grid" d="M{_num(x.px_lo)} {_num(py)}H{_num(x.px_hi)}"/>')
                out.append(
                    f'<text x="{_num(x.px_lo - 6)}" y="{_num(py + 4)}" class="tk" text-anchor="end">{escape(self.y_fmt(t, y_step))}</text>'
                )
        out.append(f'<path class="axis" d="M{_num(x.px_lo)} {_num(y.px_hi)}V{_num(y.px_lo)}H{_num(x.px_hi)}"/>')
        out.append(
            f'<text x="{_num((x.px_lo + x.px_hi) / 2)}" y="{self.height - 12}" class="al" text-anchor="middle">{escape(self.x_label)}</text>'
        )
        if self.y_label:
            cy = (y.px_lo + y.px_hi) / 2
            out.append(
                f'<text x="14" y="{_num(cy)}" class="al" text-anchor="middle" transform="rotate(-90 14 {_num(cy)})">'
                f"{escape(self.y_label)}</text>"
            )
        out.extend(self.body)
        for i, s in enumerate(self.legend):
            ly = 40 + 18 * i
            name = clip_label(s.name, 22)
            out.append(
                f'<g class="lg"><title>{escape(s.name)}</title><rect x="{_num(x.px_hi + 14)}" y="{ly - 9}" width="10" height="10" '
                f'fill="{colour(s.index)}"/><text x="{_num(x.px_hi + 30)}" y="{ly}" class="tk">{escape(name)}</text></g>'
            )
        out.append("</svg>")
        return "".join(out)
