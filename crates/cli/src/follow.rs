//! Commands that wait on the server: `events tail` and `audit-logs export`.

use crate::api::Globals;
use crate::output::{Format, Printer};
use anyhow::{Context, anyhow, bail};
use clap::{Arg, ArgAction, ArgMatches, Command};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vestibule_client::{Client, List, Method, Request};

/// Page size used while following the events stream.
const PAGE: &str = "100";

/// `events tail`.
pub fn tail_command() -> Command {
    Command::new("tail")
        .about("Follow new events as they happen (GET /events with after), oldest first.")
        .after_help("Example:\n  vestibule events tail --events organization.created,organization.deleted --jsonl")
        .arg(
            Arg::new("events")
                .long("events")
                .value_name("A,B")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .help("Only these event types."),
        )
        .arg(
            Arg::new("organization-id")
                .long("organization-id")
                .value_name("ID")
                .help("Only this organization's events."),
        )
        .arg(
            Arg::new("after")
                .long("after")
                .value_name("EVENT_ID")
                .help("Start after this event instead of at the end of the stream."),
        )
        .arg(
            Arg::new("from-start")
                .long("from-start")
                .action(ArgAction::SetTrue)
                .conflicts_with("after")
                .help("Print the retained history first."),
        )
        .arg(
            Arg::new("interval")
                .long("interval")
                .value_name("SECONDS")
                .default_value("2")
                .value_parser(clap::value_parser!(f64))
                .help("How long to wait when no new events have arrived."),
        )
        .arg(
            Arg::new("max-events")
                .long("max-events")
                .value_name("N")
                .value_parser(clap::value_parser!(u64))
                .help("Stop after printing N events."),
        )
}

fn events_request(m: &ArgMatches, after: Option<&str>) -> Request {
    let mut req = Request::new(Method::GET, "/events").query("limit", PAGE);
    if let Some(types) = m.get_many::<String>("events") {
        req = req.query("events", types.cloned().collect::<Vec<_>>().join(","));
    }
    if let Some(org) = m.get_one::<String>("organization-id") {
        req = req.query("organization_id", org);
    }
    match after {
        Some(after) => req.query("after", after),
        None => req,
    }
}

/// Follows `GET /events` forever (or for `--max-events`), printing each new event once.
pub async fn tail(client: Client, m: &ArgMatches, globals: Globals) -> anyhow::Result<()> {
    let interval = Duration::try_from_secs_f64(*m.get_one::<f64>("interval").unwrap_or(&2.0))
        .map_err(|_| crate::UsageError("--interval must be a non-negative number of seconds".into()))?;
    let max = m.get_one::<u64>("max-events").copied();
    let mut cursor = m.get_one::<String>("after").cloned();
    if cursor.is_none() && !m.get_flag("from-start") {
        // Skip what is already there: the tail starts at the end of the stream.
        loop {
            let page: List<Value> = client.send(&events_request(m, cursor.as_deref())).await?.json()?;
            match next_cursor(&page) {
                Some(next) if !page.data.is_empty() => cursor = Some(next),
                _ => break,
            }
        }
    }
    let format = if globals.format == Format::Json { Format::Jsonl } else { globals.format };
    let mut printer = Printer::new(format);
    let mut printed = 0u64;
    loop {
        let page: List<Value> = client.send(&events_request(m, cursor.as_deref())).await?.json()?;
        for event in &page.data {
            printer.line(event)?;
            printed += 1;
            if max.is_some_and(|max| printed >= max) {
                return Ok(());
            }
        }
        if let Some(next) = next_cursor(&page) {
            cursor = Some(next);
        }
        if page.data.is_empty() {
            tokio::time::sleep(interval).await;
        }
    }
}

/// `list_metadata.after`, else the last id of the page.
fn next_cursor(page: &List<Value>) -> Option<String> {
    page.list_metadata
        .after
        .clone()
        .or_else(|| page.data.last().and_then(|e| e.get("id")).and_then(Value::as_str).map(str::to_owned))
}

