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
const PAD_RIGHT: f64 = 12.0;

/// One named line or stack of a chart, a value per x label (`None`: no value there).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Lines over shared x labels (days, weeks, months).
pub fn lines(lang: Lang, title: &str, labels: &[String], series: &[Series]) -> Markup {
    let all = series.iter().flat_map(|s| s.values.iter().flatten().copied());
    let (low, high) = bounds(all);
    let x =
        |i: usize| PAD_LEFT + (WIDTH - PAD_LEFT - PAD_RIGHT) * (i as f64) / (labels.len().max(2) - 1) as f64;
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

/// A small line of one figure over days, for a headline: no axes, the range in its title.
pub fn sparkline(lang: Lang, title: &str, labels: &[String], values: &[Option<f64>]) -> Markup {
    let (w, h) = (320.0, 64.0);
    let (low, high) = bounds(values.iter().flatten().copied());
    let x = |i: usize| 2.0 + (w - 4.0) * (i as f64) / (labels.len().max(2) - 1) as f64;
    let y = |v: f64| 4.0 + (h - 8.0) * (1.0 - (v - low) / (high - low));
    let range = format!("{title}: {} – {}", lang.dec(low, 2), lang.dec(high, 2));
    html! {
        figure.chart.spark {
            svg viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(range) {
                title { (range) }
                polyline fill="none" stroke=(PALETTE[0]) stroke-width="1.5" points=(points(values, &x, &y)) {}
                @for (i, v) in values.iter().enumerate() {
                    @if let Some(v) = v {
                        circle cx=(x(i)) cy=(y(*v)) r="1.5" fill=(PALETTE[0]) { title { (labels[i]) ": " (lang.dec(*v, 2)) } }
                    }
                }
            }
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
    let slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / labels.len().max(1) as f64;
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

/// A table of cells shaded by value (eleven steps from 0 to the largest), rows by columns;
/// empty cells stay blank. A table, not a picture: every value is in it as text.
pub fn heat_map(
    lang: Lang,
    title: &str,
    rows: &[String],
    columns: &[String],
    cells: &[Vec<Option<f64>>],
    percent: bool,
) -> Markup {
    let max = cells.iter().flatten().flatten().copied().fold(0.0_f64, f64::max);
    let show = |v: f64| if percent { lang.pct(v) } else { lang.dec(v, 0) };
    // The shade: v's share of the largest, in tenths, rounded.
    let step =
        |v: f64| (0u8..=10).rev().find(|k| max > 0.0 && v / max * 10.0 + 0.5 >= f64::from(*k)).unwrap_or(0);
    html! {
        div.heat-wrap {
            table.heat {
                caption { (title) }
                thead { tr { th {} @for c in columns { th scope="col" { (c) } } } }
                tbody {
                    @for (r, label) in rows.iter().enumerate() {
                        tr {
                            th scope="row" { (label) }
                            @for value in &cells[r] {
                                @match value {
                                    Some(v) => td class={ "h" (step(*v)) } { (show(*v)) },
                                    None => td {},
                                }
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
    let x =
        |i: usize| PAD_LEFT + (WIDTH - PAD_LEFT - PAD_RIGHT) * (i as f64) / (labels.len().max(2) - 1) as f64;
    // Zero is always a grid line when the values straddle it; else the middle is.
    let middle = if low < 0.0 && high > 0.0 { 0.0 } else { (low + high) / 2.0 };
    let places = if high - low < 10.0 { 2 } else { 0 };
    html! {
        g.axis font-size="11" fill="#5b6475" {
            @for v in [low, middle, high] {
                line x1=(PAD_LEFT) x2=(WIDTH - PAD_RIGHT) y1=(y(v)) y2=(y(v)) stroke=(if v == 0.0 { "#9aa3b5" } else { "#d9dee8" }) {}
                text x=(PAD_LEFT - 6.0) y=(y(v) + 3.0) text-anchor="end" { (lang.dec(v, places)) }
            }
            @for (i, label) in labels.iter().enumerate().step_by(step) {
                text x=(x(i)) y=(HEIGHT - 6.0) text-anchor=(if i + step >= labels.len() && i > 0 { "end" } else { "middle" }) { (label) }
            }
        }
    }
}

fn legend(series: &[Series]) -> Markup {
    if series.len() < 2 {
        return html! {};
    }
    html! {
        figcaption.legend {
            @for (n, s) in series.iter().enumerate() {
                span { i class={ "c" (n % PALETTE.len()) } {} (s.name) }
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

    #[test]
    fn a_heat_map_is_a_table_shaded_in_tenths() {
        let cells = vec![vec![Some(10.0), Some(5.0), None], vec![Some(0.0), Some(1.0), Some(9.4)]];
        let (rows, columns) =
            (["a".to_owned(), "<b>".to_owned()], ["1".to_owned(), "2".to_owned(), "3".to_owned()]);
        let html = heat_map(Lang::En, "t", &rows, &columns, &cells, false).into_string();
        for cell in [r#"<td class="h10">10</td>"#, r#"<td class="h5">5</td>"#, r#"<td class="h0">0</td>"#] {
            assert!(html.contains(cell), "{cell} in {html}");
        }
        assert!(html.contains(r#"<td class="h9">9</td>"#) && html.contains(r#"<td class="h1">1</td>"#));
        assert_eq!(html.matches("<td></td>").count(), 1, "an empty cell stays blank");
        assert!(html.contains("&lt;b&gt;"));
        let shares =
            heat_map(Lang::En, "t", &rows[..1], &columns[..1], &[vec![Some(0.25)]], true).into_string();
        assert!(shares.contains(r#"<td class="h10">25.0%</td>"#));
    }
}
