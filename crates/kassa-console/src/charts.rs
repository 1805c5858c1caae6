//! Charts for the report pages, drawn server-side as SVG with plotters.

use plotters::prelude::*;

/// What plotters may put in SVG text: no markup characters (labels come from operators).
fn clean(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .take(max)
        .collect()
}

/// A bar per label; with `limit`, a line at that height (a gateway's cap). Values are shown in
/// major units when `money` (minor units / 100), as plotted only: the tables hold exact figures.
pub fn bars(
    title: &str,
    labels: &[String],
    values: &[i64],
    limit: Option<i64>,
    money: bool,
) -> String {
    let mut svg = String::new();
    if labels.is_empty() {
        return svg;
    }
    let scale = |v: i64| if money { v / 100 } else { v };
    let max = values
        .iter()
        .copied()
        .map(scale)
        .chain(limit.map(scale))
        .max()
        .unwrap_or(0)
        .max(1);
    let labels: Vec<String> = labels.iter().map(|l| clean(l, 24)).collect();
    let title = clean(title, 80);
    {
        let root = SVGBackend::with_string(&mut svg, (720, 320)).into_drawing_area();
        if root.fill(&WHITE).is_err() {
            return String::new();
        }
        let n = labels.len();
        let chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d((0..n).into_segmented(), 0i64..(max + max / 10 + 1));
        let Ok(mut chart) = chart else {
            return String::new();
        };
        let drawn = chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(16))
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw();
        if drawn.is_err() {
            return String::new();
        }
        let bars = Histogram::vertical(&chart)
            .style(RGBColor(37, 99, 235).filled())
            .margin(8)
            .data(values.iter().enumerate().map(|(i, v)| (i, scale(*v))));
        if chart.draw_series(bars).is_err() {
            return String::new();
        }
        if let Some(cap) = limit {
            let cap = scale(cap);
            let line = LineSeries::new(
                [(SegmentValue::Exact(0), cap), (SegmentValue::Last, cap)],
                RGBColor(220, 38, 38).stroke_width(2),
            );
            if chart.draw_series(line).is_err() {
                return String::new();
            }
        }
        if root.present().is_err() {
            return String::new();
        }
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_render_svg_with_escaped_labels() {
        let svg = bars(
            "Volume <b>",
            &["2026-11".into(), "<script>".into()],
            &[12_000, 30_000],
            Some(50_000),
            true,
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("2026-11"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("<rect"), "bars are drawn");
        assert!(svg.contains("<polyline"), "the cap line is drawn");
        assert!(bars("t", &[], &[], None, false).is_empty());
    }
}
