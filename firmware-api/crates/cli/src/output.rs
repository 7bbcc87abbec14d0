//! Table, JSON and YAML output.
//!
//! YAML is a small emitter over `serde_json::Value` rather than a crate: the
//! maintained YAML serializers either need a newer rustc than 1.85 or are
//! unmaintained (serde_yaml), and block-style output of JSON values only
//! needs one hard part, knowing when a string must be quoted. A quoted
//! string is written as JSON (JSON's escapes are a subset of YAML's
//! double-quoted ones) with the characters YAML reads as line breaks
//! escaped too.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// Rows with a header; cells are already text.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn render(&self) -> String {
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if i < width.len() {
                    width[i] = width[i].max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            out.push_str(&line(row, &width));
            out.push('\n');
        }
        out
    }
}

/// One row with the table's widths; the last cell is not padded.
pub fn line(row: &[String], width: &[usize]) -> String {
    let mut s = String::new();
    for (i, c) in row.iter().enumerate() {
        if i + 1 == row.len() {
            s.push_str(c);
        } else {
            let pad = width.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<pad$}  "));
        }
    }
    s.trim_end().to_string()
}

/// A JSON value as a table cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// Block-style YAML of `v` (one document, no `---`).
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => block(&mut out, v, 0),
        Value::Array(a) if !a.is_empty() => block(&mut out, v, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn block(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                out.push_str(&pad);
                out.push_str(&string(k));
                out.push(':');
                child(out, val, indent);
            }
        }
        Value::Array(a) => {
            for item in a {
                if is_nonempty_collection(item) {
                    // "- key: v" with the rest of the map under it: render
                    // one level deeper, then put the dash into the first
                    // line's indentation.
                    let mut inner = String::new();
                    block(&mut inner, item, indent + 2);
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&inner[indent + 2..]);
                } else {
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&scalar(item));
                    out.push('\n');
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn child(out: &mut String, v: &Value, indent: usize) {
    if is_nonempty_collection(v) {
        out.push('\n');
        block(out, v, indent + 2);
    } else {
        out.push(' ');
        out.push_str(&scalar(v));
        out.push('\n');
    }
}

fn is_nonempty_collection(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when YAML 1.1 and 1.2 readers would both read it back as
/// this same string, double-quoted otherwise.
fn string(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    let mut q = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    for (c, esc) in [
        ('\u{85}', "\\N"),
        ('\u{2028}', "\\L"),
        ('\u{2029}', "\\P"),
        ('\u{feff}', "\\ufeff"),
    ] {
        if q.contains(c) {
            q = q.replace(c, esc);
        }
    }
    q
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s || !s.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return false;
    }
    // Indicators that start something else than a plain scalar.
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    // Words YAML 1.1 reads as booleans or null, and anything numeric-looking
    // (1.1 also reads 0x1f, 1_000, 1:20, .5 and 0o17 as numbers).
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) {
        return false;
    }
    if first.is_ascii_digit() || first == '+' || first == '.' {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_nests_and_quotes() {
        let v = json!({
            "boards": [
                {"board_id": "00000001", "devices": [{"device_id": "01ff", "device_type": "thermistor"}]},
                {"board_id": "40000000", "devices": []}
            ],
            "ok": true,
            "n": null,
            "t": 28.78,
        });
        assert_eq!(
            yaml(&v),
            "boards:\n\
             \x20 - board_id: \"00000001\"\n    devices:\n      - device_id: \"01ff\"\n        device_type: thermistor\n\
             \x20 - board_id: \"40000000\"\n    devices: []\n\
             \"n\": null\nok: true\nt: 28.78\n"
        );
    }

    #[test]
    fn yaml_strings_that_would_change_meaning_are_quoted() {
        for (s, want) in [
            ("on", "\"on\""),
            ("No", "\"No\""),
            ("", "\"\""),
            ("0dff", "\"0dff\""),
            ("1e3", "\"1e3\""),
            (".5", "\".5\""),
            ("- x", "\"- x\""),
            ("a: b", "\"a: b\""),
            ("a #b", "\"a #b\""),
            (" lead", "\" lead\""),
            ("tab\there", "\"tab\\there\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("nel\u{85}", "\"nel\\N\""),
            (
                "rack-a/node-02/psu-0 SN:VIO-PSU-000201",
                "rack-a/node-02/psu-0 SN:VIO-PSU-000201",
            ),
            ("01ff", "\"01ff\""),
            ("abc", "abc"),
            ("thermistor", "thermistor"),
            ("-25.7", "\"-25.7\""),
            ("ü", "\"ü\""),
        ] {
            assert_eq!(string(s), want, "{s:?}");
        }
    }

    #[test]
    fn yaml_top_level_scalars_and_empty() {
        assert_eq!(yaml(&json!({})), "{}\n");
        assert_eq!(yaml(&json!([])), "[]\n");
        assert_eq!(yaml(&json!("yes")), "\"yes\"\n");
        assert_eq!(yaml(&json!([[1, 2], "x"])), "- - 1\n  - 2\n- x\n");
    }

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&["BOARD", "DEVICE", "TYPE"]);
        t.rows
            .push(vec!["00000001".into(), "01ff".into(), "thermistor".into()]);
        assert_eq!(
            t.render(),
            "BOARD     DEVICE  TYPE\n00000001  01ff    thermistor\n"
        );
    }
}
