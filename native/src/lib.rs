//! modelmon's native capture decoder: a batch of capture-event bytes -> columns per layout.
//!
//! `decode_batch(values, plans, max_bytes, max_extra)` parses each message with simd-json,
//! checks it against the capture-event schema (rules.rs) and appends its inputs to the columns
//! its model's layout shares with every model of the same feature names (layout.rs; batch.rs
//! for models whose events carry names their plan does not list); numbers stay in Rust vectors
//! handed to numpy without a copy, and only strings and bools (categorical values) become
//! Python objects (one `str` per distinct value per batch). The typing rules, shared with the pure-Python reference, are in docs/decode.md.

pub mod batch;
pub mod exact;
pub mod fast;
pub mod layout;
pub mod rules;
pub mod time;

use std::collections::HashMap;

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use batch::{Batch, ColumnBuilder, ModelGroup, Tag};
use layout::{ObjectColumn, Shared};
use rustc_hash::FxHashMap;

/// Bumped whenever the rules or the result's shape change (the Python side checks it).
const ABI: u32 = 5;

/// One Python `str` per distinct text in a batch (feature names, categories).
type Texts = FxHashMap<String, PyObject>;

fn text(py: Python<'_>, texts: &mut Texts, s: &str) -> PyObject {
    if let Some(t) = texts.get(s) {
        return t.clone_ref(py);
    }
    let t = PyString::new(py, s).into_any().unbind();
    texts.insert(s.to_owned(), t.clone_ref(py));
    t
}

/// A column's Python values: `tags` (as `Tag`), `floats`, `ints` (exact ints, bools and
/// string codes) and the column's distinct `strings`.
fn objects<'py>(
    py: Python<'py>,
    (tags, floats, ints, strings): (&[u8], &[f64], &[i64], &[String]),
    texts: &mut Texts,
) -> Bound<'py, PyAny> {
    let strings: Vec<PyObject> = strings.iter().map(|s| text(py, texts, s)).collect();
    let none = py.None();
    let out: Vec<PyObject> = tags
        .iter()
        .enumerate()
        .map(|(row, &tag)| match tag {
            t if t == Tag::Int as u8 => {
                if floats[row].abs() >= 9_007_199_254_740_992.0 {
                    PyInt::new(py, ints[row]).into_any().unbind()
                } else {
                    PyInt::new(py, floats[row] as i64).into_any().unbind()
                }
            }
            t if t == Tag::Float as u8 => PyFloat::new(py, floats[row]).into_any().unbind(),
            t if t == Tag::Bool as u8 => PyBool::new(py, ints[row] != 0)
                .to_owned()
                .into_any()
                .unbind(),
            t if t == Tag::Str as u8 => strings[ints[row] as usize].clone_ref(py),
            _ => none.clone_ref(py),
        })
        .collect();
    PyArray1::from_vec(py, out).into_any()
}

/// True when the column keeps Python objects (strings, bools, or an int a float cannot hold).
fn needs_objects(c: &ColumnBuilder) -> bool {
    !c.numeric_only() || c.inexact_int
}

/// One model's columns as one block: `(positions, names, planned, floats, tags, objects)` with
/// `floats` and `tags` (`Tag` as u8) flat, feature after feature (Python reshapes them to
/// features x rows), and `objects` the columns that keep Python objects.
fn group<'py>(py: Python<'py>, g: ModelGroup, texts: &mut Texts) -> PyResult<Bound<'py, PyTuple>> {
    let rows = g.rows();
    let positions = g.positions.into_pyarray(py).into_any();
    if g.abandoned {
        return PyTuple::new(py, [positions, py.None().into_bound(py)]);
    }
    let mut floats: Vec<f64> = Vec::with_capacity(rows * g.columns.len());
    let mut tags: Vec<u8> = Vec::with_capacity(rows * g.columns.len());
    let objs = PyDict::new(py);
    for (name, c) in g.names.iter().zip(&g.columns) {
        floats.extend_from_slice(&c.floats);
        tags.extend(c.tags.iter().map(|t| *t as u8));
        if needs_objects(c) {
            let own: Vec<u8> = c.tags.iter().map(|t| *t as u8).collect();
            let col = objects(py, (&own, &c.floats, &c.ints, &c.strings), texts);
            objs.set_item(text(py, texts, name), col)?;
        }
    }
    PyTuple::new(
        py,
        [
            positions,
            PyList::new(py, g.names.iter().map(|n| text(py, texts, n)))?.into_any(),
            g.planned.into_pyobject(py)?.into_any(),
            floats.into_pyarray(py).into_any(),
            tags.into_pyarray(py).into_any(),
            objs.into_any(),
        ],
    )
}

