//! Figures that are not line charts: heatmaps (confusion matrices, weight and attention maps)
//! and grids of small grey images (digits).
//!
//! Left out: colour bars (the heatmap writes each cell's value instead when asked).

use crate::error::LabError;
use plotters::prelude::*;
use std::path::Path;

fn plot_err(path: &Path) -> impl Fn(String) -> LabError + '_ {
    move |message| LabError::Plot {
        path: path.to_path_buf(),
        message,
    }
}

/// White → dark blue for t in [0, 1].
pub fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// A heatmap of `values[row][col]`, row 0 at the top, coloured by value / max, cells annotated
/// with `format(value)` when `annotate`.
pub struct Heatmap<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub col_names: Vec<String>,
    pub row_names: Vec<String>,
    pub values: Vec<Vec<f64>>,
    pub annotate: Option<&'a dyn Fn(f64) -> String>,
}

impl Heatmap<'_> {
    /// Draws with each cell coloured by value / max.
    pub fn draw(&self, path: &Path) -> Result<(), LabError> {
        let max = self
            .values
            .iter()
            .flatten()
            .copied()
            .fold(f64::MIN_POSITIVE, f64::max);
        self.draw_scaled(path, &|v| v / max)
    }

    /// Draws with each cell coloured by `shade(value)` in [0, 1] (0 white, 1 dark blue): for
    /// values that crowd one end of the range, where value / max would make them look alike.
    pub fn draw_scaled(&self, path: &Path, shade: &dyn Fn(f64) -> f64) -> Result<(), LabError> {
        self.draw_inner(path, shade)
            .map_err(|e| plot_err(path)(e.to_string()))
    }

    fn draw_inner(
        &self,
        path: &Path,
        shade: &dyn Fn(f64) -> f64,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let rows = self.values.len();
        let cols = self.values.first().map_or(0, |r| r.len());
        let root = SVGBackend::new(path, (680, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(
                40 + 8 * self
                    .row_names
                    .iter()
                    .map(|n| n.chars().count())
                    .max()
                    .unwrap_or(0) as u32,
            )
            .build_cartesian_2d(0.0..cols as f64, rows as f64..0.0)?;
        let (cn, rn) = (&self.col_names, &self.row_names);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cols * 2 + 1)
            .y_labels(rows * 2 + 1)
            .x_label_formatter(&|v| name_at(cn, *v))
            .y_label_formatter(&|v| name_at(rn, *v))
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        for (r, row) in self.values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let (x, y) = (c as f64, r as f64);
                let t = shade(v);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    blues(t).filled(),
                )))?;
                if let Some(fmt) = self.annotate {
                    let color = if t > 0.5 { WHITE } else { BLACK };
                    let style = ("sans-serif", 12).into_font().color(&color).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Center,
                        ),
                    );
                    chart.draw_series(std::iter::once(Text::new(
                        fmt(v),
                        (x + 0.5, y + 0.5),
                        style,
                    )))?;
                }
            }
        }
        root.present()?;
        Ok(())
    }
}

