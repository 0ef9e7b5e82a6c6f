//! A batch of messages -> columns per layout (models of equal plans share one block), and per
//! model for the models whose events carry names their plan does not list (pure Rust; lib.rs
//! hands them to Python).

use rustc_hash::FxHashMap;
use simd_json::Buffers;

use crate::layout::{LayoutBuilder, Plans, Shared};
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
    pub index: FxHashMap<String, usize>,
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

/// A decoded batch: accepted messages in delivery order, as blocks shared by the models of a
/// layout, and per-model groups for models with names their plan does not list.
#[derive(Debug, Default)]
pub struct Batch<'p> {
    /// Batch positions of the accepted messages.
    pub index: Vec<i64>,
    pub event_ms: Vec<i64>,
    /// Per accepted message, its model's number in `models`.
    pub model_codes: Vec<i64>,
    pub models: Vec<String>,
    /// Blocks over the rows of models that share a layout, ordered by their first model's name.
    pub shared: Vec<Shared<'p>>,
    /// (model number, its group) for models outside the shared blocks.
    pub groups: Vec<(usize, ModelGroup<'p>)>,
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

/// An empty vector of another element lifetime, keeping the allocation (in-place collect).
fn recycle<'a, 'b>(mut v: Vec<simd_json::Node<'a>>) -> Vec<simd_json::Node<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

/// Parses one message into `scratch` and checks it: the event, or None when refused. `tape`
/// is the parser's node buffer, kept across messages.
fn parse<'s>(
    value: Option<&'s [u8]>,
    max_bytes: usize,
    scratch: &'s mut Vec<u8>,
    parser: &mut Parser,
) -> Option<rules::Event<'s>> {
    let bytes = value.filter(|b| b.len() <= max_bytes)?;
    let spare = rules::recycle(std::mem::take(&mut parser.inputs));
    match crate::fast::event(bytes, spare) {
        Ok(event) => return Some(event),
        Err(spare) => parser.inputs = rules::recycle(spare),
    }
    full(bytes, scratch, parser)
}

/// The full path: simd-json's tape, then the schema's rules (`rules::event`).
pub(crate) fn full<'s>(
    bytes: &'s [u8],
    scratch: &'s mut Vec<u8>,
    parser: &mut Parser,
) -> Option<rules::Event<'s>> {
    // simd-json is laxer than JSON after a number and with control bytes (fast::strict_tokens)
    if has_surrogate_escape(bytes) || !crate::fast::strict_tokens(bytes) {
        return None;
    }
    scratch.clear();
    scratch.extend_from_slice(bytes);
    let mut t = simd_json::Tape(recycle(std::mem::take(&mut parser.tape)));
    let parsed = simd_json::fill_tape(scratch, &mut parser.buffers, &mut t).ok();
    let spare = rules::recycle(std::mem::take(&mut parser.inputs));
    let event = parsed.and_then(|()| rules::event(&t.0, spare).ok());
    parser.tape = recycle(t.0);
    event
}

/// What parsing a message needs, kept across messages (no allocation per message).
#[derive(Default)]
pub struct Parser {
    buffers: Buffers,
    tape: Vec<simd_json::Node<'static>>,
    inputs: Vec<(&'static str, Val<'static>)>,
}

impl Parser {
    /// Hands back an event's inputs vector for the next message to reuse.
    fn done(&mut self, event: rules::Event) {
        self.inputs = rules::recycle(event.inputs);
    }
}

/// Per model of a batch: its layout and whether it left the shared blocks.
#[derive(Default)]
struct Models {
    codes: FxHashMap<String, usize>,
    layout: Vec<usize>,
    irregular: Vec<bool>,
}

