//! A batch of messages -> per model, columns (pure Rust; lib.rs hands them to Python).

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use simd_json::Buffers;

use crate::rules::{self, Val};

/// What a column holds at a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// The event has no such input (the reference then has no such key).
    Absent,
    /// The input is `null`.
    Missing,
    Int,
    Float,
    Bool,
    Str,
}

/// One feature of one model's events: floats for every row (NaN = missing or not a number),
/// the exact int / bool / string-table index where the tag says so.
#[derive(Debug, Default)]
pub struct ColumnBuilder {
    pub tags: Vec<Tag>,
    pub floats: Vec<f64>,
    pub ints: Vec<i64>,
    pub strings: Vec<String>,
    intern: FxHashMap<String, i64>,
    pub n_bool: usize,
    pub n_absent: usize,
    pub n_str: usize,
    pub n_int: usize,
    /// An int a float cannot hold exactly (|v| >= 2**53).
    pub inexact_int: bool,
}

const EXACT: f64 = 9_007_199_254_740_992.0; // 2**53

impl ColumnBuilder {
    fn missing(n: usize) -> Self {
        let mut c = Self::default();
        c.pad(n);
        c
    }

    fn pad(&mut self, n: usize) {
        while self.tags.len() < n {
            self.n_absent += 1;
            self.tags.push(Tag::Absent);
            self.floats.push(f64::NAN);
            self.ints.push(0);
        }
    }

    /// Sets row `row` (the last, or one past it) to `v`.
    fn set(&mut self, row: usize, v: Val) {
        if self.tags.len() > row {
            // a duplicate key in one event: the later value replaces the earlier one
            match self.tags.pop() {
                Some(Tag::Int) => self.n_int -= 1,
                Some(Tag::Bool) => self.n_bool -= 1,
                Some(Tag::Str) => self.n_str -= 1,
                _ => {}
            }
            self.floats.pop();
            self.ints.pop();
        }
        self.pad(row);
        let (tag, f, i) = match v {
            Val::Null => (Tag::Missing, f64::NAN, 0),
            Val::Int(i) => {
                self.n_int += 1;
                self.inexact_int |= (i as f64).abs() >= EXACT;
                (Tag::Int, i as f64, i)
            }
            Val::Float(f) => (Tag::Float, f, 0),
            Val::Bool(b) => {
                self.n_bool += 1;
                (Tag::Bool, f64::NAN, i64::from(b))
            }
            Val::Str(s) => {
                self.n_str += 1;
                let idx = match self.intern.get(s) {
                    Some(&idx) => idx,
                    None => {
                        let idx = self.strings.len() as i64;
                        self.intern.insert(s.to_owned(), idx);
                        self.strings.push(s.to_owned());
                        idx
                    }
                };
                (Tag::Str, f64::NAN, idx)
            }
        };
        self.tags.push(tag);
        self.floats.push(f);
        self.ints.push(i);
    }

    /// True when the column holds only numbers and missing values (a `Numbers` column).
    pub fn numeric_only(&self) -> bool {
        self.n_bool == 0 && self.n_str == 0
    }
}

/// A model's configured feature names, with their column numbers (built once per registry load).
#[derive(Debug, Default)]
pub struct Plan {
    pub names: Vec<String>,
    index: FxHashMap<String, usize>,
}

impl Plan {
    pub fn new(names: Vec<String>) -> Self {
        let mut plan = Self::default();
        for name in names {
            if !plan.index.contains_key(&name) {
                plan.index.insert(name.clone(), plan.names.len());
                plan.names.push(name);
            }
        }
        plan
    }
}

/// One model's events in a batch.
#[derive(Debug, Default)]
pub struct ModelGroup<'p> {
    plan: Option<&'p Plan>,
    /// Positions (into the accepted events) of this model's events.
    pub positions: Vec<i64>,
    /// Feature names: the plan's first, then others in order of appearance.
    pub names: Vec<String>,
    pub columns: Vec<ColumnBuilder>,
    /// Column numbers of the names the plan does not list.
    index: FxHashMap<String, usize>,
    /// Too many names the plan does not list: the caller decodes this model's events itself.
    pub abandoned: bool,
    /// Columns before this one are the plan's.
    pub planned: usize,
}

impl<'p> ModelGroup<'p> {
    /// Rows of every column (the model's events in the batch).
    pub fn rows(&self) -> usize {
        self.positions.len()
    }

    fn new(plan: Option<&'p Plan>) -> Self {
        let mut g = Self {
            plan,
            ..Self::default()
        };
        if let Some(plan) = plan {
            g.names = plan.names.clone();
            g.columns = plan
                .names
                .iter()
                .map(|_| ColumnBuilder::default())
                .collect();
        }
        g.planned = g.names.len();
        g
    }

