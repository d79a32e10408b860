//! Figures: SVG line charts with titles, axis labels with units, legends, and linear or log axes.
//!
//! Each chart is a plain description ([`LineChart`]) drawn by one function, so experiments say
//! what to draw, not how. Text is laid out with the system's fonts (plotters' `ttf` feature);
//! the SVG keeps text as `<text>`, so the browser renders it.
//!
//! Left out: interactive plots, raster output.

use crate::error::LabError;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;

/// Ten distinct colours (the common "tab10" qualitative palette's values).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Linear or base-10 logarithmic axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    Log,
    /// Powers of two: the axis is linear in log₂ x and labelled 1, 2, 4, … (sizes, vocabularies).
    Log2,
}

/// The shape drawn at a series' points, so that curves that coincide stay distinguishable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
}

/// One named curve.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Draw a dot at each point as well as the line.
    pub markers: bool,
    /// The marker's shape (when `markers`, or every `marker_every` points).
    pub marker: Marker,
    /// Draw a marker only every this many points (0: at every point when `markers`).
    pub marker_every: usize,
    /// A dashed line instead of a solid one.
    pub dashed: bool,
    /// A fixed colour instead of the next one of [`PALETTE`] (keeps a model's colour across charts).
    pub color: Option<RGBColor>,
}

impl Series {
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            markers: false,
            marker: Marker::Circle,
            marker_every: 0,
            dashed: false,
            color: None,
        }
    }

    pub fn with_markers(mut self) -> Self {
        self.markers = true;
        self
    }

    /// Markers of this shape every `every` points (for long curves that may overlap).
    pub fn marked(mut self, marker: Marker, every: usize) -> Self {
        self.markers = true;
        self.marker = marker;
        self.marker_every = every;
        self
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    pub fn color(mut self, c: RGBColor) -> Self {
        self.color = Some(c);
        self
    }
}

/// Where the legend goes.
pub use plotters::chart::SeriesLabelPosition as LegendPosition;

/// A line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_scale: Scale,
    pub y_scale: Scale,
    /// Axis ranges; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub legend: LegendPosition,
    /// Label only whole numbers on the x axis (class indices, epochs).
    pub integer_x: bool,
    pub series: Vec<Series>,
}

