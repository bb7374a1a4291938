//! End-to-end tests of `anodiff convert --to zarr`: every analysis gives the same JSON on a store
//! and on its Zarr conversion; attributes carry the configuration; damaged or unfinished Zarr
//! copies fail with errors naming the array and the chunk.

mod common;

use anodiff_core::trajectory::{Step, StoreOptions, StoreWriter, TrajectorySink};
use common::{anodiff, anodiff_sub, assert_fails, json, Exit};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// A store of a random walk (n steps x d, losses and 3 gradient coordinates) with metadata.
fn store(dir: &Path, n: usize, d: usize) -> PathBuf {
    let run = dir.join("run");
    let opts = StoreOptions::new(d)
        .with_chunk_steps(64)
        .with_gradient_dim(3)
        .with_subset_seed(5)
        .with_metadata(serde_json::json!({"model": "mlp", "lr": 0.1, "seed": 9}))
        .with_sync(false);
    let mut w = StoreWriter::create(&run, opts).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut x = vec![0.0f32; d];
    for t in 0..n {
        let g: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
        w.append(&Step {
            weights: &x,
            loss: 1.0 / (1.0 + t as f64),
            gradient: Some(&g),
        })
        .unwrap();
        for v in &mut x {
            *v += rng.random_range(-1.0f32..1.0) * (1.0 + t as f32 / n as f32);
        }
    }
    w.finish().unwrap();
    run
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn analyses_are_identical_on_store_and_zarr() {
    let dir = tempfile::tempdir().unwrap();
    let run = store(dir.path(), 600, 40);
    let out = dir.path().join("run.zarr");
    let v = json(&anodiff(&[
        "convert",
        s(&run),
        "--to",
        "zarr",
        s(&out),
        "--chunks",
        "100,16",
    ]));
    assert_eq!(v["n_steps"], 600);
    assert_eq!(v["dim"], 40);
    assert_eq!(v["gradient_dim"], 3);
    assert_eq!(v["chunks"], serde_json::json!([100, 16]));
    let group: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(group["attributes"]["anodiff"]["config"]["lr"], 0.1);
    assert_eq!(group["attributes"]["anodiff"]["subset_seed"], 5);
    let weights: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("weights/zarr.json")).unwrap())
            .unwrap();
    assert_eq!(
        weights["dimension_names"],
        serde_json::json!(["step", "param"])
    );

    let commands: [&[&str]; 3] = [
        &["msd", "--window", "200", "--lags", "log:12"],
        &["regime", "--window", "100", "--stride", "50"],
        &[
            "analyze",
            "--window",
            "300",
            "--bins",
            "10",
            "--grad-samples",
            "3",
        ],
    ];
    for args in commands {
        let (sub, rest) = args.split_first().unwrap();
        let on = |p: &Path| {
            let mut a: Vec<&str> = vec![s(p)];
            a.extend_from_slice(rest);
            let o = anodiff_sub(sub, &a);
            assert!(
                o.status.success(),
                "{sub}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            String::from_utf8(o.stdout).unwrap()
        };
        // Identical JSON but for the input path that `analyze` echoes.
        let parse = |text: String| -> serde_json::Value {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            if let Some(t) = v.get_mut("trajectory").and_then(|t| t.as_object_mut()) {
                assert!(t.remove("path").is_some());
            }
            v
        };
        let (a, b) = (parse(on(&run)), parse(on(&out)));
        assert!(!a.is_null());
        assert_eq!(
            a, b,
            "`anodiff {sub}` differs between the store and its Zarr copy"
        );
    }
    // A Zarr input converts again (to other chunks), attributes included.
    let again = dir.path().join("again.zarr");
    json(&anodiff(&["convert", s(&out), "--to", "zarr", s(&again)]));
    let g2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(g2["attributes"]["anodiff"]["config"]["model"], "mlp");
}

#[test]
fn damaged_zarr_fails_with_array_and_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let run = store(dir.path(), 200, 20);
    let out = dir.path().join("run.zarr");
    json(&anodiff(&[
        "convert",
        s(&run),
        "--to",
        "zarr",
        s(&out),
        "--chunks",
        "50,8",
    ]));
    // The output exists: a second conversion refuses to overwrite it.
    assert_fails(
        &anodiff(&["convert", s(&run), "--to", "zarr", s(&out)]),
        Exit::Failure,
        &["already exists"],
    );
    assert_fails(
        &anodiff(&[
            "convert",
            s(&run),
            "--to",
            "zarr",
            s(&dir.path().join("x.zarr")),
            "--chunks",
            "0,4",
        ]),
        Exit::Failure,
        &["--chunks"],
    );
    std::fs::remove_file(out.join("weights/c/2/1")).unwrap();
    assert_fails(
        &anodiff(&["msd", s(&out), "--window", "100"]),
        Exit::Failure,
        &[
            "array `weights`",
            "chunk [2, 1]",
            "steps 100..150, coordinates 8..16",
            "missing",
        ],
    );
    // An unfinished conversion (no group metadata) is not taken for a trajectory.
    std::fs::remove_file(out.join("zarr.json")).unwrap();
    assert_fails(
        &anodiff(&["msd", s(&out), "--window", "100"]),
        Exit::Failure,
        &["no zarr.json"],
    );
}

#[test]
fn compressed_conversions_give_identical_analyses() {
    let dir = tempfile::tempdir().unwrap();
    let run = store(dir.path(), 300, 20);
    let mut outputs = Vec::new();
    for compress in ["none", "zstd:3", "gzip:1"] {
        let out = dir
            .path()
            .join(format!("{}.zarr", compress.replace(':', "-")));
        let v = json(&anodiff(&[
            "convert",
            s(&run),
            "--to",
            "zarr",
            s(&out),
            "--chunks",
            "100,8",
            "--compress",
            compress,
        ]));
        assert_eq!(v["compression"], compress);
        // Values: 300 x (20 weights + 3 gradients) f32 and 300 f64 losses.
        assert_eq!(v["bytes"], 300 * 23 * 4 + 300 * 8);
        // Uncompressed chunk files hold whole chunks, edge chunks padded: weights 3 x 3 chunks of
        // 100 x 8 f32, gradients 3 chunks of 100 x 3 f32, losses 3 chunks of 100 f64.
        let padded = 9 * 100 * 8 * 4 + 3 * 100 * 3 * 4 + 3 * 100 * 8;
        let stored = v["stored_bytes"].as_u64().unwrap();
        if compress == "none" {
            assert_eq!(stored, padded);
        } else {
            // The NaN padding of edge chunks compresses to almost nothing.
            assert!(stored < padded - 3 * 100 * 4 * 4, "{compress}: {stored}");
        }
        let m = anodiff_sub("msd", &[s(&out), "--window", "100", "--lags", "log:8"]);
        assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
        outputs.push(m.stdout);
    }
    assert_eq!(outputs[1], outputs[0], "zstd conversion: different msd");
    assert_eq!(outputs[2], outputs[0], "gzip conversion: different msd");

    for (bad, needle) in [
        ("zstd:0", "zstd level 0 is out of range"),
        ("zstd:23", "use 1 (fastest) to 22"),
        ("gzip:10", "gzip level 10 is out of range"),
        ("blosc", "`blosc` is not a compression"),
    ] {
        let out = dir.path().join("bad.zarr");
        assert_fails(
            &anodiff(&[
                "convert",
                s(&run),
                "--to",
                "zarr",
                s(&out),
                "--compress",
                bad,
            ]),
            Exit::ErrorOrUsage,
            &[needle],
        );
        assert!(!out.exists());
    }
}
