//! `shmring bench --plot FILE.svg`: the results as a picture (plotters, SVG backend). Top:
//! the latency percentile curve of every round-trip row, p50 to the maximum, on log scales
//! (the x axis counts nines: 90 % at 1, 99 % at 2, …). Bottom: every throughput row as a bar
//! of its ratio to the floor of its size (log scale), labelled with its rate and ratio.

use std::path::Path;

use plotters::prelude::*;

use super::paired::Measured;
use crate::Failure;

/// Where percentile `p` (in %) sits on the x axis: its number of nines, `−log10(1 − p/100)`.
/// The maximum (100 %) is drawn one step past the last percentile.
fn nines(p: f64) -> f64 {
    if p >= 100.0 {
        5.0
    } else {
        -(1.0 - p / 100.0).log10()
    }
}

/// The label of the x axis at `x` nines.
fn percentile_label(x: &f64) -> String {
    if *x >= 4.99 {
        "max".into()
    } else {
        let p = 100.0 * (1.0 - 10f64.powf(-*x));
        format!("p{}", (p * 100.0).round() / 100.0)
    }
}

/// A failure to draw `path`, as the command reports it.
fn failed(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::new(1, format!("cannot draw {}: {e}", path.display()))
}

/// Draws `rows` to the SVG file `path`, captioned with `setup`.
pub(crate) fn draw(path: &Path, rows: &[Measured], setup: &str) -> Result<(), Failure> {
    let latency: Vec<&Measured> = rows.iter().filter(|m| !m.row.curve.is_empty()).collect();
    let rates: Vec<&Measured> = rows.iter().filter(|m| m.row.tput.is_some()).collect();
    let height = 520 + 26 * rates.len() as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(path, e))?;
    let root = root
        .titled(&format!("shmring bench: {setup}"), ("sans-serif", 14))
        .map_err(|e| failed(path, e))?;
    let (top, bottom) = root.split_vertically(480);
    curves(&top, &latency).map_err(|e| failed(path, e))?;
    bars(&bottom, &rates).map_err(|e| failed(path, e))?;
    root.present().map_err(|e| failed(path, e))?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// The latency curves, one colour per row.
fn curves(area: &Area<'_>, rows: &[&Measured]) -> DrawResult {
    let values = rows
        .iter()
        .flat_map(|m| m.row.curve.iter().map(|(_, us)| *us));
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        ((lo * 0.8).max(0.01), hi * 1.25)
    } else {
        (0.01, 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            "round trip: latency by percentile (µs, log scale; each row's median pair — rows \
             measured in different machine modes compare by their ratios, not here)",
            ("sans-serif", 14),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(0.2f64..5.2, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(7)
        .x_label_formatter(&percentile_label)
        .y_desc("µs")
        .draw()?;
    for (i, m) in rows.iter().enumerate() {
        let colour = Palette99::pick(i).mix(0.9);
        let points: Vec<(f64, f64)> = m
            .row
            .curve
            .iter()
            .map(|&(p, us)| (nines(p), us.max(lo)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!("{} {}", m.row.name, m.row.size))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
    }
    if !rows.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 11))
            .draw()?;
    }
    Ok(())
}

/// The throughput bars: ratio to the floor on a log scale, the rate and ratio as text.
fn bars(area: &Area<'_>, rows: &[&Measured]) -> DrawResult {
    let ratio = |m: &Measured| {
        m.ratio
            .map(|r| r.headline().median)
            .unwrap_or(if m.row.is_floor() { 1.0 } else { f64::NAN })
    };
    let known: Vec<f64> = rows
        .iter()
        .map(|m| ratio(m))
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect();
    let lo = known.iter().copied().fold(1.0f64, f64::min) * 0.5;
    let hi = known.iter().copied().fold(1.0f64, f64::max) * 4.0;
    let n = rows.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "throughput: ratio to the floor of the same size (log scale)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(380)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..n as f64)?;
    let names: Vec<String> = rows
        .iter()
        .map(|m| format!("{} {}", m.row.name, m.row.size))
        .collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n * 2 + 1)
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - y.floor() - 0.5).abs() < 0.01 && i < names.len() {
                names[names.len() - 1 - i].clone()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 11))
        .x_desc("× the floor")
        .draw()?;
    for (i, m) in rows.iter().enumerate() {
        let r = ratio(m);
        if !(r.is_finite() && r > 0.0) {
            continue;
        }
        let y = (n - 1 - i) as f64;
        let colour = if m.row.is_floor() {
            BLACK.mix(0.4)
        } else {
            Palette99::pick(i).mix(0.8)
        };
        chart.draw_series([Rectangle::new(
            [(lo, y + 0.15), (r, y + 0.85)],
            colour.filled(),
        )])?;
        let rate = m.row.tput.unwrap_or(0.0) / 1e6;
        chart.draw_series([Text::new(
            format!("{rate:.1} M/s, {r:.2}×"),
            (r * 1.05, y + 0.7),
            ("sans-serif", 11),
        )])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_sit_at_their_nines() {
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(percentile_label(&2.0), "p99");
        assert_eq!(percentile_label(&5.0), "max");
    }
}