impl LineChart {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            x_range: None,
            y_range: None,
            legend: LegendPosition::UpperRight,
            integer_x: false,
            series: Vec::new(),
        }
    }

    pub fn log_x(mut self) -> Self {
        self.x_scale = Scale::Log;
        self
    }

    pub fn log_y(mut self) -> Self {
        self.y_scale = Scale::Log;
        self
    }

    /// Powers of two on the x axis (see [`Scale::Log2`]).
    pub fn log2_x(mut self) -> Self {
        self.x_scale = Scale::Log2;
        self
    }

    /// Label only whole numbers on the x axis.
    pub fn integer_x(mut self) -> Self {
        self.integer_x = true;
        self
    }

    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    pub fn legend(mut self, at: LegendPosition) -> Self {
        self.legend = at;
        self
    }

    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// Draws the chart as SVG at `path`.
    pub fn draw(&self, path: &Path) -> Result<(), LabError> {
        let fail = |message: String| LabError::Plot {
            path: path.to_path_buf(),
            message,
        };
        let (x0, x1) = self
            .x_range
            .or_else(|| self.bounds(|p| p.0, self.x_scale))
            .ok_or_else(|| fail("no finite x values to plot".into()))?;
        let (y0, y1) = self
            .y_range
            .or_else(|| self.bounds(|p| p.1, self.y_scale))
            .ok_or_else(|| fail("no finite y values to plot".into()))?;
        let r = match (self.x_scale, self.y_scale) {
            (Scale::Log, Scale::Log) => {
                self.draw_in(path, (x0..x1).log_scale(), (y0..y1).log_scale())
            }
            (Scale::Log, _) => self.draw_in(path, (x0..x1).log_scale(), y0..y1),
            (_, Scale::Log) => self.draw_in(path, x0..x1, (y0..y1).log_scale()),
            _ => self.draw_in(path, x0..x1, y0..y1),
        };
        r.map_err(|e| fail(e.to_string()))
    }

    /// The data's extent along one axis (only positive values on a log axis), padded on a linear one.
    fn bounds(&self, coord: impl Fn(&(f64, f64)) -> f64, scale: Scale) -> Option<(f64, f64)> {
        let vals = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| self.to_axes(*p)))
            .map(|p| coord(&p))
            .filter(|v| v.is_finite() && (scale != Scale::Log || *v > 0.0));
        let (lo, hi) = vals.fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(a, b)| (a.min(v), b.max(v))))
        })?;
        Some(match scale {
            Scale::Log if lo == hi => (lo / 2.0, hi * 2.0),
            Scale::Log => (lo, hi),
            _ if lo == hi => (lo - 1.0, hi + 1.0),
            _ => {
                let pad = 0.04 * (hi - lo);
                (lo - pad, hi + pad)
            }
        })
    }

    /// A data point in axis coordinates (log₂ x on a [`Scale::Log2`] axis).
    fn to_axes(&self, (x, y): (f64, f64)) -> (f64, f64) {
        match self.x_scale {
            Scale::Log2 => (x.log2(), y),
            _ => (x, y),
        }
    }

    fn x_tick(&self, v: f64) -> String {
        let whole = (v - v.round()).abs() < 1e-9;
        match self.x_scale {
            Scale::Log2 if whole => format!("{}", 2f64.powi(v.round() as i32)),
            Scale::Log2 => String::new(),
            _ if self.integer_x && !whole => String::new(),
            _ => tick(v),
        }
    }

    fn draw_in<X, Y>(&self, path: &Path, x: X, y: Y) -> Result<(), Box<dyn std::error::Error>>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let root = SVGBackend::new(path, (820, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| self.x_tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, s) in self.series.iter().enumerate() {
            let color = s.color.unwrap_or(PALETTE[i % PALETTE.len()]);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|&p| self.to_axes(p))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .collect();
            let (marker, dashed, with_marker) = (s.marker, s.dashed, s.markers);
            let drawn = if dashed {
                chart.draw_series(DashedLineSeries::new(
                    pts.clone(),
                    9,
                    6,
                    color.stroke_width(2),
                ))?
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            };
            drawn.label(&s.label).legend(move |(x, y)| {
                // A dashed legend line is two short strokes; the marker sits in its middle.
                let (a, b) = if dashed { (7, 13) } else { (20, 20) };
                let shape = if with_marker {
                    marker_shape(marker)
                } else {
                    Vec::new()
                };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (a, 0)], color.stroke_width(3))
                    + PathElement::new(vec![(b, 0), (20, 0)], color.stroke_width(3))
                    + Polygon::new(
                        shape
                            .into_iter()
                            .map(|(u, v)| (u + 10, v))
                            .collect::<Vec<_>>(),
                        color.filled(),
                    )
            });
            if s.markers {
                chart.draw_series(pts.iter().step_by(s.marker_every.max(1)).map(|&p| {
                    EmptyElement::at(p) + Polygon::new(marker_shape(marker), color.filled())
                }))?;
            }
        }
        if self.series.iter().any(|s| !s.label.is_empty()) {
            chart
                .configure_series_labels()
                .position(self.legend.clone())
                .label_font(("sans-serif", 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        root.present()?;
        Ok(())
    }
}

/// The outline of a marker, in pixels around its centre.
fn marker_shape(shape: Marker) -> Vec<(i32, i32)> {
    match shape {
        Marker::Circle => vec![
            (2, -5),
            (5, -2),
            (5, 2),
            (2, 5),
            (-2, 5),
            (-5, 2),
            (-5, -2),
            (-2, -5),
        ],
        Marker::Square => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        Marker::Triangle => vec![(0, -6), (6, 5), (-6, 5)],
    }
}

/// A short tick label: plain decimals for moderate values, scientific notation otherwise.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
