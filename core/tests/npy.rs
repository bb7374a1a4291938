//! `anodiff_core::npy` against files written by NumPy itself (fixtures/trajectory/ and
//! fixtures/vuong/, numpy 2.4.6: `make_fixtures.py`, `make_npy.py`), both byte orders, and one
//! test per rejected file: each error names the file and the problem.

use anodiff_core::npy::{self, Dtype, Header, NpyArray};
use std::path::{Path, PathBuf};

fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(dir)
        .join(name)
}

fn open_err(path: &Path) -> String {
    NpyArray::open(path).unwrap_err().to_string()
}

/// A version 1.0 file with the given header dictionary fields and raw data.
fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    )
    .into_bytes();
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(b' ');
    }
    dict.push(b'\n');
    let mut out = npy::MAGIC.to_vec();
    out.extend([1, 0]);
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict);
    out.extend(data);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// numpy's `>f4` trajectory (k/8 - 0.5, 5 x 3) reads like its `<f4` twin, as blocks and flat.
#[test]
fn big_endian_f32_written_by_numpy_matches_little_endian() {
    let be = NpyArray::open(fixture("trajectory", "w_big_endian.npy")).unwrap();
    let le = NpyArray::open(fixture("trajectory", "w_f32.npy")).unwrap();
    assert_eq!((be.dtype(), le.dtype()), (Dtype::F32Be, Dtype::F32Le));
    let want: Vec<f64> = (0..15).map(|k| k as f64 / 8.0 - 0.5).collect();
    assert_eq!(be.values(), want);
    assert_eq!(le.values(), want);
    let mut block = vec![0.0f32; 6];
    be.read_block(1..4, 1..3, &mut block).unwrap();
    assert_eq!(block, [0.0, 0.125, 0.375, 0.5, 0.75, 0.875]);
    assert_eq!(be.to_array2().unwrap()[[4, 2]], 1.25);
}

/// numpy's `>f8` Fortran-order 2 x 3 array: flat reads give storage order, `to_array2` the
/// logical array, and row blocks are refused.
#[test]
fn big_endian_f64_fortran_written_by_numpy() {
    let p = fixture("vuong", "np_f64_be_fortran_2x3.npy");
    let a = NpyArray::open(&p).unwrap();
    assert_eq!(a.dtype(), Dtype::F64Be);
    assert!(a.header().fortran_order);
    assert_eq!(a.values(), [1.5, 0.125, -2.25, 1e-3, 3.0, -7.0]);
    let m = a.to_array2().unwrap();
    assert_eq!(m.row(0).to_vec(), [1.5, -2.25, 3.0]);
    assert_eq!(m.row(1).to_vec(), [0.125, 1e-3, -7.0]);
    let mut out = [0.0f32; 3];
    let e = a.read_block(0..1, 0..3, &mut out).unwrap_err().to_string();
    assert!(
        e.contains("np_f64_be_fortran_2x3.npy") && e.contains("Fortran"),
        "{e}"
    );
}

/// Written files round-trip in both widths; the header is what numpy writes (64-byte aligned).
#[test]
fn writers_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.npy");
    let v: Vec<f64> = (0..12).map(|i| i as f64 * 0.1 - 0.3).collect();
    npy::write_f64(&p, &[3, 4], &v).unwrap();
    let a = NpyArray::open(&p).unwrap();
    assert_eq!(
        (a.shape(), a.header().data_offset % 64),
        (&[3usize, 4][..], 0)
    );
    assert_eq!(a.values(), v);
    let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    npy::write_f32(&p, &[12], &v32).unwrap();
    assert_eq!(
        npy::read_array1(&p).unwrap().to_vec(),
        v32.iter().map(|&x| x as f64).collect::<Vec<_>>()
    );
    let e = npy::write_f64(&p, &[5, 3], &v).unwrap_err().to_string();
    assert!(e.contains("12 values") && e.contains("(5, 3)"), "{e}");
}