/// The name of the cell whose centre is at `v` (labels sit at half-integers), else "".
fn name_at(names: &[String], v: f64) -> String {
    let i = v - 0.5;
    if (i - i.round()).abs() < 1e-6 && i >= 0.0 {
        names.get(i.round() as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// A grid of grey images (`w × h` bytes each, 0 = white, 255 = black) with a caption under each.
pub fn image_grid(
    path: &Path,
    title: &str,
    images: &[(Vec<u8>, String)],
    cols: usize,
    w: usize,
    h: usize,
) -> Result<(), LabError> {
    let inner = || -> Result<(), Box<dyn std::error::Error>> {
        let rows = images.len().div_ceil(cols).max(1);
        let cell = 4u32; // pixels per image pixel
        let (cw, ch) = (w as u32 * cell + 16, h as u32 * cell + 34);
        let root =
            SVGBackend::new(path, (cw * cols as u32, ch * rows as u32 + 40)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, ("sans-serif", 20))?;
        for (k, (img, caption)) in images.iter().enumerate() {
            let (gx, gy) = (
                (k % cols) as i32 * cw as i32 + 8,
                (k / cols) as i32 * ch as i32,
            );
            root.draw(&Rectangle::new(
                [
                    (gx - 1, gy - 1),
                    (
                        gx + (w as u32 * cell) as i32 + 1,
                        gy + (h as u32 * cell) as i32 + 1,
                    ),
                ],
                BLACK.mix(0.3).stroke_width(1),
            ))?;
            for (p, &v) in img.iter().enumerate() {
                if v < 16 {
                    continue; // background stays white: keeps the SVG small
                }
                let (px, py) = (
                    gx + (p % w) as i32 * cell as i32,
                    gy + (p / w) as i32 * cell as i32,
                );
                let g = 255 - v;
                root.draw(&Rectangle::new(
                    [(px, py), (px + cell as i32, py + cell as i32)],
                    RGBColor(g, g, g).filled(),
                ))?;
            }
            root.draw(&Text::new(
                caption.clone(),
                (gx, gy + (h as u32 * cell) as i32 + 6),
                ("sans-serif", 13),
            ))?;
        }
        root.present()?;
        Ok(())
    };
    inner().map_err(|e| plot_err(path)(e.to_string()))
}

/// A 2-D classifier's view: the plane over `[lo, hi]²` shaded by `f(x, y)` in [0, 1] (white at
/// 0.5, blue toward 0, orange toward 1), with labelled points drawn on top (class 0 blue circles,
/// class 1 orange). Its text is large (17 px ticks) because posts show these two to a row.
pub fn decision_field(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    (lo, hi): (f64, f64),
    f: &dyn Fn(f64, f64) -> f64,
    points: &[(f64, f64, u8)],
) -> Result<(), LabError> {
    let inner = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (560, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(55)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 19))
            .draw()?;
        let n = 50;
        let step = (hi - lo) / n as f64;
        let blue = (31.0, 119.0, 180.0);
        let orange = (255.0, 127.0, 14.0);
        for i in 0..n {
            for j in 0..n {
                let (x, y) = (lo + (i as f64 + 0.5) * step, lo + (j as f64 + 0.5) * step);
                let v = f(x, y).clamp(0.0, 1.0);
                let (c, t) = if v < 0.5 {
                    (blue, (0.5 - v) * 2.0)
                } else {
                    (orange, (v - 0.5) * 2.0)
                };
                let t = 0.55 * t;
                let mix = |a: f64| (255.0 + (a - 255.0) * t).round() as u8;
                let color = RGBColor(mix(c.0), mix(c.1), mix(c.2));
                let (x0, y0) = (lo + i as f64 * step, lo + j as f64 * step);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x0 + step, y0 + step)],
                    color.filled(),
                )))?;
            }
        }
        for &(x, y, class) in points {
            let color = if class == 0 {
                crate::plot::PALETTE[0]
            } else {
                crate::plot::PALETTE[1]
            };
            chart.draw_series(std::iter::once(Circle::new((x, y), 9, color.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(
                (x, y),
                9,
                BLACK.stroke_width(2),
            )))?;
        }
        root.present()?;
        Ok(())
    };
    inner().map_err(|e| plot_err(path)(e.to_string()))
}

/// A scatter plot of labelled points (e.g. words in a 2-D projection).
pub fn labelled_scatter(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    points: &[(f64, f64, String)],
) -> Result<(), LabError> {
    let inner = || -> Result<(), Box<dyn std::error::Error>> {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y, _) in points {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        // Room on the right for the longest label (≈ 8 px per character of a 730 px wide plot),
        // so the rightmost point's label is not cut off.
        let chars = points
            .iter()
            .map(|(_, _, l)| l.chars().count())
            .max()
            .unwrap_or(0);
        let a = ((chars as f64 * 8.0 + 10.0) / 730.0).min(0.6);
        let (span, py) = ((x1 - x0).max(1e-9), 0.08 * (y1 - y0).max(1e-9));
        let px = 0.12 * span;
        let px_right = (a * (span + px) / (1.0 - a)).max(px);
        let root = SVGBackend::new(path, (820, 620)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((x0 - px)..(x1 + px_right), (y0 - py)..(y1 + py))?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        for (x, y, label) in points {
            chart.draw_series(std::iter::once(Circle::new(
                (*x, *y),
                4,
                crate::plot::PALETTE[0].filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, *y),
                ("sans-serif", 15),
            )))?;
        }
        root.present()?;
        Ok(())
    };
    inner().map_err(|e| plot_err(path)(e.to_string()))
}
