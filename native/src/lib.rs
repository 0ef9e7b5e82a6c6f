//! modelmon's native capture decoder: a batch of capture-event bytes -> columns per model.
//!
//! `decode_batch(values, plans, max_bytes, max_extra)` parses each message with simd-json,
//! checks it against the capture-event schema (rules.rs) and appends its inputs to its model's
//! columns (batch.rs); numbers stay in Rust vectors handed to numpy without a copy, and only
//! strings and bools (categorical values) become Python objects (one `str` per distinct value
//! per column). The typing rules, shared with the pure-Python reference, are in docs/decode.md.

pub mod batch;
pub mod rules;
pub mod time;

use std::collections::HashMap;

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use batch::{Batch, ColumnBuilder, ModelGroup, Plan, Tag};
use rustc_hash::FxHashMap;

/// Bumped whenever the rules or the result's shape change (the Python side checks it).
const ABI: u32 = 3;

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

fn objects<'py>(
    py: Python<'py>,
    c: &ColumnBuilder,
    texts: &mut Texts,
) -> PyResult<Bound<'py, PyAny>> {
    let strings: Vec<PyObject> = c.strings.iter().map(|s| text(py, texts, s)).collect();
    let none = py.None();
    let mut out: Vec<PyObject> = Vec::with_capacity(c.tags.len());
    for (row, tag) in c.tags.iter().enumerate() {
        out.push(match tag {
            Tag::Missing | Tag::Absent => none.clone_ref(py),
            Tag::Int => PyInt::new(py, c.ints[row]).into_any().unbind(),
            Tag::Float => PyFloat::new(py, c.floats[row]).into_any().unbind(),
            Tag::Bool => PyBool::new(py, c.ints[row] != 0)
                .to_owned()
                .into_any()
                .unbind(),
            Tag::Str => strings[c.ints[row] as usize].clone_ref(py),
        });
    }
    Ok(PyArray1::from_vec(py, out).into_any())
}

/// True when the column keeps Python objects (strings, bools, or an int a float cannot hold).
fn needs_objects(c: &ColumnBuilder) -> bool {
    !c.numeric_only() || c.inexact_int
}

/// One model's columns as one block: `(positions, names, planned, floats, tags, objects)` with
/// `floats` and `tags` (`Tag` as u8) flat, feature after feature (Python reshapes them to
/// features x rows), and `objects` the columns that keep Python objects. A handful of Python
/// objects per model and batch, whatever its number of features.
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
            objs.set_item(text(py, texts, name), objects(py, c, texts)?)?;
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

fn to_python<'py>(py: Python<'py>, b: Batch<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let groups = PyList::empty(py);
    let mut texts = Texts::default();
    for g in b.groups {
        groups.append(group(py, g, &mut texts)?)?;
    }
    PyTuple::new(
        py,
        [
            b.index.into_pyarray(py).into_any(),
            b.event_ms.into_pyarray(py).into_any(),
            b.model_codes.into_pyarray(py).into_any(),
            PyList::new(py, b.models)?.into_any(),
            groups.into_any(),
            PyList::new(py, b.refused)?.into_any(),
        ],
    )
}

/// Each registered model's configured feature names, kept across batches.
#[pyclass(frozen)]
struct Plans(HashMap<String, Plan>);

#[pymethods]
impl Plans {
    #[new]
    fn new(plans: HashMap<String, Vec<String>>) -> Self {
        Self(
            plans
                .into_iter()
                .map(|(m, names)| (m, Plan::new(names)))
                .collect(),
        )
    }
}

/// Decodes a batch: `values` a list of `bytes | None`, `plans` model id -> configured feature
/// names. Returns `(index, event_ms, model_codes, models, groups, refused)`; see
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
    m.add_class::<Plans>()?;
    m.add("ABI", ABI)?;
    Ok(())
}
