//! The benchmark's plot, written by hand as SVG: one panel per latency
//! measurement (the probe's wake-to-run percentiles, wakelat's, cyclictest's
//! under CPU load), percentiles on the x axis, a log-scale latency axis, one
//! line per contender (its median over seeds).

use std::fmt::Write as _;

use crate::report::Report;

/// A panel: its title and the figure keys on its x axis, with their labels.
struct Panel {
    title: &'static str,
    points: &'static [(&'static str, &'static str)],
}

const PANELS: &[Panel] = &[
    Panel {
        title: "wake-to-run (probe)",
        points: &[
            ("p50", "probe_p50_us"),
            ("p90", "probe_p90_us"),
            ("p99", "probe_p99_us"),
            ("p99.9", "probe_p99_9_us"),
        ],
    },
    Panel {
        title: "wakelat (own clock)",
        points: &[
            ("p50", "wakelat_p50_us"),
            ("p90", "wakelat_p90_us"),
            ("p99", "wakelat_p99_us"),
            ("p99.9", "wakelat_p99_9_us"),
        ],
    },
    Panel {
        title: "cyclictest under CPU load",
        points: &[
            ("avg", "cyclictest_avg_us"),
            ("p99", "cyclictest_p99_us"),
            ("max", "cyclictest_max_us"),
        ],
    },
];

/// Line colours, one per contender in order.
const COLOURS: &[&str] = &[
    "#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
];

const PANEL_W: f64 = 300.0;
const PANEL_H: f64 = 260.0;
const MARGIN_L: f64 = 60.0;
const MARGIN_T: f64 = 40.0;
const GAP: f64 = 40.0;
const LEGEND_W: f64 = 190.0;

/// The plot of `report`'s latency percentiles (microseconds, log scale).
pub fn latency_plot(report: &Report) -> String {
    let values = || {
        PANELS.iter().flat_map(|p| {
            p.points.iter().flat_map(|(_, key)| {
                report
                    .contenders
                    .iter()
                    .filter_map(|c| c.figures.get(*key).map(|s| s.median))
            })
        })
    };
    let lo = values()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(1.0);
    let hi = values().fold(10.0, f64::max);
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    let y = |v: f64| {
        let v = v.max(lo);
        MARGIN_T + PANEL_H * (1.0 - (v.log10() - lo.log10()) / (hi.log10() - lo.log10()))
    };
    let width = MARGIN_L + PANELS.len() as f64 * (PANEL_W + GAP) + LEGEND_W;
    let height = MARGIN_T + PANEL_H + 50.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{width}" height="{height}" fill="white"/>"#
    );
    for (i, panel) in PANELS.iter().enumerate() {
        let x0 = MARGIN_L + i as f64 * (PANEL_W + GAP);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
            x0 + PANEL_W / 2.0,
            MARGIN_T - 15.0,
            panel.title
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{MARGIN_T}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#888"/>"##
        );
        // Decades on the y axis.
        let mut d = lo;
        while d <= hi * 1.001 {
            let yy = y(d);
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/>"##,
                x0 + PANEL_W
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 4.0,
                yy + 4.0,
                decade_label(d)
            );
            d *= 10.0;
        }
        let step = PANEL_W / panel.points.len() as f64;
        let x = |j: usize| x0 + step * (j as f64 + 0.5);
        for (j, (label, _)) in panel.points.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{label}</text>"#,
                x(j),
                MARGIN_T + PANEL_H + 16.0
            );
        }
        for (k, c) in report.contenders.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let pts: Vec<String> = panel
                .points
                .iter()
                .enumerate()
                .filter_map(|(j, (_, key))| {
                    let v = c.figures.get(*key)?.median;
                    Some(format!("{:.1},{:.1}", x(j), y(v)))
                })
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                pts.join(" ")
            );
            for p in &pts {
                let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>"#);
            }
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">latency (µs, log scale)</text>"#,
        MARGIN_T + PANEL_H / 2.0,
        MARGIN_T + PANEL_H / 2.0
    );
    let lx = MARGIN_L + PANELS.len() as f64 * (PANEL_W + GAP);
    for (k, c) in report.contenders.iter().enumerate() {
        let ly = MARGIN_T + 10.0 + 20.0 * k as f64;
        let colour = COLOURS[k % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/>"#,
            lx + 20.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            lx + 26.0,
            ly + 4.0,
            c.contender.label
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{MARGIN_L}" y="{}" fill="#555">median over seeds; deterministic VM: code-path length and policy, not hardware latency</text>"##,
        MARGIN_T + PANEL_H + 40.0
    );
    s.push_str("</svg>\n");
    s
}

/// `1`, `10`, `100`, `1k`, `10k`, `0.1` ...
fn decade_label(d: f64) -> String {
    if d >= 1000.0 {
        format!("{}k", d / 1000.0)
    } else {
        format!("{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Report, Run};
    use crate::suite::{Contender, Params, RunFigures};

    #[test]
    fn one_line_per_contender_and_panel() {
        let run = |v: f64| {
            let mut f = RunFigures::default();
            for p in PANELS {
                for (_, key) in p.points {
                    f.figures.insert(key.to_string(), v);
                }
            }
            Run {
                seed: 1,
                figures: f,
                failure: None,
            }
        };
        let r = Report::new(
            Params::quick(2),
            vec![1],
            true,
            "k".into(),
            vec![
                (Contender::eevdf(), vec![run(5.0)]),
                (Contender::bundled("scx_template"), vec![run(5000.0)]),
            ],
        );
        let svg = latency_plot(&r);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2 * PANELS.len());
        assert!(svg.contains(">scx_template</text>"));
        assert!(svg.contains(">10k</text>"));
    }
}