/// Decodes `values` (None = a message without a value) with the registered models' plans.
pub fn decode<'p>(
    values: &[Option<&[u8]>],
    plans: &'p Plans,
    max_bytes: usize,
    max_extra: usize,
) -> Batch<'p> {
    let mut out = Batch::default();
    let mut models = Models::default();
    let mut builders: Vec<Option<LayoutBuilder<'p>>> = plans.layouts.iter().map(|_| None).collect();
    let mut opened = false;
    let mut parser = Parser::default();
    let mut scratch: Vec<u8> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let Some(event) = parse(*value, max_bytes, &mut scratch, &mut parser) else {
            out.refused.push(i as i64);
            continue;
        };
        let code = match models.codes.get(event.model_id) {
            Some(&c) => c,
            None => {
                let c = out.models.len();
                models.codes.insert(event.model_id.to_owned(), c);
                out.models.push(event.model_id.to_owned());
                models.layout.push(plans.layout_of(event.model_id));
                models.irregular.push(false);
                c
            }
        };
        let position = out.index.len() as i64;
        out.index.push(i as i64);
        out.event_ms.push(event.event_ms);
        out.model_codes.push(code as i64);
        if models.irregular[code] {
            parser.done(event);
            continue;
        }
        let layout = models.layout[code];
        let builder = builders[layout].get_or_insert_with(|| {
            // the first layout of a batch is usually its only one: room for every message
            // (within ~32 MiB of cells up front; it grows by doubling past that)
            let plan = &plans.layouts[layout];
            let budget = (1 << 22) / plan.names.len().max(1);
            let rows = if opened {
                64
            } else {
                (values.len() - i).min(budget)
            };
            opened = true;
            LayoutBuilder::new(plan, rows)
        });
        if !builder.add(position, code as u32, &event.inputs) {
            models.irregular[code] = true;
        }
        parser.done(event);
    }
    for builder in builders.into_iter().flatten() {
        out.shared
            .extend(builder.finish(&out.models, &models.irregular));
    }
    out.shared
        .sort_by(|a, b| out.models[a.models[0] as usize].cmp(&out.models[b.models[0] as usize]));
    if models.irregular.iter().any(|x| *x) {
        per_model(&mut out, values, plans, &models, max_bytes, max_extra);
    }
    out
}

