//! The exact path's flush work in native code (issue 23, docs/decisions/0007): sorting every
//! dirty small window's values per (window, feature), and packing them as
//! `shared/modelmon/profile/floatpack.py` does. The numpy code there and in
//! `streaming/exact_store.py` is the reference; the tests hold both to identical bytes.
//!
//! - `exact_sort_values(values, group, groups)`: `values` is features x rows (NaN: no value),
//!   `group` each row's window (0..groups; -1: a row of no window written now). Returns every
//!   finite value ordered by (window, feature, value) and the count per (window, feature),
//!   window-major.
//! - `exact_count_classes(classes, group, groups, n_classes)`: `classes` features x rows; the
//!   rows per (window, feature, class), window-major (`np.bincount` of those keys).
//! - `exact_pack_groups(values, lengths, runs_per_group)`: `floatpack.pack_groups`: per group
//!   of consecutive runs its bytes, or None for a group with a run that needs float bits (the
//!   caller packs those with the reference; they are rare: values with more than 9 decimals).

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// The interface version `floatpack.py` checks (`EXACT_ABI` there).
const EXACT_ABI: u32 = 1;
const MAX_SCALE: usize = 9;
const ZIGZAG: u8 = 0x10;
const MAGIC: f64 = 1.5 * 4_503_599_627_370_496.0; // 1.5 * 2**52
const LIMIT: f64 = 2_251_799_813_685_248.0; // 2**51
const POW10: [f64; MAX_SCALE + 1] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Sorted values, and the count per (window, feature).
type Sorted<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exact_sort_values, m)?)?;
    m.add_function(wrap_pyfunction!(exact_pack_groups, m)?)?;
    m.add_function(wrap_pyfunction!(exact_count_classes, m)?)?;
    m.add("EXACT_ABI", EXACT_ABI)
}

#[pyfunction]
fn exact_sort_values<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, f64>,
    group: PyReadonlyArray1<'py, i64>,
    groups: usize,
) -> PyResult<Sorted<'py>> {
    let values = values.as_array();
    let (nf, n) = values.dim();
    let group = windows_of(group.as_slice()?, n, groups)?;
    let mut counts = vec![0i64; groups * nf];
    for f in 0..nf {
        let row = values.row(f);
        for (&g, v) in group.iter().zip(row.iter()) {
            if g >= 0 && !v.is_nan() {
                counts[g as usize * nf + f] += 1;
            }
        }
    }
    let mut start = Vec::with_capacity(counts.len() + 1);
    let mut total = 0usize;
    for &c in &counts {
        start.push(total);
        total += c as usize;
    }
    start.push(total);
    // values as integers in their order (f64::total_cmp's key; only finite values here), so
    // each (window, feature) sorts as integers
    let mut fill = start.clone();
    let mut keys = vec![0i64; total];
    for f in 0..nf {
        let row = values.row(f);
        for (&g, &v) in group.iter().zip(row.iter()) {
            if g >= 0 && !v.is_nan() {
                let slot = g as usize * nf + f;
                keys[fill[slot]] = ordered(v);
                fill[slot] += 1;
            }
        }
    }
    for w in start.windows(2) {
        keys[w[0]..w[1]].sort_unstable();
    }
    let out: Vec<f64> = keys.into_iter().map(unordered).collect();
    Ok((out.into_pyarray(py), counts.into_pyarray(py)))
}

/// Each of the `n` rows' window (-1: none), checked to be one of `groups`.
fn windows_of(group: &[i64], n: usize, groups: usize) -> PyResult<&[i64]> {
    if group.len() != n {
        return Err(PyValueError::new_err("one window per row"));
    }
    if group.iter().any(|&g| g < -1 || g >= groups as i64) {
        return Err(PyValueError::new_err("a row's window is out of range"));
    }
    Ok(group)
}

#[pyfunction]
fn exact_count_classes<'py>(
    py: Python<'py>,
    classes: PyReadonlyArray2<'py, i8>,
    group: PyReadonlyArray1<'py, i64>,
    groups: usize,
    n_classes: usize,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let classes = classes.as_array();
    let (nf, n) = classes.dim();
    let group = windows_of(group.as_slice()?, n, groups)?;
    if classes.iter().any(|&c| c < 0 || c as usize >= n_classes) {
        return Err(PyValueError::new_err("a row's class is out of range"));
    }
    let mut counts = vec![0i64; groups * nf * n_classes];
    for f in 0..nf {
        for (&g, &c) in group.iter().zip(classes.row(f).iter()) {
            if g >= 0 {
                counts[(g as usize * nf + f) * n_classes + c as usize] += 1;
            }
        }
    }
    Ok(counts.into_pyarray(py))
}

