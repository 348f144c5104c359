//! Charts drawn on the server as inline SVG: no script, nothing to fetch, readable without
//! a browser's help. Each chart comes with its figures as a table (`figures`), folded under
//! it, for screen readers and for copying.

use maud::{Markup, html};

use super::i18n::Lang;

/// Series colours, told apart also by colour-blind readers (Okabe and Ito's palette).
const PALETTE: [&str; 8] =
    ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const PAD_LEFT: f64 = 64.0;
const PAD_BOTTOM: f64 = 24.0;
const PAD_TOP: f64 = 10.0;

/// One named line or stack of a chart, a value per x label (`None`: no value there).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Lines over shared x labels (days, weeks, months).
pub fn lines(lang: Lang, title: &str, labels: &[String], series: &[Series]) -> Markup {
    let all = series.iter().flat_map(|s| s.values.iter().flatten().copied());
    let (low, high) = bounds(all);
    let x = |i: usize| PAD_LEFT + (WIDTH - PAD_LEFT - 8.0) * (i as f64) / (labels.len().max(2) - 1) as f64;
    let y = |v: f64| PAD_TOP + (HEIGHT - PAD_TOP - PAD_BOTTOM) * (1.0 - (v - low) / (high - low));
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(title) {
                title { (title) }
                (axes(lang, low, high, labels, &y))
                @for (n, s) in series.iter().enumerate() {
                    polyline fill="none" stroke=(PALETTE[n % PALETTE.len()]) stroke-width="2"
                        points=(points(&s.values, &x, &y)) {}
                    @for (i, v) in s.values.iter().enumerate() {
                        @if let Some(v) = v {
                            circle cx=(x(i)) cy=(y(*v)) r="2.5" fill=(PALETTE[n % PALETTE.len()]) {
                                title { (s.name) " · " (labels[i]) ": " (lang.dec(*v, 2)) }
                            }
                        }
                    }
                }
            }
            (legend(series))
        }
    }
}

/// Bars stacked above zero (positive series) and below it (negative series), per x label.
pub fn stacked_bars(lang: Lang, title: &str, labels: &[String], series: &[Series]) -> Markup {
    let mut up = vec![0.0_f64; labels.len()];
    let mut down = vec![0.0_f64; labels.len()];
    for s in series {
        for (i, v) in s.values.iter().enumerate() {
            let v = v.unwrap_or(0.0);
            if v >= 0.0 { up[i] += v } else { down[i] += v }
        }
    }
    let (low, high) = bounds(up.iter().chain(down.iter()).copied().chain([0.0]));
    let slot = (WIDTH - PAD_LEFT - 8.0) / labels.len().max(1) as f64;
    let y = |v: f64| PAD_TOP + (HEIGHT - PAD_TOP - PAD_BOTTOM) * (1.0 - (v - low) / (high - low));
    let mut bars = Vec::new();
    let (mut above, mut below) = (vec![0.0_f64; labels.len()], vec![0.0_f64; labels.len()]);
    for (n, s) in series.iter().enumerate() {
        for (i, v) in s.values.iter().enumerate() {
            let v = v.unwrap_or(0.0);
            if v == 0.0 {
                continue;
            }
            let base = if v > 0.0 { &mut above[i] } else { &mut below[i] };
            let (from, to) = (*base, *base + v);
            *base = to;
            let (top, bottom) = (y(from.max(to)), y(from.min(to)));
            bars.push((n, i, top, bottom - top, v));
        }
    }
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(title) {
                title { (title) }
                (axes(lang, low, high, labels, &y))
                @for (n, i, top, height, v) in &bars {
                    rect x=(PAD_LEFT + slot * (*i as f64) + slot * 0.1) y=(top) width=(slot * 0.8) height=(height.max(0.5))
                        fill=(PALETTE[n % PALETTE.len()]) {
                        title { (series[*n].name) " · " (labels[*i]) ": " (lang.dec(*v, 0)) }
                    }
                }
            }
            (legend(series))
        }
    }
}