/// `audit-logs export`.
pub fn export_command() -> Command {
    let list = |name: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name("A,B").action(ArgAction::Append).value_delimiter(',').help(help)
    };
    Command::new("export")
        .about("Export audit-log events to a CSV file: create the export, wait until it is ready, download it.")
        .after_help(
            "Example:\n  vestibule audit-logs export --organization-id org_01H… \\\n    \
             --range-start 2026-01-01T00:00:00.000Z --range-end 2026-02-01T00:00:00.000Z -o january.csv\n\n\
             API: POST /audit_logs/exports, then GET /audit_logs/exports/{id} until ready, then GET its url",
        )
        .arg(
            Arg::new("organization-id")
                .long("organization-id")
                .value_name("ID")
                .required(true)
                .help("The organization."),
        )
        .arg(
            Arg::new("range-start")
                .long("range-start")
                .value_name("TIME")
                .required(true)
                .help("Events at or after this time (ISO-8601)."),
        )
        .arg(
            Arg::new("range-end")
                .long("range-end")
                .value_name("TIME")
                .required(true)
                .help("Events before this time (ISO-8601)."),
        )
        .arg(list("actions", "Only these actions."))
        .arg(list("actor-names", "Only events by actors with these names."))
        .arg(list("actor-ids", "Only events by these actor ids."))
        .arg(list("targets", "Only events with targets of these types."))
        .arg(
            Arg::new("output")
                .long("output")
                .short('o')
                .value_name("FILE")
                .required(true)
                .help("Where to write the CSV (- for stdout)."),
        )
        .arg(
            Arg::new("poll-interval")
                .long("poll-interval")
                .value_name("SECONDS")
                .default_value("1")
                .value_parser(clap::value_parser!(f64))
                .help("How often to check the export's state."),
        )
        .arg(
            Arg::new("wait")
                .long("wait")
                .value_name("SECONDS")
                .default_value("300")
                .value_parser(clap::value_parser!(f64))
                .help("Give up when the export is not ready after this long."),
        )
}

fn seconds(m: &ArgMatches, id: &str) -> Result<Duration, crate::UsageError> {
    m.get_one::<f64>(id)
        .and_then(|s| Duration::try_from_secs_f64(*s).ok())
        .ok_or_else(|| crate::UsageError(format!("--{id} must be a non-negative number of seconds")))
}

/// Creates an export, polls it until `ready`, and downloads its CSV.
pub async fn export(client: Client, m: &ArgMatches, globals: Globals) -> anyhow::Result<()> {
    let poll = seconds(m, "poll-interval")?;
    let wait = seconds(m, "wait")?;
    let output = m.get_one::<String>("output").cloned().unwrap_or_else(|| "-".into());
    let mut body = json!({
        "organization_id": m.get_one::<String>("organization-id"),
        "range_start": m.get_one::<String>("range-start"),
        "range_end": m.get_one::<String>("range-end"),
    });
    for (flag, key) in
        [("actions", "actions"), ("actor-names", "actor_names"), ("actor-ids", "actor_ids"), ("targets", "targets")]
    {
        if let Some(vs) = m.get_many::<String>(flag) {
            body[key] = json!(vs.collect::<Vec<_>>());
        }
    }
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("creating the export");
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut export: Value =
        client.send(&Request::new(Method::POST, "/audit_logs/exports").json(&body)?).await?.json()?;
    let id =
        export.get("id").and_then(Value::as_str).ok_or_else(|| anyhow!("the export has no id: {export}"))?.to_owned();
    let started = Instant::now();
    loop {
        let state = export.get("state").and_then(Value::as_str).unwrap_or("unknown").to_owned();
        match state.as_str() {
            "ready" => break,
            "error" | "expired" => {
                progress.finish_and_clear();
                bail!("audit-log export {id} failed: state is {state}");
            }
            _ => {}
        }
        if started.elapsed() >= wait {
            progress.finish_and_clear();
            bail!(
                "audit-log export {id} is still {state} after {}s; check it later with `vestibule audit-logs get-export {id}`",
                wait.as_secs()
            );
        }
        progress.set_message(format!("export {id} is {state}"));
        tokio::time::sleep(poll.min(wait.saturating_sub(started.elapsed()))).await;
        export = client.send(&Request::new(Method::GET, format!("/audit_logs/exports/{id}"))).await?.json()?;
    }
    let url = export
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("audit-log export {id} is ready but has no url"))?;
    progress.set_message(format!("downloading export {id}"));
    let bytes = if output == "-" {
        client.download(url, &mut std::io::stdout().lock()).await?
    } else {
        // Write next to the target and rename, so a failed download leaves no partial file.
        let target = PathBuf::from(&output);
        let part = PathBuf::from(format!("{output}.part"));
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&part).with_context(|| format!("cannot create {}", part.display()))?,
        );
        let written = client.download(url, &mut file).await;
        drop(file);
        match written {
            Ok(n) => {
                std::fs::rename(&part, &target).with_context(|| format!("cannot write {}", target.display()))?;
                n
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e.into());
            }
        }
    };
    progress.finish_and_clear();
    if output != "-" {
        if std::io::stderr().is_terminal() {
            eprintln!("saved {bytes} bytes to {output}");
        }
        let mut printer = Printer::new(globals.format);
        printer.value(Some(&export))?;
    }
    Ok(())
}
