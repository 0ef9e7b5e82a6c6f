//! Column layouts shared by many models: every model whose plan lists the same feature names
//! (in the same order) appends its events' values to one builder, and a batch ends as one
//! `Shared` block per layout (split further only where models' rows need other object columns).

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use crate::batch::{Plan, Tag};
use crate::rules::Val;

/// Each registered model's plan, with models of equal plans sharing one layout (built once per
/// registry load). Layout 0 is the empty plan: unregistered models (and those listing no feature).
#[derive(Debug)]
pub struct Plans {
    pub layouts: Vec<Plan>,
    of_model: FxHashMap<String, usize>,
}

impl Plans {
    pub fn new(plans: HashMap<String, Vec<String>>) -> Self {
        let mut layouts = vec![Plan::new(Vec::new())];
        let mut of_names: HashMap<Vec<String>, usize> = HashMap::new();
        of_names.insert(Vec::new(), 0);
        let mut models: Vec<(String, Vec<String>)> = plans.into_iter().collect();
        models.sort(); // layouts numbered the same whatever the map's order
        let mut of_model = FxHashMap::default();
        for (model, names) in models {
            let plan = Plan::new(names);
            let next = layouts.len();
            let layout = *of_names.entry(plan.names.clone()).or_insert(next);
            if layout == next {
                layouts.push(plan);
            }
            of_model.insert(model, layout);
        }
        Self { layouts, of_model }
    }

    /// The layout of a model's events (0 for a model without a plan).
    pub fn layout_of(&self, model: &str) -> usize {
        self.of_model.get(model).copied().unwrap_or(0)
    }
}

const EXACT: f64 = 9_007_199_254_740_992.0; // 2**53

/// True when a value keeps a Python object (a string, a bool, an int a float cannot hold).
fn odd(tag: u8, float: f64) -> bool {
    tag == Tag::Str as u8
        || tag == Tag::Bool as u8
        || (tag == Tag::Int as u8 && float.abs() >= EXACT)
}

/// `a == b` for short texts without a call to `memcmp` (feature names, compared per value).
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Strings of one column, one per distinct value.
#[derive(Debug, Default, Clone)]
pub struct Strings {
    pub texts: Vec<String>,
    index: FxHashMap<String, i64>,
}

impl Strings {
    fn code(&mut self, s: &str) -> i64 {
        if let Some(&c) = self.index.get(s) {
            return c;
        }
        let c = self.texts.len() as i64;
        self.index.insert(s.to_owned(), c);
        self.texts.push(s.to_owned());
        c
    }
}

/// The events of one layout's models in a batch: features x rows matrices (`stride` rows
/// allocated per feature, `rows` used), rows in delivery order.
#[derive(Debug)]
pub struct LayoutBuilder<'p> {
    pub plan: &'p Plan,
    pub stride: usize,
    pub rows: usize,
    pub positions: Vec<i64>,
    /// Per row, its model's number in the batch.
    pub models: Vec<u32>,
    pub floats: Vec<f64>,
    pub tags: Vec<u8>,
    /// Per column: exact ints, bools and string codes by row (allocated when one is needed).
    pub ints: Vec<Vec<i64>>,
    pub strings: Vec<Strings>,
    /// Per column: rows holding a value that keeps a Python object.
    pub n_odd: Vec<usize>,
}

impl<'p> LayoutBuilder<'p> {
    pub fn new(plan: &'p Plan, stride: usize) -> Self {
        let n = plan.names.len();
        let stride = stride.max(1);
        Self {
            plan,
            stride,
            rows: 0,
            positions: Vec::with_capacity(stride),
            models: Vec::with_capacity(stride),
            floats: vec![f64::NAN; n * stride],
            tags: vec![Tag::Absent as u8; n * stride],
            ints: vec![Vec::new(); n],
            strings: vec![Strings::default(); n],
            n_odd: vec![0; n],
        }
    }

    fn grow(&mut self) {
        let (n, old, stride) = (self.plan.names.len(), self.stride, self.stride * 2);
        let mut floats = vec![f64::NAN; n * stride];
        let mut tags = vec![Tag::Absent as u8; n * stride];
        for j in 0..n {
            floats[j * stride..j * stride + old]
                .copy_from_slice(&self.floats[j * old..(j + 1) * old]);
            tags[j * stride..j * stride + old].copy_from_slice(&self.tags[j * old..(j + 1) * old]);
        }
        for ints in self.ints.iter_mut().filter(|i| !i.is_empty()) {
            ints.resize(stride, 0);
        }
        (self.floats, self.tags, self.stride) = (floats, tags, stride);
    }

