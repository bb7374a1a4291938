//! Input-file contract of `anodiff_core::io`: text, `.npy` (written by hand here, byte for byte
//! as NumPy writes them, and by NumPy itself in fixtures/vuong/), and every bad-input case.
//!
//! The hand-written `.npy` files follow the format spec (numpy/lib/format.py): magic `\x93NUMPY`,
//! version bytes, little-endian header length (u16 for 1.0, u32 for 2.0), a Python dict literal
//! padded with spaces and ended by `\n` so that the data start at a multiple of 64 bytes, then the
//! raw elements. `numpy.save(p, numpy.array([1.0, 2.0], dtype='<f8'))` produces exactly what
//! `npy(1, "<f8", false, "(2,)", ...)` builds below.

use anodiff_core::io::{read_values, read_values_bytes, validate_sample, NpyValues};
use anodiff_core::npy::Dtype;
use anodiff_core::Error;
use std::path::{Path, PathBuf};

fn npy(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    )
    .into_bytes();
    let prefix = if version == 1 { 10 } else { 12 };
    while !(prefix + dict.len() + 1).is_multiple_of(64) {
        dict.push(b' ');
    }
    dict.push(b'\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((dict.len() as u16).to_le_bytes());
    } else {
        out.extend((dict.len() as u32).to_le_bytes());
    }
    out.extend(dict);
    out.extend(data);
    out
}

fn le64(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn be32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_of(path: &Path) -> String {
    read_values(path).unwrap_err().to_string()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/vuong")
        .join(name)
}

#[test]
fn text_with_comments_blanks_crlf_and_bom() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "x.txt",
        b"\xEF\xBB\xBF# header\r\n1.5\r\n\r\n  -2e-3  \n# mid\n+7\n1e300\n",
    );
    assert_eq!(read_values(&p).unwrap(), vec![1.5, -2e-3, 7.0, 1e300]);
}

#[test]
fn text_malformed_line_reports_number_and_content() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.txt", b"# c\n1\n\n1.2.3\n4\n");
    let e = err_of(&p);
    assert!(
        e.contains("line 4") && e.contains("1.2.3") && e.contains("x.txt"),
        "{e}"
    );
    let p = write(d.path(), "y.txt", b"1\n2 3\n");
    assert!(err_of(&p).contains("line 2"));
}

#[test]
fn text_nan_and_inf_name_their_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.txt", b"1\n2\nNaN\n");
    let e = err_of(&p);
    assert!(e.contains("line 3") && e.contains("NaN"), "{e}");
    let p = write(d.path(), "y.txt", b"1\n-inf\n");
    let e = err_of(&p);
    assert!(e.contains("line 2") && e.contains("infinite"), "{e}");
}

#[test]
fn empty_and_comment_only_files() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(&write(d.path(), "e.txt", b""));
    assert!(e.contains("empty") && e.contains("e.txt"), "{e}");
    let e = err_of(&write(d.path(), "c.txt", b"# only\n\n# comments\n"));
    assert!(e.contains("no values"), "{e}");
    let e = err_of(&write(d.path(), "e.npy", b""));
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn binary_garbage_is_not_text() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(&write(d.path(), "g.dat", b"1\n\xff\xfe\x00\x01\n"));
    assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
}

#[test]
fn missing_file_names_path() {
    let e = err_of(Path::new("/nonexistent/dir/data.txt"));
    assert!(e.contains("/nonexistent/dir/data.txt"), "{e}");
}

#[test]
fn npy_f64_little_endian_1d() {
    let d = tempfile::tempdir().unwrap();
    let v = [1.0, -2.5, 3.25e-7];
    let p = write(d.path(), "a.npy", &npy(1, "<f8", false, "(3,)", &le64(&v)));
    assert_eq!(read_values(&p).unwrap(), v);
    // Recognised by magic even without the extension, and from memory.
    let q = write(d.path(), "a.bin", &npy(1, "<f8", false, "(3,)", &le64(&v)));
    assert_eq!(read_values(&q).unwrap(), v);
    let bytes = npy(2, "<f8", false, "(3,)", &le64(&v));
    assert_eq!(read_values_bytes(&bytes, Path::new("mem")).unwrap(), v);
}

