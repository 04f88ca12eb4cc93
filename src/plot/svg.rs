//! A small static SVG renderer for the plotly figures this crate draws (line and marker scatter
//! traces, grouped or overlaid bars; linear or log y, numeric or categorical x). It reads the
//! plotly JSON, so any `plotly::Plot` within that subset renders; what it does not understand is
//! skipped. It exists so figures show where no JavaScript runs (GitHub's notebook view, an
//! untrusted notebook) without a browser or chromedriver at build time.

use std::fmt::Write as _;

use serde_json::Value;

/// plotly.js's default colour sequence, for traces without a colour.
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Default size when the layout gives none.
pub const DEFAULT_WIDTH: f64 = 720.0;
pub const DEFAULT_HEIGHT: f64 = 400.0;

const FONT: &str = "font-family=\"Helvetica,Arial,sans-serif\"";
const CHAR_W: f64 = 6.6; // average glyph width at 12px, for layout estimates

#[derive(Clone, Debug, PartialEq)]
enum X {
    Num(f64),
    Cat(String),
}

#[derive(Debug)]
struct Trace {
    bar: bool,
    lines: bool,
    markers: bool,
    name: String,
    x: Vec<X>,
    y: Vec<Option<f64>>,
    color: String,
    dash: Option<&'static str>,
    line_width: f64,
    marker_size: f64,
    opacity: f64,
    legend: bool,
    /// Symmetric error bars (plotly's `error_y` of type "data"), one per point.
    error_y: Vec<Option<f64>>,
}

/// The text of a plotly title, which may be a string or `{"text": ...}`.
pub fn title_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("text").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn parse_traces(data: &[Value]) -> Vec<Trace> {
    let mut out = Vec::new();
    for (i, t) in data.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("scatter");
        let bar = match kind {
            "bar" => true,
            "scatter" | "scattergl" => false,
            _ => continue,
        };
        let ys: Vec<Option<f64>> = match t.get("y").and_then(Value::as_array) {
            Some(a) => a.iter().map(num).collect(),
            None => continue,
        };
        let xs: Vec<X> = match t.get("x").and_then(Value::as_array) {
            Some(a) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => X::Cat(s.clone()),
                    other => num(other).map(X::Num).unwrap_or(X::Cat(other.to_string())),
                })
                .collect(),
            None => (0..ys.len()).map(|i| X::Num(i as f64)).collect(),
        };
        let mode = t
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or(if ys.len() > 20 {
                "lines"
            } else {
                "lines+markers"
            });
        let line = t.get("line");
        let marker = t.get("marker");
        let color = line
            .and_then(|l| l.get("color"))
            .filter(|_| !bar)
            .or_else(|| marker.and_then(|m| m.get("color")))
            .and_then(Value::as_str)
            .map(sanitize_color)
            .unwrap_or_else(|| PALETTE[i % PALETTE.len()].to_string());
        let dash = match line.and_then(|l| l.get("dash")).and_then(Value::as_str) {
            Some("dash") => Some("6,4"),
            Some("dot") => Some("2,3"),
            Some("dashdot") => Some("6,3,2,3"),
            Some("longdash") => Some("10,5"),
            Some("longdashdot") => Some("10,4,2,4"),
            _ => None,
        };
        let error = t
            .get("error_y")
            .filter(|e| e.get("visible").and_then(Value::as_bool) != Some(false))
            .filter(|e| e.get("type").and_then(Value::as_str).unwrap_or("data") == "data");
        let error_y: Vec<Option<f64>> = error
            .and_then(|e| e.get("array"))
            .and_then(Value::as_array)
            .map(|a| a.iter().map(num).collect())
            .unwrap_or_default();
        out.push(Trace {
            error_y,
            bar,
            lines: !bar && mode.contains("lines"),
            markers: !bar && mode.contains("markers"),
            name: t
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            x: xs,
            y: ys,
            color,
            dash,
            line_width: line
                .and_then(|l| l.get("width"))
                .and_then(num)
                .unwrap_or(2.0),
            marker_size: marker
                .and_then(|m| m.get("size"))
                .and_then(num)
                .unwrap_or(6.0),
            opacity: t
                .get("opacity")
                .and_then(num)
                .unwrap_or(1.0)
                .clamp(0.0, 1.0),
            legend: t.get("showlegend").and_then(Value::as_bool).unwrap_or(true)
                && !t
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty(),
        });
    }
    out
}

