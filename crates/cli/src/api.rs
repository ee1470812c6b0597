//! Client commands: one subcommand per API operation (built from [`crate::catalog`]), and
//! `request` for anything else.

use crate::catalog::{self, At, Op, Param, Resource, Shape, Ty};
use crate::output::{Format, Printer};
use crate::{UsageError, follow, settings};
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Map, Value};
use std::io::Read;
use vestibule_client::{Client, Method, Request};

/// The global flags every client command reads.
#[derive(Clone, Copy, Debug)]
pub struct Globals {
    /// Output format.
    pub format: Format,
    /// Follow `list_metadata.after` to the end of lists.
    pub all: bool,
}

impl Globals {
    /// Reads the global flags.
    pub fn from(m: &ArgMatches) -> Globals {
        Globals { format: Format::choose(m.get_flag("json"), m.get_flag("jsonl")), all: m.get_flag("all") }
    }
}

/// The clap subcommands of every resource in the catalog.
pub fn resource_commands() -> Vec<Command> {
    catalog::RESOURCES
        .iter()
        .map(|r| {
            let mut cmd = Command::new(r.name)
                .about(r.about)
                .subcommand_required(true)
                .arg_required_else_help(true)
                .after_help(format!("Example:\n  {}", r.ops[0].example));
            for op in r.ops {
                cmd = cmd.subcommand(op_command(op));
            }
            match r.name {
                "events" => cmd.subcommand(follow::tail_command()),
                "audit-logs" => cmd.subcommand(follow::export_command()),
                _ => cmd,
            }
        })
        .collect()
}

fn op_command(op: &'static Op) -> Command {
    let mut cmd = Command::new(op.name)
        .about(op.about)
        .after_help(format!("Example:\n  {}\n\nAPI: {} {}", op.example, op.method, op.path));
    for ph in op.placeholders() {
        cmd = cmd.arg(
            Arg::new(ph).value_name(ph.to_uppercase()).required(true).help(format!("The {}.", ph.replace('_', " "))),
        );
    }
    for p in op.params {
        cmd = cmd.arg(param_arg(p));
    }
    if op.has_body() {
        cmd = cmd.arg(
            Arg::new("data")
                .long("data")
                .short('d')
                .value_name("JSON|@FILE|-")
                .help("Body fields as a JSON object (inline, @file, or - for stdin); flags override its fields."),
        );
    }
    if op.shape == Shape::List {
        cmd = cmd.args(pagination_args());
    }
    cmd
}

/// `--limit`, `--before`, `--after`, `--order`.
pub fn pagination_args() -> [Arg; 4] {
    [
        Arg::new("limit")
            .long("limit")
            .value_parser(clap::value_parser!(u8).range(1..=100))
            .help("Page size, 1–100 (default 10; 100 with --all)."),
        Arg::new("before").long("before").value_name("ID").help("The page before this object id."),
        Arg::new("after").long("after").value_name("ID").help("The page after this object id."),
        Arg::new("order")
            .long("order")
            .value_parser(["asc", "desc", "normal"])
            .help("Sort order by creation time (default desc)."),
    ]
}

fn param_arg(p: &Param) -> Arg {
    let mut help = p.help.to_owned();
    if p.required {
        help.push_str(" [required]");
    }
    let arg = Arg::new(p.flag).long(p.flag).help(help);
    match p.ty {
        Ty::Str => arg.value_name("TEXT"),
        Ty::Int => arg.value_name("N").value_parser(clap::value_parser!(i64)),
        Ty::Bool => arg.value_name("true|false").value_parser(clap::value_parser!(bool)),
        Ty::Array => arg.value_name("A,B").action(ArgAction::Append).value_delimiter(','),
        Ty::Json => arg.value_name("JSON|@FILE|-"),
    }
}

/// Reads a JSON argument: inline text, `@file`, or `-` for stdin. Bad JSON is a usage error.
pub fn json_arg(flag: &str, raw: &str) -> Result<Value, UsageError> {
    let text = if raw == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| UsageError(format!("cannot read --{flag} from stdin: {e}")))?;
        s
    } else if let Some(path) = raw.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| UsageError(format!("cannot read --{flag} file {path}: {e}")))?
    } else {
        raw.to_owned()
    };
    serde_json::from_str(&text).map_err(|e| UsageError(format!("invalid JSON in --{flag}: {e}")))
}

/// Percent-encodes one path segment (ids, slugs such as `posts:read`, external ids).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Turns an operation's arguments into a request, before any network access.
fn build_request(op: &Op, m: &ArgMatches) -> Result<Request, UsageError> {
    let path: Vec<String> = op
        .path
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(ph) => encode_segment(m.get_one::<String>(ph).map(String::as_str).unwrap_or_default()),
            None => seg.to_owned(),
        })
        .collect();
    let mut req = Request::new(op.method.clone(), path.join("/"));
    let mut body = match m.try_get_one::<String>("data").ok().flatten() {
        Some(raw) => match json_arg("data", raw)? {
            Value::Object(map) => Some(map),
            _ => return Err(UsageError("--data must be a JSON object".into())),
        },
        None => op.has_body().then(Map::new),
    };
    for p in op.params {
        let value = param_value(p, m)?;
        match (p.at, value) {
            (At::Query, Some(v)) => req = req.query(p.wire_name(), query_text(&v)),
            (At::Body, Some(v)) => {
                body.get_or_insert_with(Map::new).insert(p.wire_name(), v);
            }
            (At::Body, None) if p.required && !body.as_ref().is_some_and(|b| b.contains_key(&p.wire_name())) => {
                return Err(UsageError(format!("--{} is required (or \"{}\" in --data)", p.flag, p.wire_name())));
            }
            _ => {}
        }
    }
    if op.shape == Shape::List {
        req = with_pagination(req, m);
    }
    match body {
        Some(body) => req.json(&body).map_err(|e| UsageError(e.to_string())),
        None => Ok(req),
    }
}