#[test]
fn npy_f32_big_endian_3d_read_flat_and_widened() {
    let d = tempfile::tempdir().unwrap();
    let v: Vec<f32> = (0..24).map(|i| i as f32 * 0.1 - 1.0).collect();
    let p = write(
        d.path(),
        "b.npy",
        &npy(1, ">f4", false, "(2, 3, 4)", &be32(&v)),
    );
    let got = read_values(&p).unwrap();
    let want: Vec<f64> = v.iter().map(|&x| x as f64).collect();
    assert_eq!(got, want);
}

#[test]
fn npy_files_written_by_numpy() {
    // fixtures/vuong/make_npy.py, numpy 2.4.6.
    let f32_vals = [1.5f32, -2.25, 3.0, 0.125, 1e-3, -7.0].map(|x| x as f64);
    assert_eq!(
        read_values(&fixture("np_f32_le_2x3.npy")).unwrap(),
        f32_vals
    );
    // Fortran order: storage (column-major) order.
    assert_eq!(
        read_values(&fixture("np_f64_be_fortran_2x3.npy")).unwrap(),
        [1.5, 0.125, -2.25, 1e-3, 3.0, -7.0]
    );
    assert_eq!(read_values(&fixture("np_f64_0d.npy")).unwrap(), [42.5]);
    let e = err_of(&fixture("np_i64.npy"));
    assert!(e.contains("<i8") && e.contains("float64"), "{e}");
    let e = err_of(&fixture("np_str.npy"));
    assert!(e.contains("non-numeric") && e.contains("np_str.npy"), "{e}");
    let h = NpyValues::open(&fixture("np_f32_le_2x3.npy")).unwrap();
    assert_eq!(
        (h.len(), h.dtype(), h.shape()),
        (6, Dtype::F32Le, &[2usize, 3][..])
    );
}

#[test]
fn npy_truncated_names_counts() {
    let d = tempfile::tempdir().unwrap();
    let v: Vec<f64> = (0..996).map(|i| i as f64).collect();
    let p = write(
        d.path(),
        "t.npy",
        &npy(1, "<f8", false, "(1000,)", &le64(&v)),
    );
    let e = err_of(&p);
    assert!(
        e.contains("truncated") && e.contains("1000") && e.contains("996") && e.contains("t.npy"),
        "{e}"
    );
    // A cut in the middle of an element is reported too.
    let mut bytes = npy(1, "<f8", false, "(4,)", &le64(&[1.0, 2.0, 3.0, 4.0]));
    bytes.truncate(bytes.len() - 3);
    let e = err_of(&write(d.path(), "u.npy", &bytes));
    assert!(e.contains("3 of the 4 values and 5 stray bytes"), "{e}");
    // Cut inside the header.
    let bytes = npy(1, "<f8", false, "(4,)", &[]);
    let e = err_of(&write(d.path(), "h.npy", &bytes[..40]));
    assert!(e.contains("truncated .npy header"), "{e}");
    // Streaming reader refuses it at open.
    let e = NpyValues::open(&p).unwrap_err().to_string();
    assert!(e.contains("1000") && e.contains("996"), "{e}");
}

