//! `cargo xtask trace REFERENCE`: a trace as a person reads it, from the real backend.
//! The reference a 503 page quotes (`1-5759e988-bd86…`, X-Ray's form), an
//! `X-Amzn-Trace-Id` value or Jaeger's 32 hex digits; the trace is read from the Jaeger
//! that `cargo xtask dev` runs (its query API), and printed as the span tree across
//! services with durations, then the span where the failure began with its `exception`,
//! the span that spent the most time on its own, then the services' log lines that carry
//! the reference (`target/dev/logs/`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use telemetry_backends::{JaegerQuery, TraceSpan};

use crate::dev;

/// The variable `dev` writes into `target/dev/env`: where its Jaeger answers.
pub const JAEGER_VAR: &str = "CUDDLEKUBE_JAEGER_URL";
/// A service exports a finished span within about a second in `dev`; a trace that is
/// not there after this was never recorded (or Jaeger was restarted since).
const ARRIVAL_LIMIT: Duration = Duration::from_secs(15);
/// OTLP's status codes (0 is unset: neither said).
const OK: i64 = 1;
const ERROR: i64 = 2;

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let [reference] = args.as_slice() else {
        bail!("usage: cargo xtask trace REFERENCE   (e.g. 1-5759e988-bd862e3fe1be46a994272793)");
    };
    let (xray, otlp) = parse_reference(reference)?;
    let jaeger = dev::running_env(JAEGER_VAR)?
        .context("the running dev stack has no Jaeger (Go was missing when it started)")?;
    let query = JaegerQuery::new(&jaeger);
    let spans = wait_for_trace(&query, &otlp)?;
    print!("{}", render(&xray, &otlp, &spans));
    print_log_lines(&xray)?;
    Ok(())
}

/// (`1-xxxxxxxx-yyyy…`, 32 hex digits) from any of the forms a person may paste or an
/// `X-Amzn-Trace-Id` value holds.
pub(crate) fn parse_reference(reference: &str) -> anyhow::Result<(String, String)> {
    let root = reference
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(reference)
        .trim();
    let hex: String = match root.strip_prefix("1-") {
        Some(rest) => rest.chars().filter(|c| *c != '-').collect(),
        None => root.to_owned(),
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{reference:?} is not a trace reference: expected X-Ray's form \
             (1-5759e988-bd862e3fe1be46a994272793) or 32 hex digits"
        );
    }
    let hex = hex.to_ascii_lowercase();
    Ok((format!("1-{}-{}", &hex[..8], &hex[8..]), hex))
}