    fn add(&mut self, position: i64, inputs: &[(&str, Val)], max_extra: usize) {
        let row = self.positions.len();
        self.positions.push(position);
        if self.abandoned {
            return;
        }
        let mut guess = 0; // events usually list their inputs in one order: try the next column
        for (name, v) in inputs {
            let known = if self.names.get(guess).is_some_and(|n| n == name) {
                Some(guess)
            } else {
                self.plan
                    .and_then(|p| p.index.get(*name))
                    .or_else(|| self.index.get(*name))
                    .copied()
            };
            let col = match known {
                Some(c) => c,
                None => {
                    if self.names.len() - self.planned >= max_extra {
                        self.abandon();
                        return;
                    }
                    self.index.insert((*name).to_owned(), self.names.len());
                    self.names.push((*name).to_owned());
                    self.columns.push(ColumnBuilder::missing(row));
                    self.columns.len() - 1
                }
            };
            self.columns[col].set(row, *v);
            guess = col + 1;
        }
        for c in &mut self.columns {
            c.pad(row + 1);
        }
    }

    fn abandon(&mut self) {
        self.abandoned = true;
        self.names.clear();
        self.columns.clear();
        self.index.clear();
    }
}

/// A decoded batch: accepted messages in delivery order, grouped by model.
#[derive(Debug, Default)]
pub struct Batch<'p> {
    /// Batch positions of the accepted messages.
    pub index: Vec<i64>,
    pub event_ms: Vec<i64>,
    /// Per accepted message, its model's number in `models`.
    pub model_codes: Vec<i64>,
    pub models: Vec<String>,
    pub groups: Vec<ModelGroup<'p>>,
    /// Batch positions of refused messages (handed to the reference decoder).
    pub refused: Vec<i64>,
}

/// True when the text has a `\uD800`-`\uDFFF` escape: the reference refuses a lone surrogate,
/// the parser here would not, so such messages go to the reference (pairs are rare in captures).
fn has_surrogate_escape(b: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', b).any(|i| {
        b.len() > i + 3
            && b[i + 1] == b'u'
            && (b[i + 2] | 0x20) == b'd'
            && matches!(b[i + 3] | 0x20, b'8'..=b'9' | b'a'..=b'f')
    })
}

