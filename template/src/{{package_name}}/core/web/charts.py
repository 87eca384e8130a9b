"""Charts drawn on the server as SVG (pygal), each shown beside a table of its numbers.

A chart is a picture for people who would rather look than read; the table beside it carries the
same numbers for a screen reader, a copy-paste or a printout (templates/macros.html, `chart`).
Pages load the SVG as an image from their own route, so the page itself keeps a strict
Content-Security-Policy with no inline style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pygal
from fastapi.responses import Response
from pygal.style import Style

# Colours distinguishable with the common colour-vision deficiencies (Okabe & Ito), dark enough on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000")
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#565c65",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif",
    colors=PALETTE,
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    value_font_size=12,
)
# The SVG is an image of this site: its own inline styles, nothing else, never a script.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Figure:
    """What a chart shows: one value per label in each series."""

    title: str
    label_heading: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    kind: Literal["bar", "stacked", "line"] = "bar"
    width: int = 640
    height: int = 320

    @classmethod
    def of(
        cls,
        title: str,
        label_heading: str,
        labels: Sequence[str],
        series: dict[str, Sequence[int]],
        kind: Literal["bar", "stacked", "line"] = "bar",
    ) -> Figure:
        for name, values in series.items():
            if len(values) != len(labels):
                raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
        return cls(
            title=title,
            label_heading=label_heading,
            labels=tuple(labels),
            series=tuple(Series(name, tuple(values)) for name, values in series.items()),
            kind=kind,
        )


def svg(figure: Figure) -> bytes:
    chart_class = {"bar": pygal.Bar, "stacked": pygal.StackedBar, "line": pygal.Line}[figure.kind]
    chart = chart_class(
        style=STYLE,
        js=[],  # no script from pygal's site
        disable_xml_declaration=True,
        width=figure.width,
        height=figure.height,
        explicit_size=True,
        legend_at_bottom=True,
        print_values=False,
        x_label_rotation=0 if len(figure.labels) <= 6 else 30,
        show_legend=len(figure.series) > 1,
        no_data_text="—",
    )
    chart.title = figure.title
    chart.x_labels = list(figure.labels)
    for series in figure.series:
        chart.add(series.name, list(series.values))
    rendered = chart.render()
    return rendered if isinstance(rendered, bytes) else rendered.encode()


def svg_response(figure: Figure) -> Response:
    return Response(svg(figure), media_type="image/svg+xml", headers=SVG_HEADERS)