/// The first X-Ray trace ID (`1-` 8 hex `-` 24 hex) in `text`, e.g. the one a page quotes.
pub(crate) fn find_reference(text: &str) -> Option<&str> {
    let shaped = |id: &str| {
        id.len() == 35
            && id.bytes().enumerate().all(|(i, b)| match i {
                0 => b == b'1',
                1 | 10 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    text.match_indices("1-")
        .filter_map(|(at, _)| text.get(at..at + 35))
        .find(|id| shaped(id))
}

/// The trace's spans, once some have arrived and a moment has passed for the rest.
fn wait_for_trace(query: &JaegerQuery, otlp: &str) -> anyhow::Result<Vec<TraceSpan>> {
    let started = Instant::now();
    loop {
        let spans = query.trace(otlp).context("ask Jaeger")?;
        if !spans.is_empty() {
            // The services export every ~0.5 s: the last hops may be a batch behind.
            std::thread::sleep(Duration::from_secs(1));
            return Ok(query.trace(otlp)?);
        }
        if started.elapsed() > ARRIVAL_LIMIT {
            bail!(
                "Jaeger holds no trace {otlp} (waited {} s): was it made by this dev stack, \
                 since it started?",
                ARRIVAL_LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The tree, then the span where the failure began.
fn render(xray: &str, otlp: &str, spans: &[TraceSpan]) -> String {
    let mut children: BTreeMap<&str, Vec<&TraceSpan>> = BTreeMap::new();
    let ids: Vec<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for span in spans {
        // A span whose parent is not here (an ALB's, or one not exported) is a root.
        let parent = if ids.contains(&span.parent_span_id.as_str()) {
            span.parent_span_id.as_str()
        } else {
            ""
        };
        children.entry(parent).or_default().push(span);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start_unix_nano);
    }
    let services: std::collections::BTreeSet<&str> =
        spans.iter().map(|s| s.service.as_str()).collect();
    let mut out = format!(
        "trace {xray} (Jaeger: {otlp}): {} spans across {}\n\n",
        spans.len(),
        services.into_iter().collect::<Vec<_>>().join(", ")
    );
    let mut lines = Vec::new();
    walk(&children, "", 0, &mut lines);
    let width = lines
        .iter()
        .map(|(text, _)| text.chars().count())
        .max()
        .unwrap_or(0);
    for (text, span) in &lines {
        let pad = width - text.chars().count();
        out += &format!(
            "  {text}{:pad$}  {:>9}  {}\n",
            "",
            millis(span),
            outcome(span)
        );
    }
    match culprit(spans) {
        Some(span) => {
            out += &format!(
                "\nwhere it failed first: {} › {} ({})\n",
                span.service,
                span.name,
                millis(span)
            );
            for event in span.events.iter().filter(|e| {
                matches!(
                    e.name.as_str(),
                    "exception" | "fault injected" | "attempt failed"
                )
            }) {
                out += &format!("  event {:?}\n", event.name);
                for (key, value) in &event.attributes {
                    out += &format!("    {key} = {value}\n");
                }
            }
            if !span.status_message.is_empty() {
                out += &format!("  status: {}\n", span.status_message);
            }
        }
        None => out += "\nno span of this trace failed\n",
    }
    if let Some((span, own)) = slowest_on_its_own(spans) {
        out += &format!(
            "\nmost time of its own: {} › {} ({:.1} ms of its {})\n",
            span.service,
            span.name,
            own.as_secs_f64() * 1000.0,
            millis(span)
        );
        for event in span.events.iter().filter(|e| e.name == "fault injected") {
            for (key, value) in &event.attributes {
                out += &format!("  event {:?}: {key} = {value}\n", event.name);
            }
        }
    }
    out
}

/// The span with the most time not spent in its children (its duration less theirs,
/// overlaps ignored): where a slow request spent its time.
fn slowest_on_its_own(spans: &[TraceSpan]) -> Option<(&TraceSpan, Duration)> {
    spans
        .iter()
        .map(|span| {
            let children: Duration = spans
                .iter()
                .filter(|child| child.parent_span_id == span.span_id)
                .map(TraceSpan::duration)
                .sum();
            (span, span.duration().saturating_sub(children))
        })
        .max_by_key(|(_, own)| *own)
}

fn walk<'a>(
    children: &BTreeMap<&str, Vec<&'a TraceSpan>>,
    parent: &str,
    depth: usize,
    lines: &mut Vec<(String, &'a TraceSpan)>,
) {
    for span in children.get(parent).into_iter().flatten() {
        let branch = if depth == 0 { "" } else { "└ " };
        lines.push((
            format!(
                "{:<15} {}{branch}{}",
                span.service,
                "  ".repeat(depth.saturating_sub(1)),
                span.name
            ),
            span,
        ));
        walk(children, &span.span_id, depth + 1, lines);
    }
}

fn millis(span: &TraceSpan) -> String {
    format!("{:.1} ms", span.duration().as_secs_f64() * 1000.0)
}

fn outcome(span: &TraceSpan) -> String {
    let status = span
        .attribute("http.response.status_code")
        .map(|code| format!(" {code}"))
        .unwrap_or_default();
    let marker = match span.status_code {
        ERROR => "ERROR",
        OK => "ok",
        _ => "",
    };
    let exception = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .and_then(|e| e.attributes.get("exception.message"))
        .map(|message| format!("  ← {message}"))
        .unwrap_or_default();
    format!("{marker}{status}{exception}")
}

/// The failed span none of whose own children failed, latest-starting first among
/// several: where the failure began, not where it was passed on.
fn culprit(spans: &[TraceSpan]) -> Option<&TraceSpan> {
    spans
        .iter()
        .filter(|span| span.status_code == ERROR)
        .filter(|span| {
            !spans
                .iter()
                .any(|child| child.parent_span_id == span.span_id && child.status_code == ERROR)
        })
        .max_by_key(|span| span.start_unix_nano)
}

/// The lines of the services' logs (`target/dev/logs/`) that carry the reference.
fn print_log_lines(xray: &str) -> anyhow::Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dev::logs_dir())
        .context("dev's logs (target/dev/logs)")?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    files.sort();
    println!("\nlog lines carrying {xray} (target/dev/logs/):");
    let mut found = 0;
    for file in files {
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines().filter(|line| line.contains(xray)) {
            println!("  {name:<15} {}", without_colours(line));
            found += 1;
        }
    }
    if found == 0 {
        println!(
            "  none (a successful request's line may be sampled out: ACCESS_LOG_SAMPLE_RATIO)"
        );
    }
    Ok(())
}

/// A pretty log line without its terminal colours (ESC `[` … `m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("\x1b[") {
        out += &rest[..start];
        rest = &rest[start..];
        rest = rest.find('m').map_or("", |end| &rest[end + 1..]);
    }
    out + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_reference_is_read() {
        let want = (
            "1-5759e988-bd862e3fe1be46a994272793".to_owned(),
            "5759e988bd862e3fe1be46a994272793".to_owned(),
        );
        for form in [
            "1-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Parent=53995c3f42cd8ad8; Root=1-5759E988-BD862E3FE1BE46A994272793",
            "5759E988BD862E3FE1BE46A994272793",
        ] {
            assert_eq!(parse_reference(form).unwrap(), want, "{form}");
        }
        assert!(parse_reference("1-5759e988-bd86").is_err());
        assert!(parse_reference("not a trace").is_err());
    }

    fn span(service: &str, id: &str, parent: &str, error: bool, start: u64) -> TraceSpan {
        let length = if id == "d" { 9_000_000 } else { 1_500_000 };
        TraceSpan {
            service: service.into(),
            scope: String::new(),
            name: format!("{service} {id}"),
            kind: 2,
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            start_unix_nano: start,
            end_unix_nano: start + length,
            attributes: BTreeMap::new(),
            status_code: if error { ERROR } else { 0 },
            status_message: String::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn the_culprit_is_the_deepest_failed_span() {
        let spans = [
            span("website", "a", "", true, 1),
            span("register", "b", "a", true, 2),
            span("register", "c", "b", true, 3),
            span("register", "d", "b", false, 4),
        ];
        assert_eq!(culprit(&spans).unwrap().span_id, "c");
        let text = render("1-x-y", "xy", &spans);
        assert!(
            text.contains("where it failed first: register › register c"),
            "{text}"
        );
        assert!(text.contains("  website         website a"), "{text}");
        assert!(text.contains("  register        └ register b"), "{text}");
        assert!(text.contains("  register          └ register c"), "{text}");
        assert!(
            text.contains("most time of its own: register › register d"),
            "{text}"
        );
    }

    #[test]
    fn the_culprit_holds_when_another_hosts_clock_runs_behind() {
        // register's clock is 2 ns behind the website's: its span seems to start first.
        let spans = [
            span("website", "a", "", true, 1),
            span("website", "b", "a", true, 5),
            span("register", "c", "b", true, 3),
        ];
        assert_eq!(culprit(&spans).unwrap().span_id, "c");
    }

    #[test]
    fn a_quoted_reference_is_found_whatever_its_digits() {
        // The time part ends in 1: "…c21-…" holds "1-" too (dev-check once missed it).
        let page = "<p>Reference to quote: <code>1-6b15dc21-c2a47ed0e31e8bdb7c479d22</code></p>";
        assert_eq!(
            find_reference(page),
            Some("1-6b15dc21-c2a47ed0e31e8bdb7c479d22")
        );
        assert_eq!(find_reference("step 1-2 of 3, 1-6b15dc21-c2a4"), None);
    }

    #[test]
    fn colours_are_taken_out_of_log_lines() {
        assert_eq!(
            without_colours(
                "\x1b[2m20:21:39Z\x1b[0m \x1b[33m WARN\x1b[0m a \x1b[2mtrace_id=\x1b[0m1-x"
            ),
            "20:21:39Z  WARN a trace_id=1-x"
        );
    }
}
