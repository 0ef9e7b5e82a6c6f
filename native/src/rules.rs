//! The capture-event schema's rules over a parsed tape (pure Rust, no Python).
//!
//! `event` accepts a message only when the reference validator (`modelmon.validation`, msgspec)
//! surely accepts it, and then reads the values it would read. Anything else is *refused*: the
//! caller hands the message to the reference decoder, whose verdict and dead-letter reason
//! stand. Refusing is always safe (it costs speed); accepting what the reference rejects, or
//! reading another value, is a bug the parity property test looks for. The rules are stated
//! once for both implementations in docs/decode.md ("The typing rules").

use simd_json::{Node, StaticNode};

/// One input value as the reference types it (`str | int64 | float | bool | None`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// A valid event's fields that the aggregator profiles.
#[derive(Debug)]
pub struct Event<'a> {
    pub model_id: &'a str,
    pub event_ms: i64,
    /// In message order, duplicates included: a later duplicate replaces an earlier one.
    pub inputs: Vec<(&'a str, Val<'a>)>,
}

/// Why a message was refused (for tests and counts; the reference gives the dead-letter reason).
pub type Refusal = &'static str;

/// Nesting the decoder accepts inside free-form output fields (the reference allows far more).
const MAX_DEPTH: usize = 32;

/// Nodes in the value starting at `nodes[0]`, itself included.
fn width(nodes: &[Node]) -> usize {
    match nodes[0] {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// The `(key, value nodes)` pairs of an object, duplicates included (no allocation).
pub struct Pairs<'t, 'a> {
    nodes: &'t [Node<'a>],
    left: usize,
    at: usize,
}

impl<'t, 'a> Iterator for Pairs<'t, 'a> {
    type Item = Result<(&'a str, &'t [Node<'a>]), Refusal>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let Node::String(key) = self.nodes[self.at] else {
            self.left = 0;
            return Some(Err("bad key"));
        };
        let w = width(&self.nodes[self.at + 1..]);
        let value = &self.nodes[self.at + 1..self.at + 1 + w];
        self.at += 1 + w;
        Some(Ok((key, value)))
    }
}

/// The pairs of the object at `nodes[0]`.
fn pairs<'t, 'a>(nodes: &'t [Node<'a>]) -> Result<Pairs<'t, 'a>, Refusal> {
    let Node::Object { len, .. } = nodes[0] else {
        return Err("not an object");
    };
    Ok(Pairs {
        nodes,
        left: len,
        at: 1,
    })
}

/// `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z` (model ids and variants).
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// A feature value or `outputs.prediction`: `str | int64 | float | bool | None`, floats finite.
pub fn scalar<'a>(node: &Node<'a>) -> Result<Val<'a>, Refusal> {
    match *node {
        Node::String(s) => Ok(Val::Str(s)),
        Node::Static(StaticNode::Null) => Ok(Val::Null),
        Node::Static(StaticNode::Bool(b)) => Ok(Val::Bool(b)),
        Node::Static(StaticNode::I64(i)) => Ok(Val::Int(i)),
        Node::Static(StaticNode::U64(u)) => i64::try_from(u).map(Val::Int).map_err(|_| "int range"),
        Node::Static(StaticNode::F64(f)) if f.is_finite() => Ok(Val::Float(f)),
        _ => Err("not a scalar"),
    }
}

/// A `float` field: any JSON number (ints too), finite.
fn number(node: &Node) -> Result<f64, Refusal> {
    match *node {
        Node::Static(StaticNode::I64(i)) => Ok(i as f64),
        Node::Static(StaticNode::U64(u)) => Ok(u as f64),
        Node::Static(StaticNode::F64(f)) if f.is_finite() => Ok(f),
        _ => Err("not a number"),
    }
}

fn is_null(nodes: &[Node]) -> bool {
    matches!(nodes[0], Node::Static(StaticNode::Null))
}

fn string<'a>(nodes: &[Node<'a>]) -> Result<&'a str, Refusal> {
    match nodes[0] {
        Node::String(s) => Ok(s),
        _ => Err("not a string"),
    }
}

/// `None` or a `str` of `min..=max` characters.
fn optional_text(nodes: &[Node], min: usize, max: usize) -> Result<(), Refusal> {
    if is_null(nodes) {
        return Ok(());
    }
    let n = string(nodes)?.chars().count();
    if n < min || n > max {
        Err("length")
    } else {
        Ok(())
    }
}

/// `None` or an object whose values all pass `check`.
fn optional_map(nodes: &[Node], check: fn(&Node) -> bool) -> Result<(), Refusal> {
    if is_null(nodes) {
        return Ok(());
    }
    for pair in pairs(nodes)? {
        let (_, v) = pair?;
        if v.len() != 1 || !check(&v[0]) {
            return Err("map value");
        }
    }
    Ok(())
}

