//! The throughput-vs-concurrency plot (hand-written SVG).

use std::fmt::Write as _;

use crate::units::thousands;
use crate::{
    scenario::reqrep::{self, RrResult},
    wire::Proto,
};

/// Request/reply round trips per second vs concurrency for the three servers, as SVG text.
pub fn throughput(rr: &[(Proto, RrResult)]) -> String {
    let mut configs: Vec<(usize, usize)> = rr.iter().map(|(_, r)| (r.conns, r.inflight)).collect();
    configs.sort_by_key(|&(c, k)| (c * k, c));
    configs.dedup();
    let series: Vec<(Proto, &str, Vec<Option<f64>>)> = [
        (Proto::Raw, "#888888"),
        (Proto::Chsk, "#d62728"),
        (Proto::Sio, "#1f77b4"),
    ]
    .into_iter()
    .map(|(p, color)| {
        (
            p,
            color,
            configs
                .iter()
                .map(|&(c, k)| reqrep::find(rr, p, c, k).map(|r| r.rps))
                .collect(),
        )
    })
    .collect();
    svg_plot(
        "Request/reply round trips per second vs concurrency (one server core)",
        &configs
            .iter()
            .map(|(c, k)| format!("{c}×{k}"))
            .collect::<Vec<_>>(),
        &series
            .iter()
            .map(|(p, color, v)| (p.name(), *color, v.as_slice()))
            .collect::<Vec<_>>(),
    )
}

/// A line plot over categorical x values: `series` = (name, colour, one value per x).
pub fn svg_plot(title: &str, xs: &[String], series: &[(&str, &str, &[Option<f64>])]) -> String {
    let (w, h) = (720.0f64, 420.0f64);
    let (l, r, t, b) = (80.0, 160.0, 40.0, 60.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().flatten().copied())
        .fold(0.0f64, f64::max);
    let step = nice_step(max / 5.0);
    let top = (max / step).ceil().max(1.0) * step;
    let xpos = |i: usize| {
        if xs.len() <= 1 {
            l + pw / 2.0
        } else {
            l + pw * i as f64 / (xs.len() - 1) as f64
        }
    };
    let ypos = |v: f64| t + ph - ph * v / top;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = ypos(v);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            l + pw,
            l - 6.0,
            y + 4.0,
            thousands(v)
        );
        v += step;
    }
    for (i, x) in xs.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            xpos(i),
            t + ph + 18.0,
            escape(x)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">connections × requests in flight per connection</text>"#,
        l + pw / 2.0,
        h - 16.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">round trips / s</text>"#,
        t + ph / 2.0,
        t + ph / 2.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for (n, (name, color, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", xpos(i), ypos(v))))
            .collect();
        if pts.len() > 1 {
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                pts.join(" ")
            );
        }
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3.5" fill="{color}"/>"#);
        }
        let ly = t + 10.0 + 22.0 * n as f64;
        let lx = l + pw + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
