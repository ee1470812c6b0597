//! Printing results: a table on a terminal, JSON when piped or asked for, JSON lines to stream.

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;
use std::io::{BufWriter, IsTerminal, Stdout, Write};

/// How results are printed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// One JSON document.
    Json,
    /// One compact JSON object per line.
    Jsonl,
}

impl Format {
    /// `--jsonl`, else `--json`, else a table on a terminal and JSON otherwise.
    pub fn choose(json: bool, jsonl: bool) -> Format {
        if jsonl {
            Format::Jsonl
        } else if json || !std::io::stdout().is_terminal() {
            Format::Json
        } else {
            Format::Table
        }
    }
}

/// Writes results to stdout in one format.
pub struct Printer {
    /// The format in use.
    pub format: Format,
    out: BufWriter<Stdout>,
    /// Rows held back for one table (`--all` on a terminal), or whether a JSON array is open.
    pending: Vec<Value>,
    streamed: usize,
}

/// Columns worth showing first in list tables, when the objects have them.
const PREFERRED: &[&str] = &[
    "id",
    "name",
    "slug",
    "email",
    "domain",
    "domains",
    "event",
    "type",
    "connection_type",
    "state",
    "status",
    "organization_id",
    "user_id",
    "endpoint_url",
    "created_at",
];

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format) -> Printer {
        Printer { format, out: BufWriter::new(std::io::stdout()), pending: Vec::new(), streamed: 0 }
    }

    /// Prints one answer: an object, a list envelope, or nothing (204).
    pub fn value(&mut self, value: Option<&Value>) -> std::io::Result<()> {
        let Some(value) = value else {
            if self.format == Format::Table {
                writeln!(self.out, "done")?;
            }
            return self.out.flush();
        };
        let items =
            value.get("data").and_then(Value::as_array).filter(|_| value.get("object") == Some(&Value::from("list")));
        match (self.format, items) {
            (Format::Json, _) => writeln!(self.out, "{}", pretty(value))?,
            (Format::Jsonl, Some(items)) => {
                for item in items {
                    writeln!(self.out, "{item}")?;
                }
            }
            (Format::Jsonl, None) => writeln!(self.out, "{value}")?,
            (Format::Table, Some(items)) => {
                writeln!(self.out, "{}", list_table(items))?;
                if let Some(after) = value.pointer("/list_metadata/after").and_then(Value::as_str) {
                    writeln!(self.out, "more: --after {after} (or --all)")?;
                }
            }
            (Format::Table, None) => writeln!(self.out, "{}", object_table(value))?,
        }
        self.out.flush()
    }

    /// Prints items of a list walked with `--all`, as they arrive.
    pub fn items(&mut self, items: Vec<Value>) -> std::io::Result<()> {
        match self.format {
            Format::Table => self.pending.extend(items),
            Format::Jsonl => {
                for item in items {
                    writeln!(self.out, "{item}")?;
                }
            }
            Format::Json => {
                for item in items {
                    let sep = if self.streamed == 0 { "[\n" } else { ",\n" };
                    write!(self.out, "{sep}{item}")?;
                    self.streamed += 1;
                }
            }
        }
        self.out.flush()
    }

    /// Ends a list started with [`Printer::items`].
    pub fn finish_items(&mut self) -> std::io::Result<()> {
        match self.format {
            Format::Table => {
                let rows = std::mem::take(&mut self.pending);
                writeln!(self.out, "{}", list_table(&rows))?;
            }
            Format::Jsonl => {}
            Format::Json if self.streamed == 0 => writeln!(self.out, "[]")?,
            Format::Json => writeln!(self.out, "\n]")?,
        }
        self.out.flush()
    }

    /// Prints one streamed event or object on its own line (`events tail`).
    pub fn line(&mut self, item: &Value) -> std::io::Result<()> {
        match self.format {
            Format::Table => {
                let field = |k: &str| item.get(k).map(cell).unwrap_or_default();
                writeln!(self.out, "{}  {:<40}  {}", field("created_at"), field("event"), field("id"))?;
            }
            _ => writeln!(self.out, "{item}")?,
        }
        self.out.flush()
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_HORIZONTAL_ONLY).set_content_arrangement(ContentArrangement::Dynamic);
    // Wrapping into an unknown or tiny terminal makes unreadable columns; let lines run long.
    if t.width().is_none_or(|w| w < 60) {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    t
}

/// A table of list items, with the most telling scalar columns.
pub fn list_table(items: &[Value]) -> String {
    let Some(first) = items.first().and_then(Value::as_object) else { return "(no results)".into() };
    let mut cols: Vec<&str> = PREFERRED.iter().copied().filter(|c| first.contains_key(*c)).collect();
    if cols.len() < 2 {
        cols = first.keys().map(String::as_str).filter(|k| *k != "object").take(6).collect();
    }
    cols.truncate(7);
    let mut t = new_table();
    t.set_header(cols.iter().map(|c| c.to_uppercase()));
    for item in items {
        t.add_row(cols.iter().map(|c| item.get(*c).map(cell).unwrap_or_default()));
    }
    t.to_string()
}

/// A two-column table of one object's fields.
pub fn object_table(v: &Value) -> String {
    let Some(map) = v.as_object() else { return cell(v) };
    let mut t = new_table();
    t.load_style(presets::NOTHING);
    for (k, val) in map {
        t.add_row([k.clone(), cell(val)]);
    }
    t.to_string()
}

/// One value as table text: strings bare, lists of named objects by name, the rest as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| named(i).is_some() || i.is_string()) => {
            items.iter().map(|i| named(i).or(i.as_str()).unwrap_or_default()).collect::<Vec<_>>().join(", ")
        }
        other => {
            let s = other.to_string();
            if s.chars().count() > 80 { format!("{}…", s.chars().take(79).collect::<String>()) } else { s }
        }
    }
}

fn named(v: &Value) -> Option<&str> {
    ["domain", "slug", "name", "id"].iter().find_map(|k| v.get(*k).and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_tables_pick_telling_columns_and_name_nested_lists() {
        let t = list_table(&[
            json!({"object":"organization","id":"org_1","name":"Acme","domains":[{"domain":"acme.com"}],"metadata":{}}),
        ]);
        assert!(t.contains("ID") && t.contains("NAME") && t.contains("DOMAINS"), "{t}");
        assert!(t.contains("acme.com") && !t.contains("METADATA"), "{t}");
    }

    #[test]
    fn object_tables_show_every_field() {
        let t = object_table(&json!({"id":"org_1","external_id":null,"metadata":{"tier":"gold"}}));
        assert!(t.contains("external_id") && t.contains(r#"{"tier":"gold"}"#), "{t}");
    }
}