fn depth(nodes: &[Node]) -> usize {
    match nodes[0] {
        Node::Object { .. } => {
            let deepest = pairs(nodes).map_or(0, |p| {
                p.map(|pair| pair.map_or(0, |(_, v)| depth(v)))
                    .max()
                    .unwrap_or(0)
            });
            1 + deepest
        }
        Node::Array { len, .. } => {
            let (mut i, mut deepest) = (1, 0);
            for _ in 0..len {
                deepest = deepest.max(depth(&nodes[i..]));
                i += width(&nodes[i..]);
            }
            1 + deepest
        }
        _ => 0,
    }
}

fn outputs(nodes: &[Node]) -> Result<(), Refusal> {
    if is_null(nodes) {
        return Ok(());
    }
    for pair in pairs(nodes)? {
        let (key, v) = pair?;
        match key {
            "prediction" => {
                scalar(&v[0])?;
            }
            "probability" if !is_null(v) => {
                number(&v[0])?;
            }
            "probability" => {}
            "scores" => optional_map(v, |n| number(n).is_ok())?,
            _ if depth(v) > MAX_DEPTH => return Err("too deep"),
            _ => {}
        }
    }
    Ok(())
}

fn payload(nodes: &[Node]) -> Result<(), Refusal> {
    if is_null(nodes) {
        return Ok(());
    }
    let mut seen = [false; 3];
    for pair in pairs(nodes)? {
        let (key, v) = pair?;
        match key {
            "content_type" => {
                string(v)?;
                seen[0] = true;
            }
            "encoding" => {
                if !matches!(string(v)?, "CSV" | "JSON" | "BASE64") {
                    return Err("encoding");
                }
                seen[1] = true;
            }
            "data" => {
                string(v)?;
                seen[2] = true;
            }
            _ => return Err("unknown payload field"),
        }
    }
    if seen.iter().all(|s| *s) {
        Ok(())
    } else {
        Err("payload field missing")
    }
}

fn inputs<'a>(nodes: &[Node<'a>], out: &mut Vec<(&'a str, Val<'a>)>) -> Result<(), Refusal> {
    for pair in pairs(nodes)? {
        let (key, v) = pair?;
        out.push((key, scalar(&v[0])?));
    }
    Ok(())
}

/// An empty vector of another lifetime, keeping the allocation (in-place collect).
pub fn recycle<'b>(mut v: Vec<(&str, Val)>) -> Vec<(&'b str, Val<'b>)> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

/// The event in `nodes` (a parsed message), or why it is refused; `spare` is a vector whose
/// allocation the event's inputs reuse (an earlier event's, see `recycle`).
pub fn event<'a>(nodes: &[Node<'a>], spare: Vec<(&'a str, Val<'a>)>) -> Result<Event<'a>, Refusal> {
    if nodes.is_empty() || width(nodes) != nodes.len() {
        return Err("not one value");
    }
    let (mut model_id, mut event_ms, mut ins) = (None, None, None);
    let mut spare = Some(spare);
    for pair in pairs(nodes)? {
        let (key, v) = pair?;
        match key {
            "model_id" => {
                let s = string(v)?;
                if !is_name(s) {
                    return Err("model_id");
                }
                model_id = Some(s);
            }
            "event_time" => {
                event_ms = Some(crate::time::epoch_millis(string(v)?).ok_or("event_time")?);
            }
            "inputs" => {
                let mut out = ins.take().or_else(|| spare.take()).unwrap_or_default();
                out.clear(); // a later duplicate replaces the earlier one
                inputs(v, &mut out)?;
                ins = Some(out);
            }
            "schema_version" => {
                if !matches!(v[0], Node::Static(StaticNode::I64(1) | StaticNode::U64(1))) {
                    return Err("schema_version");
                }
            }
            "event_id" => optional_text(v, 1, 128)?,
            "variant" => {
                if !is_name(string(v)?) {
                    return Err("variant");
                }
            }
            "inference_id" => optional_text(v, 0, 256)?,
            "outputs" => outputs(v)?,
            "latency_ms" => {
                if !is_null(v) && number(&v[0])? < 0.0 {
                    return Err("latency_ms");
                }
            }
            "attributions" => optional_map(v, |n| number(n).is_ok())?,
            "metadata" => optional_map(v, |n| matches!(n, Node::String(_)))?,
            "request" | "response" => payload(v)?,
            "source" => {
                if !is_null(v) && !matches!(string(v)?, "sdk" | "proxy" | "ingest" | "sagemaker") {
                    return Err("source");
                }
            }
            _ => return Err("unknown field"),
        }
    }
    match (model_id, event_ms, ins) {
        (Some(model_id), Some(event_ms), Some(inputs)) => Ok(Event {
            model_id,
            event_ms,
            inputs,
        }),
        _ => Err("required field missing"),
    }
}