/// A grid of cells shaded by value (0 to `max`), rows by columns; empty cells stay blank.
pub fn heat_map(
    lang: Lang,
    title: &str,
    rows: &[String],
    columns: &[String],
    cells: &[Vec<Option<f64>>],
    percent: bool,
) -> Markup {
    let max = cells.iter().flatten().flatten().copied().fold(0.0_f64, f64::max);
    let (cell_w, cell_h, left, top) = (28.0, 20.0, 96.0, 18.0);
    let width = left + cell_w * columns.len() as f64;
    let height = top + cell_h * rows.len() as f64;
    let show = |v: f64| if percent { lang.pct(v) } else { lang.dec(v, 0) };
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(title) {
                title { (title) }
                @for (c, label) in columns.iter().enumerate() {
                    text x=(left + cell_w * c as f64 + cell_w / 2.0) y="12" text-anchor="middle" font-size="10" { (label) }
                }
                @for (r, label) in rows.iter().enumerate() {
                    text x=(left - 6.0) y=(top + cell_h * r as f64 + 14.0) text-anchor="end" font-size="10" { (label) }
                    @for (c, value) in cells[r].iter().enumerate() {
                        @if let Some(v) = value {
                            rect x=(left + cell_w * c as f64) y=(top + cell_h * r as f64) width=(cell_w - 1.0) height=(cell_h - 1.0)
                                fill="#0072B2" fill-opacity=(if max > 0.0 { 0.08 + 0.92 * v / max } else { 0.08 }) {
                                title { (label) " · " (columns[c]) ": " (show(*v)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A table of the figures behind a chart, folded.
pub fn figures(lang: Lang, head: &[String], rows: &[Vec<String>]) -> Markup {
    html! {
        details.figures-table {
            summary { (lang.t("Show as a table")) }
            table {
                thead { tr { @for h in head { th { (h) } } } }
                tbody { @for row in rows { tr { @for cell in row { td { (cell) } } } } }
            }
        }
    }
}

fn axes(lang: Lang, low: f64, high: f64, labels: &[String], y: &impl Fn(f64) -> f64) -> Markup {
    let step = (labels.len() / 6).max(1);
    let x = |i: usize| PAD_LEFT + (WIDTH - PAD_LEFT - 8.0) * (i as f64) / (labels.len().max(2) - 1) as f64;
    html! {
        g.axis font-size="10" fill="#5b6475" {
            @for v in [low, (low + high) / 2.0, high] {
                line x1=(PAD_LEFT) x2=(WIDTH - 8.0) y1=(y(v)) y2=(y(v)) stroke="#d9dee8" {}
                text x=(PAD_LEFT - 6.0) y=(y(v) + 3.0) text-anchor="end" { (lang.dec(v, if high - low < 10.0 { 2 } else { 0 })) }
            }
            @for (i, label) in labels.iter().enumerate().step_by(step) {
                text x=(x(i)) y=(HEIGHT - 6.0) text-anchor="middle" { (label) }
            }
        }
    }
}

fn legend(series: &[Series]) -> Markup {
    html! {
        figcaption.legend {
            @for (n, s) in series.iter().enumerate() {
                span { i style={ "background:" (PALETTE[n % PALETTE.len()]) } {} (s.name) }
            }
        }
    }
}

fn points(values: &[Option<f64>], x: &impl Fn(usize) -> f64, y: &impl Fn(f64) -> f64) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            out.push_str(&format!("{:.1},{:.1} ", x(i), y(*v)));
        }
    }
    out
}

/// The value range a chart spans: never empty, so that a flat series still draws.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    let low = low.min(0.0);
    if high <= low { (low, low + 1.0) } else { (low, high) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_or_empty_series_still_has_a_range() {
        assert_eq!(bounds([].into_iter()), (0.0, 1.0));
        assert_eq!(bounds([5.0, 5.0].into_iter()), (0.0, 5.0));
        assert_eq!(bounds([0.0].into_iter()), (0.0, 1.0));
        assert_eq!(bounds([-3.0, 2.0].into_iter()), (-3.0, 2.0));
    }

    #[test]
    fn charts_escape_names_and_draw_every_value() {
        let labels = vec!["d1".to_owned(), "d2".to_owned()];
        let series = [Series { name: "<b>".into(), values: vec![Some(1.0), None] }];
        let svg = lines(Lang::En, "t", &labels, &series).into_string();
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert_eq!(svg.matches("<circle").count(), 1, "a missing value draws no point");
        let bars = stacked_bars(
            Lang::En,
            "t",
            &labels,
            &[
                Series { name: "in".into(), values: vec![Some(3.0), Some(1.0)] },
                Series { name: "out".into(), values: vec![Some(-2.0), None] },
            ],
        )
        .into_string();
        assert_eq!(bars.matches("<rect").count(), 3);
    }
}