    fn int_at(&mut self, col: usize, row: usize, v: i64) {
        let ints = &mut self.ints[col];
        if ints.is_empty() {
            ints.resize(self.stride, 0);
        }
        ints[row] = v;
    }

    /// Sets a cell of the open row (a later duplicate key replaces the earlier value).
    fn set(&mut self, col: usize, row: usize, v: Val) {
        let k = col * self.stride + row;
        if odd(self.tags[k], self.floats[k]) {
            self.n_odd[col] -= 1;
        }
        let (tag, f) = match v {
            Val::Null => (Tag::Missing, f64::NAN),
            Val::Int(i) => {
                let f = i as f64;
                if f.abs() >= EXACT {
                    self.int_at(col, row, i);
                }
                (Tag::Int, f)
            }
            Val::Float(f) => (Tag::Float, f),
            Val::Bool(b) => {
                self.int_at(col, row, i64::from(b));
                (Tag::Bool, f64::NAN)
            }
            Val::Str(s) => {
                let code = self.strings[col].code(s);
                self.int_at(col, row, code);
                (Tag::Str, f64::NAN)
            }
        };
        if odd(tag as u8, f) {
            self.n_odd[col] += 1;
        }
        self.tags[k] = tag as u8;
        self.floats[k] = f;
    }

    fn clear(&mut self, col: usize, row: usize) {
        let k = col * self.stride + row;
        if odd(self.tags[k], self.floats[k]) {
            self.n_odd[col] -= 1;
        }
        self.tags[k] = Tag::Absent as u8;
        self.floats[k] = f64::NAN;
    }

    /// Appends an event; false (and nothing appended) when it has a name the plan does not
    /// list: its model's events then take the per-model path (`batch::ModelGroup`).
    pub fn add(&mut self, position: i64, model: u32, inputs: &[(&str, Val)]) -> bool {
        if self.rows == self.stride {
            self.grow();
        }
        let (row, names) = (self.rows, &self.plan.names);
        let mut guess = 0; // events usually list their inputs in one order: try the next column
        for (done, (name, v)) in inputs.iter().enumerate() {
            let col = if names.get(guess).is_some_and(|n| same(n, name)) {
                guess
            } else if let Some(&c) = self.plan.index.get(*name) {
                c
            } else {
                for (name, _) in &inputs[..done] {
                    self.clear(self.plan.index[*name], row);
                }
                return false;
            };
            self.set(col, row, *v);
            guess = col + 1;
        }
        self.positions.push(position);
        self.models.push(model);
        self.rows += 1;
        true
    }
}

/// One column's values at some rows, for a column that keeps Python objects.
#[derive(Debug, Default)]
pub struct ObjectColumn {
    pub col: usize,
    pub tags: Vec<u8>,
    pub floats: Vec<f64>,
    pub ints: Vec<i64>,
    pub strings: Vec<String>,
}

/// One block over models of one layout (`SharedBlock` in Python): rows in delivery order,
/// `floats`/`tags` features x `stride` (the first `rows` used), `models` the batch's model
/// numbers in order of name and `codes` each row's number in `models`.
#[derive(Debug)]
pub struct Shared<'p> {
    pub plan: &'p Plan,
    pub models: Vec<u32>,
    pub codes: Vec<i64>,
    pub positions: Vec<i64>,
    pub rows: usize,
    pub stride: usize,
    pub floats: Vec<f64>,
    pub tags: Vec<u8>,
    pub objects: Vec<ObjectColumn>,
}