/// The events of models with names their plan does not list, decoded again into a group per
/// model (rare: such models cost a second parse of their messages).
fn per_model<'p>(
    out: &mut Batch<'p>,
    values: &[Option<&[u8]>],
    plans: &'p Plans,
    models: &Models,
    max_bytes: usize,
    max_extra: usize,
) {
    let mut groups: FxHashMap<usize, ModelGroup<'p>> = FxHashMap::default();
    let (mut parser, mut scratch) = (Parser::default(), Vec::new());
    for (position, &code) in out.model_codes.iter().enumerate() {
        let code = code as usize;
        if !models.irregular[code] {
            continue;
        }
        let value = values[out.index[position] as usize];
        let event = parse(value, max_bytes, &mut scratch, &mut parser)
            .expect("a message accepted once is accepted again");
        groups
            .entry(code)
            .or_insert_with(|| ModelGroup::new(Some(&plans.layouts[models.layout[code]])))
            .add(position as i64, &event.inputs, max_extra);
        parser.done(event);
    }
    out.groups = groups.into_iter().collect();
    out.groups.sort_by_key(|(code, _)| *code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(msgs: &[&str], plans: &[(&str, &[&str])]) -> Batch<'static> {
        let plans: std::collections::HashMap<String, Vec<String>> = plans
            .iter()
            .map(|(m, f)| ((*m).to_owned(), f.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let plans: &'static Plans = Box::leak(Box::new(Plans::new(plans)));
        let values: Vec<Option<&[u8]>> = msgs.iter().map(|m| Some(m.as_bytes())).collect();
        decode(&values, plans, 1 << 20, 4)
    }

    fn ev(model: &str, inputs: &str) -> String {
        format!(
            r#"{{"model_id":"{model}","event_time":"2026-01-01T00:00:00.5Z","inputs":{inputs}}}"#
        )
    }

    /// Column `j` of a shared block: (tags, floats) of its rows.
    fn col<'a>(s: &'a Shared, j: usize) -> (&'a [u8], &'a [f64]) {
        let at = j * s.stride;
        (&s.tags[at..at + s.rows], &s.floats[at..at + s.rows])
    }

    const INT: u8 = Tag::Int as u8;
    const FLOAT: u8 = Tag::Float as u8;
    const ABSENT: u8 = Tag::Absent as u8;
    const MISSING: u8 = Tag::Missing as u8;

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
        assert_eq!(b.shared.len(), 2); // two layouts
        let a = &b.shared[0];
        assert_eq!(
            (a.models.clone(), a.positions.clone()),
            (vec![0], vec![0, 2])
        );
        assert_eq!(col(a, 0), (&[INT, FLOAT][..], &[1.0, 3.5][..]));
        let [c] = &a.objects[..] else { panic!() };
        assert_eq!(
            (c.col, c.strings.clone(), c.ints.clone()),
            (1, vec!["u".to_owned()], vec![0, 0])
        );
        assert_eq!(b.shared[1].positions, vec![1]);
        assert!(b.shared[1].objects.is_empty() && b.groups.is_empty());
    }

    #[test]
    fn models_of_equal_plans_share_one_block_unless_their_objects_differ() {
        let msgs = [
            ev("m2", r#"{"x":1,"c":"u"}"#),
            ev("m1", r#"{"x":2.5,"c":"v","x":null}"#),
            ev("m3", r#"{"x":"s"}"#),
            ev("m0", r#"{}"#),
            ev("m1", r#"{"c":"u","x":7}"#),
        ];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let plans: &[(&str, &[&str])] = &[
            ("m0", &["x", "c"]),
            ("m1", &["x", "c"]),
            ("m2", &["x", "c"]),
            ("m3", &["x", "c"]),
        ];
        let b = run(&refs, plans);
        assert!(b.groups.is_empty());
        let [one, other] = &b.shared[..] else {
            panic!("{:?}", b.shared)
        };
        // m0 has no value at all: it joins the block where x keeps objects (named first)
        let names = |s: &Shared| {
            s.models
                .iter()
                .map(|&m| b.models[m as usize].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(one), vec!["m0", "m3"]);
        assert_eq!(names(other), vec!["m1", "m2"]);
        assert_eq!(other.positions, vec![0, 1, 4]);
        assert_eq!(other.codes, vec![1, 0, 0]); // rows in batch order, models by name
        assert_eq!(col(other, 0).0, &[INT, MISSING, INT][..]); // the later duplicate wins
        assert_eq!(col(other, 0).1[2], 7.0);
        assert_eq!(
            other.objects.iter().map(|o| o.col).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(one.positions, vec![2, 3]);
        // no value in c either: objects too, as for the models with strings in it
        assert_eq!(
            one.objects.iter().map(|o| o.col).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(col(one, 1).0, &[ABSENT, ABSENT][..]);
    }

    #[test]
    fn a_layout_opened_later_grows_as_its_rows_come() {
        let mut msgs = vec![ev("a", r#"{"x":0}"#)];
        msgs.extend((0..300).map(|i| ev("b", &format!(r#"{{"y":{i},"s":"t{}"}}"#, i % 7))));
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[("a", &["x"]), ("b", &["y", "s"])]);
        let [_, s] = &b.shared[..] else { panic!() };
        assert_eq!(s.rows, 300);
        assert!(s.stride >= 300);
        let (tags, floats) = col(s, 0);
        assert!(tags.iter().all(|t| *t == INT));
        assert_eq!(floats, (0..300).map(f64::from).collect::<Vec<_>>());
        let texts = &s.objects[0];
        assert_eq!(texts.strings.len(), 7);
        assert_eq!(texts.ints, (0..300).map(|i| i % 7).collect::<Vec<i64>>());
    }

    #[test]
    fn an_unplanned_name_moves_its_model_out_of_the_shared_block() {
        let msgs = [
            ev("a", r#"{"x":1}"#),
            ev("a", r#"{"x":5,"y":"s","q":1}"#),
            ev("b", r#"{"y":"t"}"#),
        ];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[("a", &["x", "y"]), ("b", &["x", "y"])]);
        let [s] = &b.shared[..] else { panic!() };
        assert_eq!((s.models.clone(), s.positions.clone()), (vec![1], vec![2]));
        assert_eq!(col(s, 0).0, &[ABSENT][..]); // the refused row left nothing behind
        assert_eq!(s.objects[0].ints, vec![1]); // "t": the second string of y
        let [(0, a)] = &b.groups[..] else { panic!() };
        assert_eq!(
            (a.positions.clone(), a.names.clone()),
            (
                vec![0, 1],
                vec!["x".to_owned(), "y".to_owned(), "q".to_owned()]
            )
        );
    }

    #[test]
    fn missing_extra_and_duplicate_names() {
        let msgs = [
            ev("a", r#"{"x":1}"#),
            ev("a", r#"{"y":true,"x":2,"x":null}"#),
        ];
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let b = run(&refs, &[("a", &["x", "z"])]);
        assert!(b.shared.is_empty());
        let a = &b.groups[0].1;
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
        assert!(b.groups[0].1.abandoned && !b.groups[1].1.abandoned);
        assert_eq!(b.groups[0].1.positions, vec![0]);
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
        let s = &b.shared[0];
        let at = |j: usize| (col(s, j).0[0], col(s, j).1[0]);
        assert_eq!(at(0), (INT, 0.0));
        assert_eq!(at(1).0, FLOAT);
        assert!(at(1).1 == 0.0 && at(1).1.is_sign_negative());
        assert_eq!(at(2), (FLOAT, 100000.0));
        assert_eq!(at(3).1, 0.0);
        let [e] = &s.objects[..] else { panic!() };
        assert!(e.col == 4 && e.ints[0] == 9_007_199_254_740_993);
        assert_eq!(at(5).1, f64::MAX);
        assert_eq!(at(6).1, 2.2250738585072014e-308);
        assert_eq!(
            at(7).1,
            "123456789012345678901234567890.5".parse::<f64>().unwrap()
        );
    }
}