#[pyfunction]
fn exact_pack_groups<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    lengths: PyReadonlyArray1<'py, i64>,
    runs_per_group: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, PyList>> {
    let values = values.as_slice()?;
    let lengths = lengths.as_slice()?;
    let per = runs_per_group.as_slice()?;
    if lengths.iter().any(|&l| l < 0) || per.iter().any(|&p| p < 0) {
        return Err(PyValueError::new_err("negative run length or run count"));
    }
    let runs: i64 = per.iter().sum();
    let total: i64 = lengths.iter().sum();
    if runs as usize != lengths.len() || total as usize != values.len() {
        return Err(PyValueError::new_err(
            "run lengths must add up to the values, runs per group to the runs",
        ));
    }
    let mut out: Vec<PyObject> = Vec::with_capacity(per.len());
    let (mut run, mut pos) = (0usize, 0usize);
    let mut buf = Vec::new();
    for &p in per {
        let sizes = &lengths[run..run + p as usize];
        let n: usize = sizes.iter().map(|&s| s as usize).sum();
        let packed = pack_group(&values[pos..pos + n], sizes, &mut buf);
        out.push(match packed {
            true => PyBytes::new(py, &buf).into_any().unbind(),
            false => py.None(),
        });
        run += p as usize;
        pos += n;
    }
    PyList::new(py, out)
}

/// One group's bytes into `buf` (floatpack: run codes, then the varint planes), or false when
/// a run needs float bits.
fn pack_group(values: &[f64], sizes: &[i64], buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let mut coded: Vec<u64> = Vec::with_capacity(values.len());
    let mut pos = 0usize;
    for &size in sizes {
        let run = &values[pos..pos + size as usize];
        pos += size as usize;
        if run.is_empty() {
            buf.push(0);
            continue;
        }
        let Some(scale) = decimal_scale(run) else {
            return false;
        };
        let p = POW10[scale];
        let first = coded.len();
        let mut prev = 0i64;
        let mut zig = false;
        for (i, &v) in run.iter().enumerate() {
            let m = rounded(v, p) as i64;
            let delta = if i == 0 { m } else { m.wrapping_sub(prev) };
            zig |= i > 0 && delta < 0;
            coded.push(delta as u64);
            prev = m;
        }
        for (i, c) in coded[first..].iter_mut().enumerate() {
            if zig || i == 0 {
                let d = *c as i64;
                *c = ((d << 1) ^ (d >> 63)) as u64;
            }
        }
        buf.push(scale as u8 | if zig { ZIGZAG } else { 0 });
    }
    while !coded.is_empty() {
        buf.extend(
            coded
                .iter()
                .map(|&c| (c & 0x7F) as u8 | if c >= 0x80 { 0x80 } else { 0 }),
        );
        coded.retain(|&c| c >= 0x80);
        coded.iter_mut().for_each(|c| *c >>= 7);
    }
    true
}

#[inline]
fn ordered(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

#[inline]
fn unordered(key: i64) -> f64 {
    f64::from_bits((key ^ ((((key >> 63) as u64) >> 1) as i64)) as u64)
}

/// v * p rounded half to even with the same float operations as floatpack's `_round`.
#[inline]
fn rounded(v: f64, p: f64) -> f64 {
    let mut m = v * p;
    m += MAGIC;
    m -= MAGIC;
    m
}

/// The smallest decimal scale every value of the run round-trips at (floatpack's
/// `_decimal_ints`: m / 10**d is the value bit for bit and |m| < 2**51), else None.
fn decimal_scale(run: &[f64]) -> Option<usize> {
    (0..=MAX_SCALE).find(|&d| {
        let p = POW10[d];
        run.iter().all(|&v| {
            let m = rounded(v, p);
            (m / p).to_bits() == v.to_bits() && m.abs() < LIMIT
        })
    })
}