#[test]
fn npy_trailing_bytes_and_bad_headers() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = npy(1, "<f8", false, "(2,)", &le64(&[1.0, 2.0]));
    bytes.extend([0u8; 8]);
    let e = err_of(&write(d.path(), "x.npy", &bytes));
    assert!(e.contains("8 bytes follow"), "{e}");

    let e = err_of(&write(d.path(), "txt.npy", b"1\n2\n3\n"));
    assert!(e.contains("not a .npy file"), "{e}");

    let mut bytes = npy(1, "<f8", false, "(2,)", &le64(&[1.0, 2.0]));
    bytes[6] = 9;
    assert!(err_of(&write(d.path(), "v.npy", &bytes)).contains("version 9.0"));

    let bytes = npy(1, "|O", false, "(2,)", &[0u8; 16]);
    assert!(err_of(&write(d.path(), "o.npy", &bytes)).contains("non-numeric"));

    let bytes = npy(1, "<f8", false, "(0,)", &[]);
    let e = err_of(&write(d.path(), "z.npy", &bytes));
    assert!(e.contains("no values") && e.contains("(0,)"), "{e}");

    let bytes = npy(1, "<f8", false, "(-2,)", &[]);
    assert!(err_of(&write(d.path(), "n.npy", &bytes)).contains("corrupt .npy header"));

    let bytes = npy(
        1,
        "<f8",
        false,
        "(99999999999, 99999999999, 99999999999)",
        &[],
    );
    assert!(err_of(&write(d.path(), "big.npy", &bytes)).contains("overflow"));
}

#[test]
fn npy_nan_names_flat_index() {
    let d = tempfile::tempdir().unwrap();
    let v = [1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0];
    let p = write(
        d.path(),
        "n.npy",
        &npy(1, "<f8", false, "(2, 3)", &le64(&v)),
    );
    let e = err_of(&p);
    assert!(e.contains("flat index 3") && e.contains("NaN"), "{e}");
    let npyv = NpyValues::open(&p).unwrap();
    assert!(npyv
        .to_vec()
        .unwrap_err()
        .to_string()
        .contains("flat index 3"));
}

#[test]
fn streaming_reader_matches_whole_read() {
    let d = tempfile::tempdir().unwrap();
    let v: Vec<f32> = (0..10_007)
        .map(|i| ((i * 37) % 101) as f32 - 50.5)
        .collect();
    let p = write(
        d.path(),
        "s.npy",
        &npy(1, ">f4", false, "(10007,)", &be32(&v)),
    );
    let all = read_values(&p).unwrap();
    let r = NpyValues::open(&p).unwrap();
    assert_eq!(r.len(), 10_007);

    let mut seen = Vec::new();
    r.for_each_chunk(1000, |start, c| {
        assert_eq!(start, seen.len());
        seen.extend_from_slice(c);
    });
    assert_eq!(seen, all);

    let mut raw = Vec::new();
    r.for_each_chunk_f32(333, |_, c| raw.extend_from_slice(c))
        .unwrap();
    assert_eq!(raw, v);

    let sums = r.par_map_chunks(512, |start, c| (start, c.iter().sum::<f64>()));
    assert_eq!(sums.len(), 10_007usize.div_ceil(512));
    assert!(sums.windows(2).all(|w| w[0].0 < w[1].0));
    let total: f64 = sums.iter().map(|s| s.1).sum();
    assert_eq!(total, all.iter().sum::<f64>()); // integers + halves: exact in f64

    let mut buf = [0.0; 3];
    r.read_range(10_004, &mut buf).unwrap();
    assert_eq!(buf, all[10_004..]);
    assert!(matches!(
        r.read_range(10_005, &mut buf),
        Err(Error::InvalidParameter { .. })
    ));

    // f64 files refuse the f32 view rather than narrowing silently.
    let q = write(
        d.path(),
        "d.npy",
        &npy(1, "<f8", false, "(2,)", &le64(&[1.0, 2.0])),
    );
    assert!(NpyValues::open(&q)
        .unwrap()
        .for_each_chunk_f32(10, |_, _| {})
        .is_err());
}

#[test]
fn validation_rules() {
    assert!(validate_sample(&[1.0, 2.0, 3.0, 4.0], 5)
        .unwrap_err()
        .to_string()
        .contains("only 4 values; at least 5"));
    let e = validate_sample(&[3.5; 7], 5).unwrap_err().to_string();
    assert!(e.contains("all 7 values are equal to 3.5"), "{e}");
    let e = validate_sample(&[1.0, 2.0, 3.0, 4.0, f64::NEG_INFINITY], 5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("index 4"), "{e}");
    assert!(matches!(
        validate_sample(&[], 5),
        Err(Error::InvalidData(_))
    ));
}
