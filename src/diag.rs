//! Diagnostics through `tracing`: what `-v`, `-vv`, `RUST_LOG` and `--log-format` show on
//! stderr. User-facing output (the plan, progress lines, prompts, errors) does not go through
//! here: it is printed as it always was.
//!
//! - default: rtech's warnings only;
//! - `-v`: rtech's own events (API calls and timings per service, the longest chain of calls,
//!   the lock, waits);
//! - `-vv`: also every AWS operation called, and the SDK's own events (each attempt, retries and
//!   their reasons, throttling, credentials);
//! - `RUST_LOG` (non-empty) replaces both, in `tracing-subscriber`'s `EnvFilter` syntax;
//! - `--log-format json`: one JSON object per event, for CI log shippers.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The crates whose events `-vv` adds: the SDK's runtime (attempts, retries, throttling,
/// timeouts) and its configuration (region, credentials).
const SDK_TARGETS: [&str; 4] = [
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_config",
    "aws_smithy_http_client",
];

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// rtech's own events as plain lines; others as `LEVEL target: message`.
    Text,
    /// One JSON object per event (timestamp, level, target, fields).
    Json,
}

/// The filter directives for a verbosity, unless `rust_log` (the `RUST_LOG` variable) is set
/// and non-empty, which wins.
pub fn directives(verbose: u8, quiet: bool, rust_log: Option<&str>) -> String {
    if let Some(r) = rust_log.map(str::trim).filter(|r| !r.is_empty()) {
        return r.to_string();
    }
    match (quiet, verbose) {
        (true, _) => "rtech=error".to_string(),
        (false, 0) => "rtech=warn".to_string(),
        (false, 1) => "rtech=debug".to_string(),
        (false, _) => std::iter::once("rtech=trace".to_string())
            .chain(SDK_TARGETS.iter().map(|t| format!("{t}=debug")))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Installs the subscriber (once, at start). A `RUST_LOG` that does not parse is reported and
/// the verbosity's own filter used instead.
pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let wanted = directives(verbose, quiet, rust_log.as_deref());
    let filter = EnvFilter::try_new(&wanted).unwrap_or_else(|e| {
        eprintln!("warning: RUST_LOG={wanted:?} is not a filter ({e}); using the -v level");
        EnvFilter::new(directives(verbose, quiet, None))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    // Another subscriber already set (only in tests) keeps its place.
    let _ = match format {
        LogFormat::Text => builder.event_format(Plain).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// The text format: rtech's own events are written for people, as the line they always were
/// (`warning: …` for a warning); everything else (the SDK's) is `LEVEL target: message fields`.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ours = is_ours(meta.target());
        write!(w, "{}", prefix(ours, *meta.level(), meta.target()))?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Whether an event's target is rtech's own.
fn is_ours(target: &str) -> bool {
    target == "rtech" || target.starts_with("rtech::")
}

/// What the text format writes before an event's fields.
fn prefix(ours: bool, level: Level, target: &str) -> String {
    match (ours, level) {
        (true, Level::ERROR) => "error: ".to_string(),
        (true, Level::WARN) => "warning: ".to_string(),
        (true, _) => String::new(),
        (false, l) => format!("{l} {target}: "),
    }
}

/// A buffer the text format writes to, in tests.
#[cfg(test)]
pub struct Sink(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// In tests: this thread's events at `verbose`, in the text format, into the returned buffer
/// (until the guard is dropped).
#[cfg(test)]
pub fn capture(
    verbose: u8,
) -> (
    tracing::subscriber::DefaultGuard,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(directives(verbose, false, None)))
        .with_writer(move || Sink(sink.clone()))
        .with_ansi(false)
        .event_format(Plain)
        .finish();
    (tracing::subscriber::set_default(sub), buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_picks_whose_events_are_shown() {
        assert_eq!(directives(0, false, None), "rtech=warn");
        assert_eq!(directives(1, false, None), "rtech=debug");
        let vv = directives(2, false, None);
        assert!(vv.starts_with("rtech=trace,"), "{vv}");
        assert!(vv.contains("aws_smithy_runtime=debug"), "{vv}");
        assert_eq!(directives(3, false, None), vv);
        assert_eq!(directives(0, true, None), "rtech=error");
        for d in [directives(0, false, None), vv] {
            EnvFilter::try_new(&d).unwrap();
        }
    }

    #[test]
    fn a_non_empty_rust_log_wins_over_the_flags() {
        assert_eq!(
            directives(2, false, Some("aws_smithy_runtime=trace")),
            "aws_smithy_runtime=trace"
        );
        assert_eq!(directives(1, false, Some("  ")), "rtech=debug");
        assert_eq!(directives(1, false, Some("")), "rtech=debug");
    }

    #[test]
    fn ours_read_as_before_and_the_sdks_name_their_source() {
        assert_eq!(prefix(true, Level::DEBUG, "rtech::commands"), "");
        assert_eq!(prefix(true, Level::WARN, "rtech"), "warning: ");
        assert_eq!(prefix(true, Level::ERROR, "rtech::aws"), "error: ");
        assert_eq!(
            prefix(false, Level::DEBUG, "aws_smithy_runtime::client::retries"),
            "DEBUG aws_smithy_runtime::client::retries: "
        );
        assert!(is_ours("rtech"));
        assert!(!is_ours("rtechnical"));
    }

    /// The whole text format, through a subscriber writing to a buffer.
    #[test]
    fn the_text_format_writes_messages_and_fields() {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(directives(1, false, None)))
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .event_format(Plain)
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(target: "rtech::commands", calls = 3, "observed 5 resources");
            tracing::warn!(target: "rtech", "the spec's region wins");
            tracing::debug!(target: "aws_smithy_runtime", "hidden at -v");
        });
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "observed 5 resources calls=3\nwarning: the spec's region wins\n"
        );
    }
}
