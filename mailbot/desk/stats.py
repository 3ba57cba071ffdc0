"""The desk's « Statistiques » page and the export download.

`GET /admin/statistiques?semaines=N`: cases received and closed per Paris week (the SVG chart
of `chart.py` and the same figures in a table), the time to first answer and to decision
(median and 90th percentile) per space and per reviewer, and the overdue cases per reviewer,
over the last N weeks (4, 12, 26 or 52; 12 by default). The figures are those of the weekly
summary mail (`mailbot.loop.reports`, `workflows.stats`).

`GET /admin/statistiques/export?depuis=AAAA-MM-JJ&jusqu_au=AAAA-MM-JJ`: the xlsx workbook of
`mailbot export` for that period (Paris days, both included), as a download.
"""

from __future__ import annotations

from datetime import date

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.chart import WeekCount, svg_chart
from mailbot.desk.export import Period, collect, export_bytes
from mailbot.desk.web import PREFIX, flash, redirect, render, state
from mailbot.loop.reports import DEFAULT_WEEKS, report, report_context
from workflows.calendar import paris_day

STATS_PATH = f"{PREFIX}/statistiques"
EXPORT_PATH = f"{STATS_PATH}/export"
WEEK_CHOICES = (4, 12, 26, 52)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _weeks(request: Request) -> int:
    try:
        value = int(request.query_params.get("semaines", DEFAULT_WEEKS))
    except ValueError:
        return DEFAULT_WEEKS
    return value if value in WEEK_CHOICES else DEFAULT_WEEKS


def stats_page(request: Request) -> Response:
    desk = state(request)
    now = desk.now()
    weeks = _weeks(request)
    with desk.db() as session:
        rep = report(session, now, weeks)
    chart_weeks = [WeekCount(w.start, w.received, w.closed) for w in rep.weeks]
    today = paris_day(now)
    context = {
        **report_context(rep),
        "now": now,
        "week_choices": WEEK_CHOICES,
        "selected_weeks": weeks,
        "chart": Markup(svg_chart(chart_weeks)),  # built from numbers and fixed labels only
        "chart_weeks": chart_weeks,
        "export_since": rep.since.isoformat(),
        "export_until": today.isoformat(),
        "export_path": EXPORT_PATH,
    }
    return render(request, "stats.html", context)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def export_download(request: Request) -> Response:
    desk = state(request)
    since = _day(request.query_params.get("depuis"))
    until = _day(request.query_params.get("jusqu_au"))
    if since is None or until is None or until < since:
        flash(
            request,
            "Les dates de l’export sont incorrectes\u00a0: indiquez une date de début et une date "
            "de fin postérieure.",
            "error",
        )
        return redirect(f"{STATS_PATH}#export")
    period = Period(since, until)
    with desk.db() as session:
        rows = collect(session, period, desk.now(), desk.portal(session))
    name = f"export-dossiers-{since.isoformat()}-{until.isoformat()}.xlsx"
    return Response(
        export_bytes(rows),
        media_type=XLSX,
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


routes = [
    # Plain functions: Starlette runs them in a worker thread (database work blocks).
    Route(STATS_PATH, stats_page, methods=["GET"]),
    Route(EXPORT_PATH, export_download, methods=["GET"]),
]