/// Only `#rgb`/`#rrggbb`, `rgb(...)`/`rgba(...)` and plain colour names pass: the value lands in
/// an attribute.
fn sanitize_color(c: &str) -> String {
    let ok = c
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "#(),. %".contains(ch));
    if ok && !c.is_empty() {
        c.to_string()
    } else {
        "#444".to_string()
    }
}

/// Escape text for XML.
pub fn xml_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            c => s.push(c),
        }
    }
    s
}

/// A number with `decimals` digits, never "-0".
fn fmt_fixed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// "Nice" ticks (1, 2, 5 × 10^k) covering [lo, hi]; returns the ticks and their decimals.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).abs().max(1e-300);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil();
    let mut ticks = Vec::new();
    let mut k = first;
    while k * step <= hi + step * 1e-9 && ticks.len() < 100 {
        ticks.push(k * step);
        k += 1.0;
    }
    (ticks, decimals)
}

/// Pad a data range for display; a degenerate range becomes ±1 (or ±10%) around its value.
fn pad_range(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        return (lo - d, hi + d);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

struct YAxis {
    log: bool,
    lo: f64, // in axis units (log10 for a log axis)
    hi: f64,
}

impl YAxis {
    fn unit(&self, y: f64) -> Option<f64> {
        if self.log {
            (y > 0.0).then(|| y.log10())
        } else {
            Some(y)
        }
    }
}

enum XAxis {
    Linear { lo: f64, hi: f64, log: bool },
    Categories(Vec<String>),
}

fn layout_str<'a>(layout: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = layout;
    for p in path {
        v = v.get(*p)?;
    }
    Some(v)
}