#[test]
fn truncated_file_names_both_sizes_and_the_first_incomplete_row() {
    let d = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..7).flat_map(|i| (i as f32).to_be_bytes()).collect();
    let p = write(
        d.path(),
        "cut.npy",
        &npy_bytes(">f4", false, "(4, 3)", &data),
    );
    let e = open_err(&p);
    // 128-byte header + 7 values of 4 bytes = 156 bytes; 128 + 48 = 176 needed.
    assert!(e.contains("cut.npy") && e.contains("truncated"), "{e}");
    assert!(
        e.contains("holds 156 bytes") && e.contains("needs 176") && e.contains("(big-endian)"),
        "{e}"
    );
    assert!(
        e.contains("7 of the 12 values") && e.contains("row 2"),
        "{e}"
    );
    assert!(!e.contains("  "), "stray spaces: {e}");
}

#[test]
fn bytes_after_the_data_are_an_error() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "long.npy",
        &npy_bytes("<f8", false, "(1,)", &[0u8; 12]),
    );
    let e = open_err(&p);
    assert!(
        e.contains("long.npy") && e.contains("4 bytes follow the data"),
        "{e}"
    );
}

#[test]
fn wrong_dtype_is_named() {
    let e = open_err(&fixture("trajectory", "w_int.npy"));
    assert!(
        e.contains("w_int.npy") && e.contains("<i8") && e.contains("integers"),
        "{e}"
    );
    let e = open_err(&fixture("vuong", "np_str.npy"));
    assert!(e.contains("text (a string array)"), "{e}");
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "half.npy",
        &npy_bytes("<f2", false, "(2,)", &[0u8; 4]),
    );
    assert!(open_err(&p).contains("unsupported width"));
}

#[test]
fn wrong_shape_is_named() {
    let a = NpyArray::open(fixture("trajectory", "w_3d.npy")).unwrap();
    let e = a.to_array2().unwrap_err().to_string();
    assert!(
        e.contains("w_3d.npy") && e.contains("expected a 2-D array, found 3-D"),
        "{e}"
    );
    let e = npy::read_array1(fixture("trajectory", "w_f32.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expected a 1-D array") && e.contains("(5, 3)"),
        "{e}"
    );
    let a = NpyArray::open(fixture("trajectory", "w_f32.npy")).unwrap();
    let mut out = [0.0f32; 4];
    assert!(a.read_block(4..6, 0..2, &mut out).is_err());
}

#[test]
fn malformed_headers_are_named() {
    let d = tempfile::tempdir().unwrap();
    let e = open_err(&write(d.path(), "zip.npy", b"PK\x03\x04rest"));
    assert!(e.contains("zip.npy") && e.contains("magic string"), "{e}");
    let mut v4 = npy_bytes("<f8", false, "(1,)", &[0u8; 8]);
    v4[6] = 4;
    assert!(open_err(&write(d.path(), "v4.npy", &v4)).contains("version 4.0"));
    let e = open_err(&write(d.path(), "empty.npy", b""));
    assert!(e.contains("empty.npy") && e.contains("empty file"), "{e}");
    let full = npy_bytes("<f8", false, "(1,)", &[0u8; 8]);
    let e = open_err(&write(d.path(), "head.npy", &full[..40]));
    assert!(
        e.contains("truncated .npy header") && e.contains("holds 40 bytes"),
        "{e}"
    );
    let dict = b"{'descr': '<f8', 'fortran_order': False, 'shap': (1,), }\n";
    let mut bad = npy::MAGIC.to_vec();
    bad.extend([1, 0, dict.len() as u8, 0]);
    bad.extend(dict);
    let e = Header::parse(&bad, Path::new("k.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("k.npy") && e.contains("key 'shape' missing"),
        "{e}"
    );
}

/// Non-finite values: `values` keeps them, `finite_values` and `read_block` name where they are.
#[test]
fn non_finite_values_are_located() {
    let v =
        anodiff_core::npy::NpyArray::open(fixture("trajectory", "w_nan_step3_coord1.npy")).unwrap();
    assert!(v.values()[10].is_nan());
    let e = v.finite_values().unwrap_err().to_string();
    assert!(e.contains("flat index 10"), "{e}");
    let mut out = vec![0.0f32; 15];
    let e = v.read_block(0..5, 0..3, &mut out).unwrap_err().to_string();
    assert!(e.contains("row 3, column 1: value is NaN"), "{e}");
}
