//! A batch of messages -> per model, columns (pure Rust; lib.rs hands them to Python).

use std::collections::HashMap;

use simd_json::Buffers;

use crate::rules::{self, Val};

/// What a column holds at a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
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
    intern: HashMap<String, i64>,
    pub n_bool: usize,
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
            self.tags.push(Tag::Missing);
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
                let next = self.strings.len() as i64;
                let idx = *self.intern.entry(s.to_owned()).or_insert(next);
                if idx == next {
                    self.strings.push(s.to_owned());
                }
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

/// One model's events in a batch.
#[derive(Debug, Default)]
pub struct ModelGroup {
    /// Positions (into the accepted events) of this model's events.
    pub positions: Vec<i64>,
    /// Feature names: the plan's first, then others in order of appearance.
    pub names: Vec<String>,
    pub columns: Vec<ColumnBuilder>,
    index: HashMap<String, usize>,
    /// Too many names the plan does not list: the caller decodes this model's events itself.
    pub abandoned: bool,
    planned: usize,
}

impl ModelGroup {
    fn new(plan: Option<&Vec<String>>) -> Self {
        let mut g = Self::default();
        for name in plan.into_iter().flatten() {
            if !g.index.contains_key(name) {
                g.index.insert(name.clone(), g.names.len());
                g.names.push(name.clone());
                g.columns.push(ColumnBuilder::default());
            }
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
        for (name, v) in inputs {
            let col = match self.index.get(*name) {
                Some(&c) => c,
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
pub struct Batch {
    /// Batch positions of the accepted messages.
    pub index: Vec<i64>,
    pub event_ms: Vec<i64>,
    /// Per accepted message, its model's number in `models`.
    pub model_codes: Vec<i64>,
    pub models: Vec<String>,
    pub groups: Vec<ModelGroup>,
    /// Batch positions of refused messages (handed to the reference decoder).
    pub refused: Vec<i64>,
}

/// Decodes `values` (None = a message without a value) with per-model feature plans.
pub fn decode(
    values: &[Option<&[u8]>],
    plans: &HashMap<String, Vec<String>>,
    max_bytes: usize,
    max_extra: usize,
) -> Batch {
    let mut out = Batch::default();
    let mut codes: HashMap<String, usize> = HashMap::new();
    let mut buffers = Buffers::default();
    let mut scratch: Vec<u8> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let Some(bytes) = value.filter(|b| b.len() <= max_bytes) else {
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