/// Render the plotly figure JSON (`{"data": [...], "layout": {...}}`, as `Plot::to_json`) to SVG.
pub fn render(figure: &Value) -> String {
    let empty = Vec::new();
    let data = figure
        .get("data")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let null = Value::Null;
    let layout = figure.get("layout").unwrap_or(&null);
    let traces = parse_traces(data);

    let width = layout
        .get("width")
        .and_then(num)
        .unwrap_or(DEFAULT_WIDTH)
        .clamp(200.0, 4000.0);
    let plot_height = layout
        .get("height")
        .and_then(num)
        .unwrap_or(DEFAULT_HEIGHT)
        .clamp(150.0, 4000.0);
    let title = title_text(layout.get("title"));
    let x_title = title_text(layout_str(layout, &["xaxis", "title"]));
    let y_title = title_text(layout_str(layout, &["yaxis", "title"]));
    let y_log = layout_str(layout, &["yaxis", "type"]).and_then(Value::as_str) == Some("log");
    let x_log = layout_str(layout, &["xaxis", "type"]).and_then(Value::as_str) == Some("log");
    let barmode = layout
        .get("barmode")
        .and_then(Value::as_str)
        .unwrap_or("group");

    // --- legend rows (below the x axis title), wrapped to the width ---
    let legend: Vec<&Trace> = traces.iter().filter(|t| t.legend).collect();
    let mut legend_rows: Vec<Vec<(usize, f64)>> = Vec::new(); // (index into legend, x offset)
    let mut cursor = f64::INFINITY;
    for (i, t) in legend.iter().enumerate() {
        let w = 34.0 + CHAR_W * t.name.chars().count() as f64 + 18.0;
        if cursor + w > width - 20.0 {
            legend_rows.push(Vec::new());
            cursor = 0.0;
        }
        if let Some(row) = legend_rows.last_mut() {
            row.push((i, cursor));
        }
        cursor += w;
    }
    let legend_h = 20.0 * legend_rows.len() as f64;

    // --- axes ---
    let categorical = traces
        .iter()
        .any(|t| t.bar || t.x.iter().any(|x| matches!(x, X::Cat(_))));
    let x_axis = if categorical {
        let mut cats: Vec<String> = Vec::new();
        if let Some(arr) = layout_str(layout, &["xaxis", "categoryarray"]).and_then(Value::as_array)
        {
            cats.extend(arr.iter().map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| fmt_x(&X::Num(num(v).unwrap_or(0.0))))
            }));
        }
        for t in &traces {
            for x in &t.x {
                let label = fmt_x(x);
                if !cats.contains(&label) {
                    cats.push(label);
                }
            }
        }
        XAxis::Categories(cats)
    } else {
        let xs = traces
            .iter()
            .flat_map(|t| t.x.iter())
            .filter_map(|x| match x {
                X::Num(v) if !x_log || *v > 0.0 => Some(if x_log { v.log10() } else { *v }),
                _ => None,
            });
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        // a little room so that end markers are not cut in half
        let (lo, hi) = if hi > lo {
            (lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
        } else {
            pad_range(lo, hi)
        };
        XAxis::Linear { lo, hi, log: x_log }
    };
    let y_axis = {
        let given = layout_str(layout, &["yaxis", "range"])
            .and_then(Value::as_array)
            .and_then(|a| Some((num(a.first()?)?, num(a.get(1)?)?)))
            .filter(|(a, b)| b > a);
        let mut vals: Vec<f64> = traces
            .iter()
            .flat_map(|t| t.y.iter().flatten().copied())
            .filter(|y| !y_log || *y > 0.0)
            .map(|y| if y_log { y.log10() } else { y })
            .collect();
        if traces.iter().any(|t| t.bar) && !y_log {
            vals.push(0.0);
        }
        let (lo, hi) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (lo, hi) = match given {
            Some(r) => r,
            None if y_log && lo.is_finite() => {
                let (lo, hi) = (lo.floor(), hi.ceil());
                if hi > lo {
                    (lo, hi)
                } else {
                    (lo - 1.0, hi + 1.0)
                }
            }
            None => pad_range(lo, hi),
        };
        YAxis { log: y_log, lo, hi }
    };

    // --- geometry ---
    let top = if title.is_some() { 42.0 } else { 16.0 };
    let left = 78.0;
    let right = 18.0;
    let x_tick_rot = matches!(&x_axis, XAxis::Categories(c) if c.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64 * CHAR_W * c.len() as f64 > width - left - right);
    let x_tick_h = if x_tick_rot {
        let longest = match &x_axis {
            XAxis::Categories(c) => c
                .iter()
                .map(|s| s.chars().count().min(28))
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        12.0 + 0.72 * CHAR_W * longest as f64
    } else {
        22.0
    };
    let bottom_axis = x_tick_h + if x_title.is_some() { 22.0 } else { 4.0 };
    let height = plot_height + legend_h;
    let (px0, px1) = (left, width - right);
    let (py0, py1) = (top, plot_height - bottom_axis);
    let py1 = py1.max(py0 + 40.0);
    let sy = |u: f64| py1 - (u - y_axis.lo) / (y_axis.hi - y_axis.lo) * (py1 - py0);

    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" {FONT} font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <defs><clipPath id=\"plotarea\"><rect x=\"{px0}\" y=\"{py0}\" width=\"{pw}\" height=\"{ph}\"/></clipPath></defs>\n",
        w = width,
        h = height,
        pw = px1 - px0,
        ph = py1 - py0
    );
    if let Some(t) = &title {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
            width / 2.0,
            xml_escape(t)
        );
    }

    // y grid and ticks
    if y_axis.log {
        let (a, b) = (y_axis.lo.ceil() as i32, y_axis.hi.floor() as i32);
        let decades = (b - a).max(0) as usize + 1;
        let every = decades.div_ceil(8).max(1);
        for k in a..=b {
            let y = sy(k as f64);
            let _ = writeln!(
                s,
                "<line x1=\"{px0}\" x2=\"{px1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>"
            );
            if ((k - a) as usize) % every == 0 {
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">10<tspan dy=\"-6\" font-size=\"9\">{}</tspan></text>",
                    px0 - 6.0,
                    y + 4.0,
                    k
                );
            }
            if decades <= 4 {
                for m in [2.0f64, 5.0] {
                    let u = k as f64 + m.log10();
                    if u < y_axis.hi {
                        let y = sy(u);
                        let _ = writeln!(s, "<line x1=\"{px0}\" x2=\"{px1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#f2f2f2\"/>");
                    }
                }
            }
        }
    } else {
        let (ticks, dec) = linear_ticks(y_axis.lo, y_axis.hi, 6);
        for t in ticks {
            let y = sy(t);
            let stroke = if t == 0.0 { "#bbb" } else { "#e5e5e5" };
            let _ = writeln!(
                s,
                "<line x1=\"{px0}\" x2=\"{px1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{stroke}\"/>"
            );
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                px0 - 6.0,
                y + 4.0,
                fmt_fixed(t, dec)
            );
        }
    }

    // x ticks and the x mapping
    let n_cat = match &x_axis {
        XAxis::Categories(c) => c.len().max(1),
        _ => 1,
    };
    let band = (px1 - px0) / n_cat as f64;
    let sx_num = |u: f64| match &x_axis {
        XAxis::Linear { lo, hi, .. } => px0 + (u - lo) / (hi - lo) * (px1 - px0),
        _ => px0,
    };
    let sx = |x: &X| -> Option<f64> {
        match &x_axis {
            XAxis::Categories(c) => {
                let label = fmt_x(x);
                c.iter()
                    .position(|l| *l == label)
                    .map(|i| px0 + band * (i as f64 + 0.5))
            }
            XAxis::Linear { log, .. } => match x {
                X::Num(v) if *log => (*v > 0.0).then(|| sx_num(v.log10())),
                X::Num(v) => Some(sx_num(*v)),
                X::Cat(_) => None,
            },
        }
    };
    match &x_axis {
        XAxis::Categories(cats) => {
            let every = if x_tick_rot {
                1
            } else {
                (cats.len() as f64 * 60.0 / (px1 - px0)).ceil().max(1.0) as usize
            };
            for (i, c) in cats.iter().enumerate().filter(|(i, _)| i % every == 0) {
                let x = px0 + band * (i as f64 + 0.5);
                let label: String = if c.chars().count() > 28 {
                    c.chars().take(27).chain(['…']).collect()
                } else {
                    c.clone()
                };
                if x_tick_rot {
                    let _ = writeln!(
                        s,
                        "<text transform=\"translate({x:.1},{:.1}) rotate(-40)\" text-anchor=\"end\" font-size=\"11\">{}</text>",
                        py1 + 12.0,
                        xml_escape(&label)
                    );
                } else {
                    let _ = writeln!(
                        s,
                        "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                        py1 + 17.0,
                        xml_escape(&label)
                    );
                }
            }
        }
        XAxis::Linear { lo, hi, log } => {
            if *log {
                for k in (lo.ceil() as i32)..=(hi.floor() as i32) {
                    let x = sx_num(k as f64);
                    let _ = writeln!(s, "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{py0}\" y2=\"{py1}\" stroke=\"#f0f0f0\"/>");
                    let _ = writeln!(
                        s,
                        "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">10<tspan dy=\"-6\" font-size=\"9\">{k}</tspan></text>",
                        py1 + 18.0
                    );
                }
            } else {
                let (ticks, dec) = linear_ticks(*lo, *hi, 7);
                for t in ticks {
                    let x = sx_num(t);
                    let _ = writeln!(s, "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{py0}\" y2=\"{py1}\" stroke=\"#f0f0f0\"/>");
                    let _ = writeln!(
                        s,
                        "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                        py1 + 17.0,
                        fmt_fixed(t, dec)
                    );
                }
            }
        }
    }

    // --- data ---
    let _ = writeln!(s, "<g clip-path=\"url(#plotarea)\">");
    let bar_traces: Vec<usize> = traces
        .iter()
        .enumerate()
        .filter(|(_, t)| t.bar)
        .map(|(i, _)| i)
        .collect();
    let grouped = barmode == "group" && bar_traces.len() > 1;
    let base = y_axis
        .unit(0.0)
        .unwrap_or(y_axis.lo)
        .clamp(y_axis.lo, y_axis.hi);
    for (ti, t) in traces.iter().enumerate() {
        let opacity = if t.opacity < 1.0 {
            format!(" opacity=\"{}\"", t.opacity)
        } else {
            String::new()
        };
        if t.bar {
            let slot = bar_traces.iter().position(|&b| b == ti).unwrap_or(0);
            let (w, offset) = if grouped {
                let w = band * 0.8 / bar_traces.len() as f64;
                (w, -band * 0.4 + w * slot as f64)
            } else {
                (band * 0.7, -band * 0.35)
            };
            let _ = writeln!(s, "<g fill=\"{}\"{opacity}>", t.color);
            for (x, y) in t.x.iter().zip(&t.y) {
                let (Some(cx), Some(u)) = (sx(x), y.and_then(|y| y_axis.unit(y))) else {
                    continue;
                };
                let (a, b) = (sy(base), sy(u));
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                    cx + offset,
                    a.min(b),
                    w.max(1.0),
                    (a - b).abs()
                );
            }
            let _ = writeln!(s, "</g>");
            continue;
        }
        let pts: Vec<Option<(f64, f64)>> =
            t.x.iter()
                .zip(&t.y)
                .map(|(x, y)| Some((sx(x)?, sy(y_axis.unit((*y)?)?))))
                .collect();
        if t.lines {
            let dash = t
                .dash
                .map(|d| format!(" stroke-dasharray=\"{d}\""))
                .unwrap_or_default();
            for run in pts.split(Option::is_none).filter(|r| r.len() > 1) {
                let coords: Vec<String> = run
                    .iter()
                    .flatten()
                    .map(|(x, y)| format!("{x:.1},{y:.1}"))
                    .collect();
                let _ = writeln!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{dash}{opacity} points=\"{}\"/>",
                    t.color,
                    t.line_width,
                    coords.join(" ")
                );
            }
        }
        if !t.error_y.is_empty() {
            let _ = writeln!(s, "<g stroke=\"{}\" stroke-width=\"1\"{opacity}>", t.color);
            for ((x, y), e) in t.x.iter().zip(&t.y).zip(&t.error_y) {
                let (Some(cx), Some(y), Some(e)) = (sx(x), *y, *e) else {
                    continue;
                };
                let (Some(lo), Some(hi)) = (y_axis.unit(y - e), y_axis.unit(y + e)) else {
                    continue;
                };
                let (a, b) = (sy(lo), sy(hi));
                let _ = writeln!(
                    s,
                    "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{a:.1}\" y2=\"{b:.1}\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{a:.1}\" y2=\"{a:.1}\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\"/>",
                    cx - 3.0,
                    cx + 3.0,
                    cx - 3.0,
                    cx + 3.0
                );
            }
            let _ = writeln!(s, "</g>");
        }
        if t.markers {
            let r = (t.marker_size / 2.0).max(1.0);
            let _ = writeln!(s, "<g fill=\"{}\"{opacity}>", t.color);
            for (x, y) in pts.iter().flatten() {
                let _ = writeln!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\"/>");
            }
            let _ = writeln!(s, "</g>");
        }
    }
    let _ = writeln!(s, "</g>");

    // frame and axis titles
    let _ = writeln!(
        s,
        "<rect x=\"{px0}\" y=\"{py0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
        px1 - px0,
        py1 - py0
    );
    if let Some(t) = &x_title {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            (px0 + px1) / 2.0,
            py1 + x_tick_h + 16.0,
            xml_escape(t)
        );
    }
    if let Some(t) = &y_title {
        let _ = writeln!(
            s,
            "<text transform=\"translate(18,{:.1}) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            (py0 + py1) / 2.0,
            xml_escape(t)
        );
    }

    // legend
    for (r, row) in legend_rows.iter().enumerate() {
        let y = plot_height + 20.0 * r as f64 + 8.0;
        for &(i, x0) in row {
            let t = legend[i];
            let x = 20.0 + x0;
            if t.bar {
                let _ = writeln!(s, "<rect x=\"{x}\" y=\"{}\" width=\"24\" height=\"10\" fill=\"{}\" opacity=\"{}\"/>", y - 5.0, t.color, t.opacity);
            } else {
                let dash = t
                    .dash
                    .map(|d| format!(" stroke-dasharray=\"{d}\""))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "<line x1=\"{x}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"{}\"{dash}/>",
                    x + 24.0,
                    t.color,
                    t.line_width.clamp(1.0, 3.0)
                );
                if t.markers {
                    let _ = writeln!(
                        s,
                        "<circle cx=\"{}\" cy=\"{y}\" r=\"3\" fill=\"{}\"/>",
                        x + 12.0,
                        t.color
                    );
                }
            }
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                x + 30.0,
                y + 4.0,
                xml_escape(&t.name)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_x(x: &X) -> String {
    match x {
        X::Cat(c) => c.clone(),
        X::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", *v as i64),
        X::Num(v) => format!("{v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_axis_line_chart_has_decades_dash_and_legend() {
        let fig = json!({
            "data": [
                {"type": "scatter", "x": [1, 2, 3, 4], "y": [1.0, 0.1, 0.01, 0.0], "mode": "lines", "name": "ours <gen>",
                 "line": {"color": "#D62728", "width": 2.0}},
                {"type": "scatter", "x": [1, 4], "y": [0.05, 0.05], "mode": "lines", "showlegend": false,
                 "line": {"color": "#D62728", "dash": "dash"}}
            ],
            "layout": {"title": {"text": "Fig. 2"}, "yaxis": {"type": "log", "title": {"text": "|I|"}}, "height": 300}
        });
        let svg = render(&fig);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        // decades 10^-2 .. 10^0 labelled; the zero is dropped from the log axis
        for k in ["-2", "-1", "0"] {
            assert!(
                svg.contains(&format!("font-size=\"9\">{k}</tspan>")),
                "missing decade {k}"
            );
        }
        assert!(svg.contains("stroke-dasharray=\"6,4\""));
        assert!(svg.contains("ours &lt;gen&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // the dashed threshold has no legend entry: one legend line only
        assert_eq!(svg.matches("stroke-width=\"2\"/>").count(), 1);
        assert!(svg.contains("Fig. 2"));
    }

    #[test]
    fn error_bars_are_drawn_around_each_point() {
        let fig = json!({
            "data": [
                {"type": "scatter", "x": [1, 2], "y": [0.5, 0.25], "mode": "lines", "name": "null",
                 "line": {"color": "#1F77B4", "dash": "dash"},
                 "error_y": {"type": "data", "array": [0.1, 0.0]}},
                {"type": "scatter", "x": [1, 2], "y": [0.2, 0.3], "name": "hidden",
                 "error_y": {"type": "data", "array": [0.1, 0.1], "visible": false}}
            ],
            "layout": {"yaxis": {"range": [0.0, 1.0]}}
        });
        let svg = render(&fig);
        assert!(svg.contains("<g stroke=\"#1F77B4\" stroke-width=\"1\">"));
        // two bars of three segments each (stem and caps) for the visible trace only
        let group = svg.split("<g stroke=\"#1F77B4\"").nth(1).unwrap();
        let group = &group[..group.find("</g>").unwrap()];
        assert_eq!(group.matches("<line").count(), 6);
        assert_eq!(svg.matches("<g stroke=").count(), 1);
    }

    #[test]
    fn grouped_bars_go_both_ways_from_zero() {
        let fig = json!({
            "data": [
                {"type": "bar", "x": [0, 1, 2], "y": [1.0, -2.0, 0.5], "name": "a", "marker": {"color": "#3A87BC"}},
                {"type": "bar", "x": [0, 1, 2], "y": [0.5, 0.5, -1.0], "name": "b", "marker": {"color": "#FF9230"}}
            ],
            "layout": {"barmode": "group"}
        });
        let svg = render(&fig);
        assert_eq!(
            svg.matches("<rect x=").count(),
            6 + 1 + 1 + 2,
            "6 bars, clip area, frame, 2 legend swatches"
        );
        assert!(svg.contains("fill=\"#3A87BC\"") && svg.contains("fill=\"#FF9230\""));
        // a zero line is drawn darker than the grid
        assert!(svg.contains("stroke=\"#bbb\""));
    }

    #[test]
    fn categories_follow_category_array_and_bad_input_does_not_panic() {
        let fig = json!({
            "data": [{"type": "bar", "x": ["b", "a"], "y": [1, 2]}, {"type": "heatmap", "z": [[1]]}],
            "layout": {"xaxis": {"categoryarray": ["a", "b"], "categoryorder": "array"}, "width": 300}
        });
        let svg = render(&fig);
        let (a, b) = (
            svg.find(">a</text>").unwrap(),
            svg.find(">b</text>").unwrap(),
        );
        assert!(a < b);
        for bad in [
            json!({}),
            json!({"data": [{"type": "scatter", "y": [null, "x", 1e308, 1.0]}]}),
            json!(null),
        ] {
            assert!(render(&bad).contains("</svg>"));
        }
        assert_eq!(sanitize_color("red\" onload=\"x"), "#444");
    }

    #[test]
    fn ticks_are_nice() {
        let (t, d) = linear_ticks(0.0, 1.0, 5);
        assert_eq!(t, vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(d, 1);
        assert_eq!(fmt_fixed(-0.0001, 2), "0.00");
        assert_eq!(fmt_x(&X::Num(3.0)), "3");
    }
}