/// One shared block: `(models, codes, positions, names, planned, floats, tags, stride, objects)`
/// with `floats` and `tags` flat, `stride` values per feature (the first `len(positions)` used).
fn shared<'py>(py: Python<'py>, s: Shared, texts: &mut Texts) -> PyResult<Bound<'py, PyTuple>> {
    let objs = PyDict::new(py);
    for ObjectColumn {
        col,
        tags,
        floats,
        ints,
        strings,
    } in &s.objects
    {
        let values = objects(py, (tags, floats, ints, strings), texts);
        objs.set_item(text(py, texts, &s.plan.names[*col]), values)?;
    }
    let names = PyList::new(py, s.plan.names.iter().map(|n| text(py, texts, n)))?;
    PyTuple::new(
        py,
        [
            PyList::new(py, s.models)?.into_any(),
            s.codes.into_pyarray(py).into_any(),
            s.positions.into_pyarray(py).into_any(),
            names.into_any(),
            s.plan.names.len().into_pyobject(py)?.into_any(),
            s.floats.into_pyarray(py).into_any(),
            s.tags.into_pyarray(py).into_any(),
            s.stride.into_pyobject(py)?.into_any(),
            objs.into_any(),
        ],
    )
}

fn to_python<'py>(py: Python<'py>, b: Batch<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let mut texts = Texts::default();
    let blocks = PyList::empty(py);
    for s in b.shared {
        blocks.append(shared(py, s, &mut texts)?)?;
    }
    let groups = PyList::empty(py);
    for (code, g) in b.groups {
        groups.append((code, group(py, g, &mut texts)?))?;
    }
    PyTuple::new(
        py,
        [
            b.index.into_pyarray(py).into_any(),
            b.event_ms.into_pyarray(py).into_any(),
            b.model_codes.into_pyarray(py).into_any(),
            PyList::new(py, b.models)?.into_any(),
            blocks.into_any(),
            groups.into_any(),
            PyList::new(py, b.refused)?.into_any(),
        ],
    )
}

/// Each registered model's configured feature names, kept across batches (models with equal
/// names share one column layout).
#[pyclass(frozen)]
struct Plans(layout::Plans);

#[pymethods]
impl Plans {
    #[new]
    fn new(plans: HashMap<String, Vec<String>>) -> Self {
        Self(layout::Plans::new(plans))
    }
}

/// Decodes a batch: `values` a list of `bytes | None`, `plans` model id -> configured feature
/// names. Returns `(index, event_ms, model_codes, models, shared, groups, refused)`; see
/// `modelmon.streaming.native_decode`.
#[pyfunction]
fn decode_batch<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyList>,
    plans: &Plans,
    max_bytes: usize,
    max_extra: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let held: Vec<Option<Bound<'py, PyBytes>>> = values
        .iter()
        .map(|v| v.downcast_into::<PyBytes>().ok())
        .collect();
    let slices: Vec<Option<&[u8]>> = held
        .iter()
        .map(|v| v.as_ref().map(|b| b.as_bytes()))
        .collect();
    let batch = py.allow_threads(|| batch::decode(&slices, &plans.0, max_bytes, max_extra));
    to_python(py, batch)
}

#[pymodule]
fn modelmon_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_batch, m)?)?;
    exact::register(m)?; // issue 23: the exact path's sort and pack
    m.add_class::<Plans>()?;
    m.add("ABI", ABI)?;
    Ok(())
}