/// Decodes `values` (None = a message without a value) with per-model feature plans.
pub fn decode<'p>(
    values: &[Option<&[u8]>],
    plans: &'p HashMap<String, Plan>,
    max_bytes: usize,
    max_extra: usize,
) -> Batch<'p> {
    let mut out = Batch::default();
    let mut codes: FxHashMap<String, usize> = FxHashMap::default();
    let mut buffers = Buffers::default();
    let mut scratch: Vec<u8> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let Some(bytes) = value.filter(|b| b.len() <= max_bytes && !has_surrogate_escape(b)) else {
            out.refused.push(i as i64);
            continue;
        };
        scratch.clear();
        scratch.extend_from_slice(bytes);
        let Ok(tape) = simd_json::to_tape_with_buffers(&mut scratch, &mut buffers) else {
            out.refused.push(i as i64);
            continue;
        };
        let Ok(event) = rules::event(&tape.0) else {
            out.refused.push(i as i64);
            continue;
        };
        let code = match codes.get(event.model_id) {
            Some(&c) => c,
            None => {
                let c = out.models.len();
                codes.insert(event.model_id.to_owned(), c);
                out.models.push(event.model_id.to_owned());
                out.groups.push(ModelGroup::new(plans.get(event.model_id)));
                c
            }
        };
        let position = out.index.len() as i64;
        out.index.push(i as i64);
        out.event_ms.push(event.event_ms);
        out.model_codes.push(code as i64);
        out.groups[code].add(position, &event.inputs, max_extra);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(msgs: &[&str], plans: &[(&str, &[&str])]) -> Batch<'static> {
        let plans: HashMap<String, Plan> = plans
            .iter()
            .map(|(m, f)| {
                (
                    (*m).to_owned(),
                    Plan::new(f.iter().map(|s| (*s).to_owned()).collect()),
                )
            })
            .collect();
        let plans: &'static HashMap<String, Plan> = Box::leak(Box::new(plans));
        let values: Vec<Option<&[u8]>> = msgs.iter().map(|m| Some(m.as_bytes())).collect();
        decode(&values, plans, 1 << 20, 4)
    }

    fn ev(model: &str, inputs: &str) -> String {
        format!(
            r#"{{"model_id":"{model}","event_time":"2026-01-01T00:00:00.5Z","inputs":{inputs}}}"#
        )
    }

    #[test]
    fn mixed_models_are_split_with_typed_columns() {
        let msgs = [
            ev("a", r#"{"x":1,"c":"u"}"#),
            ev("b", r#"{"x":2.5}"#),
            ev("a", r#"{"x":3.5,"c":"u"}"#),
        ];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[("a", &["x", "c"]), ("b", &["x"])]);
        assert_eq!(b.index, vec![0, 1, 2]);
        assert_eq!(b.models, vec!["a", "b"]);
        assert_eq!(b.model_codes, vec![0, 1, 0]);
        assert_eq!(b.event_ms, vec![1_767_225_600_500; 3]);
        let a = &b.groups[0];
        assert_eq!(a.positions, vec![0, 2]);
        assert_eq!(a.columns[0].floats, vec![1.0, 3.5]);
        assert_eq!(a.columns[0].tags, vec![Tag::Int, Tag::Float]);
        assert!(a.columns[0].numeric_only());
        assert_eq!(a.columns[1].strings, vec!["u"]); // one string per distinct value
        assert_eq!(a.columns[1].ints, vec![0, 0]);
    }

    #[test]
    fn missing_extra_and_duplicate_names() {
        let msgs = [
            ev("a", r#"{"x":1}"#),
            ev("a", r#"{"y":true,"x":2,"x":null}"#),
        ];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[("a", &["x", "z"])]);
        let a = &b.groups[0];
        assert_eq!(a.names, vec!["x", "z", "y"]);
        assert_eq!(a.columns[0].tags, vec![Tag::Int, Tag::Missing]); // the later duplicate wins
        assert_eq!(a.columns[0].n_int, 1);
        assert_eq!(a.columns[1].tags, vec![Tag::Absent, Tag::Absent]);
        assert_eq!(a.columns[2].tags, vec![Tag::Absent, Tag::Bool]);
        assert_eq!(a.columns[2].n_absent, 1);
    }

    #[test]
    fn too_many_extra_names_abandon_the_model() {
        let msgs = [
            ev("a", r#"{"p":1,"q":1,"r":1,"s":1,"t":1}"#),
            ev("b", r#"{"p":1}"#),
        ];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[]);
        assert!(b.groups[0].abandoned && !b.groups[1].abandoned);
        assert_eq!(b.groups[0].positions, vec![0]);
    }

    #[test]
    fn invalid_or_unusual_messages_are_refused() {
        let good = ev("a", "{}");
        let cases = [
            "not json".to_owned(),
            ev("a", r#"{"x":NaN}"#),
            ev("a", r#"{"x":1e999}"#),
            ev("a", r#"{"x":9223372036854775808}"#),
            ev("a", r#"{"x":[1]}"#),
            ev("a", r#"{"x":"\ud800"}"#),
            ev("a b", "{}"),
            good.replacen('{', r#"{"unknown":1,"#, 1),
            good.replacen('{', r#"{"schema_version":1.0,"#, 1),
            good.replacen('{', r#"{"latency_ms":-1,"#, 1),
            good.replacen(
                '{',
                r#"{"request":{"content_type":"a","encoding":"XML","data":""},"#,
                1,
            ),
            good.replacen('{', r#"{"model_id":5,"#, 1),
            good.replace("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00+05:30"),
            good.replace(r#","inputs":{}"#, ""),
            format!("{good}x"),
            format!("\u{feff}{good}"),
        ];
        for msg in &cases {
            let b = run(&[msg.as_str(), good.as_str()], &[]);
            assert_eq!(b.refused, vec![0], "{msg}");
            assert_eq!(b.index, vec![1]);
        }
    }

    #[test]
    fn numbers_read_as_the_reference_reads_them() {
        let msgs = [ev(
            "a",
            r#"{"a":-0,"b":-0.0,"c":1e5,"d":0.1e-400,"e":9007199254740993,"f":1.7976931348623157e308,"g":2.2250738585072014e-308,"h":123456789012345678901234567890.5}"#,
        )];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[("a", &["a", "b", "c", "d", "e", "f", "g", "h"])]);
        assert_eq!(b.refused, Vec::<i64>::new());
        let c = &b.groups[0].columns;
        assert_eq!((c[0].tags[0], c[0].ints[0]), (Tag::Int, 0));
        assert_eq!(c[1].tags[0], Tag::Float);
        assert!(c[1].floats[0] == 0.0 && c[1].floats[0].is_sign_negative());
        assert_eq!((c[2].tags[0], c[2].floats[0]), (Tag::Float, 100000.0));
        assert_eq!(c[3].floats[0], 0.0);
        assert!(c[4].inexact_int && c[4].ints[0] == 9_007_199_254_740_993);
        assert_eq!(c[5].floats[0], f64::MAX);
        assert_eq!(c[6].floats[0], 2.2250738585072014e-308);
        assert_eq!(
            c[7].floats[0],
            "123456789012345678901234567890.5".parse::<f64>().unwrap()
        );
    }
}