/// Adds `--limit/--before/--after/--order` to a list request.
pub fn with_pagination(mut req: Request, m: &ArgMatches) -> Request {
    if let Ok(Some(limit)) = m.try_get_one::<u8>("limit") {
        req = req.query("limit", limit.to_string());
    }
    for key in ["before", "after", "order"] {
        if let Ok(Some(v)) = m.try_get_one::<String>(key) {
            req = req.query(key, v);
        }
    }
    req
}

fn param_value(p: &Param, m: &ArgMatches) -> Result<Option<Value>, UsageError> {
    Ok(match p.ty {
        Ty::Str => m.get_one::<String>(p.flag).map(|s| Value::from(s.as_str())),
        Ty::Int => m.get_one::<i64>(p.flag).map(|n| Value::from(*n)),
        Ty::Bool => m.get_one::<bool>(p.flag).map(|b| Value::from(*b)),
        Ty::Array => {
            m.get_many::<String>(p.flag).map(|vs| Value::from(vs.map(|s| Value::from(s.as_str())).collect::<Vec<_>>()))
        }
        Ty::Json => match m.get_one::<String>(p.flag) {
            Some(raw) => Some(json_arg(p.flag, raw)?),
            None => None,
        },
    })
}

/// Query text for a value: lists comma-joined, as the Node and Python SDKs send them.
fn query_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(query_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Runs `vestibule <resource> <operation> …`.
pub async fn run_resource(resource: &'static Resource, top: &ArgMatches, m: &ArgMatches) -> anyhow::Result<()> {
    let globals = Globals::from(top);
    let (name, sub) = m.subcommand().ok_or_else(|| UsageError(format!("{}: missing operation", resource.name)))?;
    match (resource.name, name) {
        ("events", "tail") => return follow::tail(settings::client(top)?, sub, globals).await,
        ("audit-logs", "export") => return follow::export(settings::client(top)?, sub, globals).await,
        _ => {}
    }
    let op = resource
        .ops
        .iter()
        .find(|op| op.name == name)
        .ok_or_else(|| UsageError(format!("unknown operation {name}")))?;
    let req = build_request(op, sub)?;
    let client = settings::client(top)?;
    execute(&client, req, op.shape == Shape::List, globals).await
}

/// Sends `req` and prints the answer; a list with `--all` is walked page by page.
async fn execute(client: &Client, mut req: Request, list: bool, globals: Globals) -> anyhow::Result<()> {
    let mut printer = Printer::new(globals.format);
    if list && globals.all {
        if !req.has_query("limit") {
            req = req.query("limit", "100");
        }
        let mut pages = client.paginate::<Value>(req);
        while let Some(items) = pages.next_page().await? {
            printer.items(items)?;
        }
        printer.finish_items()?;
        return Ok(());
    }
    let resp = client.send(&req).await?;
    let value = match resp.value() {
        Ok(v) => v,
        // A non-JSON success (rare: a file, plain text) is printed as it came.
        Err(_) => Some(Value::from(String::from_utf8_lossy(&resp.body).into_owned())),
    };
    printer.value(value.as_ref())?;
    Ok(())
}

/// Arguments of `vestibule request`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  vestibule request GET /organizations --query limit=5\n  \
    vestibule request POST /organizations --data '{\"name\":\"Acme\"}'\n  \
    echo '{\"name\":\"Renamed\"}' | vestibule request PUT /organizations/org_01H… --data -")]
pub struct RequestArgs {
    /// HTTP method: GET, POST, PUT, PATCH or DELETE.
    method: String,
    /// Path below the base URL, e.g. /organizations (may carry ?query).
    path: String,
    /// JSON body: inline, @file, or - for stdin.
    #[arg(long, short = 'd', value_name = "JSON|@FILE|-")]
    data: Option<String>,
    /// A query parameter (repeatable).
    #[arg(long = "query", short = 'q', value_name = "KEY=VALUE")]
    query: Vec<String>,
}

/// Runs `vestibule request METHOD PATH`.
pub async fn run_request(args: RequestArgs, top: &ArgMatches) -> anyhow::Result<()> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| UsageError(format!("invalid HTTP method {:?}", args.method)))?;
    if !args.path.starts_with('/') {
        return Err(UsageError(format!("the path must start with /, e.g. /organizations (got {:?})", args.path)).into());
    }
    let mut req = Request::new(method.clone(), args.path);
    for pair in &args.query {
        let (k, v) =
            pair.split_once('=').ok_or_else(|| UsageError(format!("--query takes KEY=VALUE, not {pair:?}")))?;
        req = req.query(k, v);
    }
    if let Some(raw) = &args.data {
        req = req.json(&json_arg("data", raw)?)?;
    }
    let client = settings::client(top)?;
    execute(&client, req, method == Method::GET, Globals::from(top)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_but_slugs_stay_readable() {
        assert_eq!(encode_segment("posts:read"), "posts:read");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn every_operation_builds_a_valid_clap_command() {
        let mut root = Command::new("t");
        for c in resource_commands() {
            root = root.subcommand(c);
        }
        root.debug_assert();
    }
}