impl<'p> LayoutBuilder<'p> {
    /// Per model of the batch (`n_models`), the columns that keep objects for its rows (None
    /// for models not here or `excluded`): a column with an odd value anywhere among these
    /// rows keeps objects for each model with an odd value in it or without any number.
    fn signatures(&self, n_models: usize, excluded: &[bool]) -> Vec<Option<Vec<u32>>> {
        let mut out: Vec<Option<Vec<u32>>> = vec![None; n_models];
        for &m in &self.models {
            if !excluded[m as usize] {
                out[m as usize] = Some(Vec::new());
            }
        }
        let mut state = vec![0u8; n_models]; // bit 1: an odd value, bit 2: a number
        for col in (0..self.plan.names.len()).filter(|&c| self.n_odd[c] > 0) {
            state.iter_mut().for_each(|s| *s = 0);
            let base = col * self.stride;
            for (r, &m) in self.models.iter().enumerate() {
                let (t, f) = (self.tags[base + r], self.floats[base + r]);
                let s = &mut state[m as usize];
                if odd(t, f) {
                    *s |= 1;
                } else if t == Tag::Int as u8 || t == Tag::Float as u8 {
                    *s |= 2;
                }
            }
            if !state
                .iter()
                .enumerate()
                .any(|(m, s)| s & 1 != 0 && !excluded[m])
            {
                continue;
            }
            for (m, sig) in out.iter_mut().enumerate() {
                if let Some(sig) = sig {
                    if state[m] != 2 {
                        sig.push(col as u32);
                    }
                }
            }
        }
        out
    }

    /// The layout's rows as shared blocks: one per set of object columns, without the rows of
    /// `excluded` models; `names` (model names by number) orders each block's models.
    pub fn finish(mut self, names: &[String], excluded: &[bool]) -> Vec<Shared<'p>> {
        let sigs = self.signatures(names.len(), excluded);
        let mut groups: FxHashMap<&Vec<u32>, usize> = FxHashMap::default();
        let mut group_of: Vec<usize> = vec![usize::MAX; names.len()];
        let mut members: Vec<Vec<u32>> = Vec::new();
        for (m, sig) in sigs.iter().enumerate() {
            if let Some(sig) = sig {
                let next = members.len();
                let g = *groups.entry(sig).or_insert(next);
                if g == next {
                    members.push(Vec::new());
                }
                members[g].push(m as u32);
                group_of[m] = g;
            }
        }
        let whole = members.len() == 1 && self.models.iter().all(|&m| !excluded[m as usize]);
        let mut out = Vec::with_capacity(members.len());
        for (g, mut models) in members.into_iter().enumerate() {
            models.sort_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
            let rows: Option<Vec<usize>> = (!whole).then(|| {
                (0..self.rows)
                    .filter(|&r| group_of[self.models[r] as usize] == g)
                    .collect()
            });
            let sig = sigs[models[0] as usize]
                .as_ref()
                .map_or(&[][..], |s| &s[..]);
            out.push(self.shared(models, rows, sig));
        }
        out
    }

    fn shared(&mut self, models: Vec<u32>, rows: Option<Vec<usize>>, sig: &[u32]) -> Shared<'p> {
        let mut local = FxHashMap::default();
        for (i, m) in models.iter().enumerate() {
            local.insert(*m, i as i64);
        }
        let at = |r: usize| rows.as_ref().map_or(r, |rs| rs[r]);
        let n = rows.as_ref().map_or(self.rows, Vec::len);
        let objects = sig
            .iter()
            .map(|&col| {
                let col = col as usize;
                let base = col * self.stride;
                let ints = &self.ints[col];
                ObjectColumn {
                    col,
                    tags: (0..n).map(|r| self.tags[base + at(r)]).collect(),
                    floats: (0..n).map(|r| self.floats[base + at(r)]).collect(),
                    ints: (0..n)
                        .map(|r| ints.get(at(r)).copied().unwrap_or(0))
                        .collect(),
                    strings: self.strings[col].texts.clone(),
                }
            })
            .collect();
        let codes = (0..n).map(|r| local[&self.models[at(r)]]).collect();
        let positions = (0..n).map(|r| self.positions[at(r)]).collect();
        let (floats, tags, stride) = match &rows {
            None => (
                std::mem::take(&mut self.floats),
                std::mem::take(&mut self.tags),
                self.stride,
            ),
            Some(rs) => {
                let (f, s) = (self.plan.names.len(), self.stride);
                let mut floats = Vec::with_capacity(f * rs.len());
                let mut tags = Vec::with_capacity(f * rs.len());
                for j in 0..f {
                    floats.extend(rs.iter().map(|&r| self.floats[j * s + r]));
                    tags.extend(rs.iter().map(|&r| self.tags[j * s + r]));
                }
                (floats, tags, rs.len())
            }
        };
        Shared {
            plan: self.plan,
            models,
            codes,
            positions,
            rows: n,
            stride,
            floats,
            tags,
            objects,
        }
    }
}
