//! A PNG of a forecast run: recent history, the truth over the test part, the mixture's
//! forecasts with their intervals, and the linear AR forecasts.
//!
//! The test part is tiled by the forecasts of every H-th origin, so each plotted point is an
//! h-step forecast for some h ≤ H made from known values only.
//!
//! The picture is rendered into memory and written through [`write_atomic`]. Text needs a
//! system font; where none can be loaded (a bare machine), the same picture is drawn without
//! text rather than failing.

use std::path::Path;

use image::ImageEncoder as _;
use plotters::prelude::*;

use super::ForecastRun;
use crate::error::{GmmError, Result};
use crate::output::write_atomic;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 500;

/// The lines and the band to draw, in (time index, value) pairs.
struct Layers {
    history: Vec<(f64, f64)>,
    truth: Vec<(f64, f64)>,
    gmm: Vec<Vec<(f64, f64)>>,
    band: Vec<Vec<(f64, f64)>>,
    ar: Vec<Vec<(f64, f64)>>,
    x_range: (f64, f64),
    y_range: (f64, f64),
}

fn layers(run: &ForecastRun) -> Layers {
    let h = run.config.horizon;
    let n_train = run.n_train_points;
    let test_len = run.series.len() - n_train;
    let start = n_train.saturating_sub((test_len / 2).max(50));
    let history: Vec<(f64, f64)> = (start..n_train)
        .map(|t| (t as f64, run.series[t]))
        .collect();
    let truth: Vec<(f64, f64)> = (n_train - 1..run.series.len())
        .map(|t| (t as f64, run.series[t]))
        .collect();
    let mut gmm = Vec::new();
    let mut band = Vec::new();
    let mut ar = Vec::new();
    for i in (0..run.n_test()).step_by(h) {
        let t = run.origins[i];
        let last = (t as f64, run.series[t]);
        let seg = |m: &nalgebra::DMatrix<f64>| {
            std::iter::once(last)
                .chain((0..h).map(|j| ((t + 1 + j) as f64, m[(i, j)])))
                .collect::<Vec<_>>()
        };
        gmm.push(seg(&run.gmm));
        ar.push(seg(&run.ar));
        let mut poly: Vec<(f64, f64)> = std::iter::once(last)
            .chain((0..h).map(|j| ((t + 1 + j) as f64, run.upper[(i, j)])))
            .collect();
        poly.extend(
            (0..h)
                .rev()
                .map(|j| ((t + 1 + j) as f64, run.lower[(i, j)])),
        );
        band.push(poly);
    }
    let all_y = history
        .iter()
        .chain(&truth)
        .map(|p| p.1)
        .chain(band.iter().flatten().map(|p| p.1));
    let (lo, hi) = all_y.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.05).max(1e-9);
    Layers {
        history,
        truth,
        gmm,
        band,
        ar,
        x_range: (start as f64, (run.series.len() - 1) as f64),
        y_range: (lo - pad, hi + pad),
    }
}

type DrawResult = std::result::Result<(), String>;

fn draw(buf: &mut [u8], l: &Layers, title: &str, with_text: bool) -> DrawResult {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::with_buffer(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(15);
    if with_text {
        builder
            .caption(title, ("sans-serif", 20))
            .x_label_area_size(35)
            .y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d(l.x_range.0..l.x_range.1, l.y_range.0..l.y_range.1)
        .map_err(|x| e(&x))?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE.mix(0.0));
    if with_text {
        mesh.x_desc("time index")
            .y_desc("value")
            .x_label_formatter(&|v| format!("{v:.0}"));
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(|x| e(&x))?;
    let band_colour = RGBColor(70, 130, 220).mix(0.25);
    let gmm_colour = RGBColor(20, 80, 200);
    let ar_colour = RGBColor(210, 60, 40);
    let grey = RGBColor(120, 120, 120);
    for (i, poly) in l.band.iter().enumerate() {
        let s = chart
            .draw_series(std::iter::once(Polygon::new(poly.clone(), band_colour)))
            .map_err(|x| e(&x))?;
        if i == 0 && with_text {
            s.label("mixture interval").legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], band_colour.filled())
            });
        }
    }
    let s = chart
        .draw_series(LineSeries::new(l.history.clone(), grey.stroke_width(1)))
        .map_err(|x| e(&x))?;
    if with_text {
        s.label("history (training)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    }
    for (i, seg) in l.ar.iter().enumerate() {
        let s = chart
            .draw_series(LineSeries::new(seg.clone(), ar_colour.stroke_width(1)))
            .map_err(|x| e(&x))?;
        if i == 0 && with_text {
            s.label("linear AR")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ar_colour));
        }
    }
    for (i, seg) in l.gmm.iter().enumerate() {
        let s = chart
            .draw_series(LineSeries::new(seg.clone(), gmm_colour.stroke_width(2)))
            .map_err(|x| e(&x))?;
        if i == 0 && with_text {
            s.label("mixture forecast").legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], gmm_colour.stroke_width(2))
            });
        }
    }
    let s = chart
        .draw_series(LineSeries::new(l.truth.clone(), BLACK.stroke_width(1)))
        .map_err(|x| e(&x))?;
    if with_text {
        s.label("truth (test)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    }
    if with_text {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Renders the run as a PNG into memory (RGB); `Ok(false)` in the flag when text could not
/// be drawn and the picture has none.
pub fn render(run: &ForecastRun, title: &str) -> Result<(Vec<u8>, bool)> {
    let l = layers(run);
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    let with_text = match draw(&mut buf, &l, title, true) {
        Ok(()) => true,
        Err(_) => {
            buf.iter_mut().for_each(|b| *b = 0);
            draw(&mut buf, &l, title, false).map_err(|e| {
                GmmError::InvalidData(format!("drawing the forecast plot failed: {e}"))
            })?;
            false
        }
    };
    Ok((buf, with_text))
}

/// Writes the run's plot to `path` (PNG) atomically; returns whether it has text.
pub fn write_png(path: &Path, run: &ForecastRun, title: &str) -> Result<bool> {
    let (rgb, with_text) = render(run, title)?;
    write_atomic(path, |w| {
        image::codecs::png::PngEncoder::new(w)
            .write_image(&rgb, WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
            .map_err(std::io::Error::other)
    })?;
    Ok(with_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::{run, ForecastConfig, Transform, TransformChoice};

    fn small_run() -> ForecastRun {
        let y: Vec<f64> = (0..200).map(|t| (t as f64 * 0.3).sin()).collect();
        let config = ForecastConfig {
            window: 4,
            horizon: 3,
            n_components: 2,
            transform: TransformChoice::Fixed(Transform::None),
            ..ForecastConfig::default()
        };
        run(&y, &config).unwrap()
    }

    #[test]
    fn the_picture_without_text_is_drawn_too() {
        // The fallback for machines without fonts must draw the same data.
        let r = small_run();
        let l = layers(&r);
        let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
        draw(&mut buf, &l, "", false).unwrap();
        let non_white = buf.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(non_white > 5_000, "only {non_white} drawn pixels");
        // every forecast segment starts at its origin's known value
        assert_eq!(l.gmm.len(), r.n_test().div_ceil(3));
        assert_eq!(l.gmm[0][0], (r.origins[0] as f64, r.series[r.origins[0]]));
    }
}
