"""The admin view's chart: cases received and closed per week, drawn on the server as SVG.

No script, no inline style (the desk's CSP forbids both): presentation attributes only. The
SVG carries a title and a description (`role="img"`, `aria-labelledby`), and the page shows
the same figures in a table, so nothing depends on seeing the bars.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_MONTHS = "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.".split()
RECEIVED_COLOUR = "#000091"  # DSFR blue-france-sun-113
CLOSED_COLOUR = "#18753c"  # DSFR success-425, different in lightness too


@dataclass(frozen=True)
class WeekCount:
    start: date  # a Monday, in Paris time
    received: int
    closed: int

    @property
    def label(self) -> str:
        return f"{self.start.day} {_MONTHS[self.start.month - 1]}"


def _monday(moment: datetime) -> date:
    day = moment.astimezone(PARIS).date()
    return day - timedelta(days=day.weekday())


def weekly_counts(
    cases: Iterable[tuple[datetime, datetime | None]], now: datetime, weeks: int = 12
) -> list[WeekCount]:
    """Per week (oldest first, the current one last): (created_at, closed_at) pairs counted."""
    last = _monday(now)
    starts = [last - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    received = dict.fromkeys(starts, 0)
    closed = dict.fromkeys(starts, 0)
    for created_at, closed_at in cases:
        if (week := _monday(created_at)) in received:
            received[week] += 1
        if closed_at is not None and (week := _monday(closed_at)) in closed:
            closed[week] += 1
    return [WeekCount(s, received[s], closed[s]) for s in starts]


def svg_chart(weeks: list[WeekCount], width: int = 760, height: int = 300) -> str:
    left, right, top, bottom = 40, 10, 20, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(w.received for w in weeks), *(w.closed for w in weeks)])
    step = plot_w / max(1, len(weeks))
    bar = step * 0.35
    total_received = sum(w.received for w in weeks)
    total_closed = sum(w.closed for w in weeks)
    desc = (
        f"Sur les {len(weeks)} dernières semaines\u00a0: {_count(total_received, 'reçu')} et "
        f"{_count(total_closed, 'clos')}. Le détail par semaine figure dans le tableau voisin."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="graphique-titre graphique-desc" '
        f'class="desk-chart">',
        '<title id="graphique-titre">Dossiers reçus et clos par semaine</title>',
        f'<desc id="graphique-desc">{escape(desc)}</desc>',
    ]
    for tick in _ticks(peak):
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            'stroke="#dddddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#3a3a3a">{tick}</text>'
        )
    for i, week in enumerate(weeks):
        x = left + i * step + (step - 2 * bar) / 2
        for offset, value, colour, name in (
            (0.0, week.received, RECEIVED_COLOUR, "reçus"),
            (bar, week.closed, CLOSED_COLOUR, "clos"),
        ):
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>Semaine du {escape(week.label)} : '
                f"{value} {name}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'font-size="11" fill="#3a3a3a">{escape(week.label)}</text>'
        )
    parts.append(_legend(left, height - 18))
    parts.append("</svg>")
    return "".join(parts)


def _legend(x: int, y: int) -> str:
    return (
        f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{RECEIVED_COLOUR}"/>'
        f'<text x="{x + 18}" y="{y}" font-size="12" fill="#161616">Dossiers reçus</text>'
        f'<rect x="{x + 150}" y="{y - 10}" width="12" height="12" fill="{CLOSED_COLOUR}"/>'
        f'<text x="{x + 168}" y="{y}" font-size="12" fill="#161616">Dossiers clos</text>'
    )


def _count(n: int, participle: str) -> str:
    if n > 1:
        return f"{n} dossiers {participle if participle.endswith('s') else participle + 's'}"
    return f"{n} dossier {participle}"


def _ticks(peak: int) -> list[int]:
    step = max(1, -(-peak // 4))
    return list(range(0, peak + 1, step))
