//! The on-disk trajectory store: round trips against an in-memory reference, a store written by
//! numpy alone (fixtures/trajectory/store_numpy, make_store_fixture.py), crash safety under
//! `kill -9` with resume, and the bad-input contract (truncated chunk, manifest disagreeing with
//! its chunks, missing chunk, NaN weights): errors name the file and the step, never a panic.

use anodiff_core::trajectory::store::{Manifest, StoreOptions, StoreReader, StoreWriter};
use anodiff_core::trajectory::{InMemoryTrajectory, Step, TrajectorySink, TrajectorySource};
use std::path::{Path, PathBuf};

/// Weight of step t, coordinate c: an integer below 2^24, exact in f32.
fn w(t: usize, c: usize) -> f32 {
    (t * 1000 + c) as f32
}

fn g(t: usize, j: usize) -> f32 {
    -((t * 10 + j) as f32)
}

fn write_store(dir: &Path, n: usize, dim: usize, gdim: usize, chunk: usize) -> StoreWriter {
    let mut opts = StoreOptions::new(dim)
        .with_chunk_steps(chunk)
        .with_sync(false)
        .with_metadata(serde_json::json!({"test": true}));
    if gdim > 0 {
        opts = opts.with_gradient_dim(gdim);
    }
    let mut s = StoreWriter::create(dir, opts).unwrap();
    append_range(&mut s, 0..n, dim, gdim);
    s
}

fn append_range(
    s: &mut impl TrajectorySink,
    steps: std::ops::Range<usize>,
    dim: usize,
    gdim: usize,
) {
    for t in steps {
        let wt: Vec<f32> = (0..dim).map(|c| w(t, c)).collect();
        let gt: Vec<f32> = (0..gdim).map(|j| g(t, j)).collect();
        s.append(&Step {
            weights: &wt,
            loss: t as f64 + 0.5,
            gradient: (gdim > 0).then_some(&gt[..]),
        })
        .unwrap();
    }
}

fn reference(n: usize, dim: usize, gdim: usize) -> InMemoryTrajectory {
    let mut r = InMemoryTrajectory::with_gradient_dim(dim, gdim);
    append_range(&mut r, 0..n, dim, gdim);
    r
}

fn block(
    src: &dyn TrajectorySource,
    s: std::ops::Range<usize>,
    c: std::ops::Range<usize>,
) -> Vec<f32> {
    let mut out = vec![0.0; s.len() * c.len()];
    src.read_weights(s, c, &mut out).unwrap();
    out
}

#[test]
fn round_trip_matches_in_memory_reference_across_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let (n, dim, gdim) = (23, 9, 4);
    write_store(dir.path(), n, dim, gdim, 5).finish().unwrap();
    let store = StoreReader::open(dir.path()).unwrap();
    let r = reference(n, dim, gdim);
    assert_eq!(
        (store.n_steps(), store.dim(), store.gradient_dim()),
        (n, dim, gdim)
    );
    for (s, c) in [
        (0..23, 0..9),
        (3..17, 2..7),
        (4..6, 0..1),
        (20..23, 8..9),
        (5..5, 0..9),
    ] {
        assert_eq!(block(&store, s.clone(), c.clone()), block(&r, s, c));
    }
    let mut gs = vec![0.0; 12];
    store.read_gradients(8..11, 0..4, &mut gs).unwrap();
    let mut gr = vec![0.0; 12];
    r.read_gradients(8..11, 0..4, &mut gr).unwrap();
    assert_eq!(gs, gr);
    assert_eq!(store.losses(0..n).unwrap(), r.losses(0..n).unwrap());
    assert_eq!(store.metadata()["test"], serde_json::json!(true));
    store.validate().unwrap();
    // finish() shrank the last chunk to its 3 committed rows: header and length agree.
    let last = std::fs::read(dir.path().join("weights_000004.npy")).unwrap();
    let header_len = last.len() - 3 * dim * 4;
    assert!(String::from_utf8_lossy(&last[..header_len]).contains("(3, 9)"));
}

#[test]
fn reads_store_written_by_numpy_and_never_shows_uncommitted_rows() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/trajectory/store_numpy");
    let s = StoreReader::open(&fixture).unwrap();
    assert_eq!((s.n_steps(), s.dim(), s.gradient_dim()), (10, 3, 2));
    assert_eq!(s.manifest().subset_seed, Some(1234));
    // make_store_fixture.py: w = t + c/4, loss = 1/(t+1), gradient -(t+j)/2.
    let all = block(&s, 0..10, 0..3);
    for t in 0..10 {
        for c in 0..3 {
            assert_eq!(all[t * 3 + c], t as f32 + c as f32 / 4.0);
        }
    }
    let losses = s.losses(0..10).unwrap().unwrap();
    for (t, l) in losses.iter().enumerate() {
        assert_eq!(*l, 1.0 / (t as f64 + 1.0));
    }
    let mut gr = vec![0.0; 20];
    s.read_gradients(0..10, 0..2, &mut gr).unwrap();
    assert_eq!(gr[19], -(9.0 + 1.0) / 2.0);
    // The uncommitted NaN rows of the last chunk are invisible; validation passes.
    s.validate().unwrap();
    assert!(s.read_weights(9..11, 0..3, &mut [0.0; 6]).is_err());

    // Resume a copy: the next steps overwrite the garbage rows and start a new chunk.
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&fixture).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let mut wr = StoreWriter::resume(dir.path(), false).unwrap();
    assert_eq!(wr.len(), 10);
    for t in 10..13 {
        let wt = [t as f32, t as f32 + 0.25, t as f32 + 0.5];
        wr.append(&Step {
            weights: &wt,
            loss: 1.0 / (t as f64 + 1.0),
            gradient: Some(&[0.0, 0.0]),
        })
        .unwrap();
    }
    wr.finish().unwrap();
    let s = StoreReader::open(dir.path()).unwrap();
    assert_eq!(s.n_steps(), 13);
    assert_eq!(s.manifest().chunks.len(), 4);
    assert_eq!(block(&s, 10..13, 2..3), vec![10.5, 11.5, 12.5]);
    s.validate().unwrap();
}

#[test]
fn resume_after_finish_and_after_uncommitted_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (dim, gdim) = (6, 0);
    write_store(dir.path(), 7, dim, gdim, 4).finish().unwrap();
    let mut s = StoreWriter::resume(dir.path(), false).unwrap();
    append_range(&mut s, 7..10, dim, gdim);
    drop(s); // like a crash right after a commit
             // Scribble an uncommitted row (step 10 = row 2 of chunk 2), as a killed writer would.
    {
        use std::io::{Seek, SeekFrom, Write};
        let p = dir.path().join("weights_000002.npy");
        let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        let len = f.metadata().unwrap().len();
        let hdr = len - 4 * dim as u64 * 4;
        f.seek(SeekFrom::Start(hdr + 2 * dim as u64 * 4)).unwrap();
        f.write_all(&f32::NAN.to_le_bytes()).unwrap();
        // And an orphan chunk the manifest never listed.
        std::fs::write(dir.path().join("weights_000003.npy"), b"junk").unwrap();
    }
    let r = StoreReader::open(dir.path()).unwrap();
    assert_eq!(r.n_steps(), 10);
    r.validate().unwrap();
    let mut s = StoreWriter::resume(dir.path(), false).unwrap();
    assert!(!dir.path().join("weights_000003.npy").exists());
    append_range(&mut s, 10..14, dim, gdim);
    s.finish().unwrap();
    let r = StoreReader::open(dir.path()).unwrap();
    let refr = reference(14, dim, gdim);
    assert_eq!(block(&r, 0..14, 0..dim), block(&refr, 0..14, 0..dim));
    assert_eq!(r.losses(0..14).unwrap(), refr.losses(0..14).unwrap());
}

fn err_open(dir: &Path) -> String {
    StoreReader::open(dir).unwrap_err().to_string()
}

fn edit_manifest(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn truncated_chunk_mid_step_names_file_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 5;
    write_store(dir.path(), 9, dim, 0, 4).finish().unwrap();
    // Chunk 1 holds steps 4..8; cut it in the middle of step 6 (row 2).
    let p = dir.path().join("weights_000001.npy");
    let len = std::fs::metadata(&p).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(len - (dim as u64 * 4) - 8).unwrap();
    let e = err_open(dir.path());
    assert!(
        e.contains("weights_000001.npy") && e.contains("truncated"),
        "{e}"
    );
    assert!(e.contains("step 6 is the first incomplete"), "{e}");
    assert!(StoreWriter::resume(dir.path(), false).is_err());
}

#[test]
fn manifest_disagreeing_with_chunks() {
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), 9, 3, 0, 4).finish().unwrap();

    edit_manifest(dir.path(), |m| m["n_steps"] = 12.into());
    let e = err_open(dir.path());
    assert!(
        e.contains("manifest.json") && e.contains("n_steps is 12") && e.contains("hold 9"),
        "{e}"
    );

    // Last chunk claims more steps than its (finished, exact-size) file has rows.
    edit_manifest(dir.path(), |m| {
        m["n_steps"] = 11.into();
        m["chunks"][2]["steps"] = 3.into();
    });
    let e = err_open(dir.path());
    assert!(
        e.contains("weights_000002.npy") && e.contains("step 9 is missing"),
        "{e}"
    );

    edit_manifest(dir.path(), |m| {
        m["n_steps"] = 9.into();
        m["chunks"][2]["steps"] = 1.into();
        m["dim"] = 4.into();
    });
    let e = err_open(dir.path());
    assert!(
        e.contains("weights_000000.npy") && e.contains("[4, 3]") && e.contains("(rows, 4)"),
        "{e}"
    );

    edit_manifest(dir.path(), |m| {
        m["dim"] = 3.into();
        m["schema_version"] = 7.into();
    });
    assert!(err_open(dir.path()).contains("schema_version 7"));

    edit_manifest(dir.path(), |m| m["schema_version"] = 1.into());
    std::fs::remove_file(dir.path().join("losses_000001.npy")).unwrap();
    let e = err_open(dir.path());
    assert!(
        e.contains("losses_000001.npy")
            && e.contains("missing chunk file")
            && e.contains("steps 4..8"),
        "{e}"
    );

    std::fs::write(dir.path().join("manifest.json"), "{\"format\": ").unwrap();
    assert!(err_open(dir.path()).contains("not a valid store manifest"));
    let e = err_open(&dir.path().join("nope"));
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn nan_weight_in_committed_row_names_file_step_and_coordinate() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let dim = 4;
    write_store(dir.path(), 8, dim, 0, 4).finish().unwrap();
    // Step 6 = row 2 of chunk 1, coordinate 3.
    let p = dir.path().join("weights_000001.npy");
    let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    let hdr = f.metadata().unwrap().len() - 4 * dim as u64 * 4;
    f.seek(SeekFrom::Start(hdr + (2 * dim as u64 + 3) * 4))
        .unwrap();
    f.write_all(&f32::INFINITY.to_le_bytes()).unwrap();
    drop(f);
    let s = StoreReader::open(dir.path()).unwrap();
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("weights_000001.npy") && e.contains("step 6, coordinate 3") && e.contains("inf"),
        "{e}"
    );
    assert_eq!(block(&s, 0..6, 0..4).len(), 24); // steps before it still read
}

#[test]
fn writer_rejects_bad_steps_without_committing_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = write_store(dir.path(), 2, 3, 1, 4);
    let bad_w = [1.0, f32::NAN, 0.0];
    let e = s
        .append(&Step {
            weights: &bad_w,
            loss: 1.0,
            gradient: Some(&[0.0]),
        })
        .unwrap_err();
    assert!(e.to_string().contains("step 2, coordinate 1"), "{e}");
    assert!(s
        .append(&Step {
            weights: &[0.0; 2],
            loss: 1.0,
            gradient: Some(&[0.0])
        })
        .is_err());
    assert!(s
        .append(&Step {
            weights: &[0.0; 3],
            loss: 1.0,
            gradient: None
        })
        .is_err());
    assert!(s
        .append(&Step {
            weights: &[0.0; 3],
            loss: f64::INFINITY,
            gradient: Some(&[0.0])
        })
        .is_err());
    assert_eq!(s.len(), 2);
    assert_eq!(Manifest::read(dir.path()).unwrap().n_steps, 2);
    let e = StoreWriter::create(dir.path(), StoreOptions::new(3))
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    assert!(StoreWriter::create(dir.path().join("x"), StoreOptions::new(0)).is_err());
}

// ---- crash safety: a child process appends, the parent kills it with SIGKILL -----------------

const CHILD_ENV: &str = "ANODIFF_STORE_KILL_CHILD_DIR";
const KILL_DIM: usize = 2000;

/// Not a test on its own: the body of the child process of `kill_9_loses_at_most_the_step_in_flight`.
#[test]
fn store_kill_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    use std::io::Write;
    let dir = PathBuf::from(dir);
    let mut s = if dir.join("manifest.json").exists() {
        StoreWriter::resume(&dir, true).unwrap()
    } else {
        StoreWriter::create(&dir, StoreOptions::new(KILL_DIM).with_chunk_steps(7)).unwrap()
    };
    let mut out = std::io::stdout();
    for t in s.len()..1_000_000 {
        append_range(&mut s, t..t + 1, KILL_DIM, 0);
        writeln!(out, "committed {}", t + 1).unwrap();
        out.flush().unwrap();
    }
}

#[cfg(unix)]
#[test]
fn kill_9_loses_at_most_the_step_in_flight() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut prev = 0usize;
    // Kill delays spread over a step's duration (a step with fsync takes ~1-10 ms here), so the
    // kill lands in different phases: row writes, syncs, manifest rename.
    for (round, delay_us) in [0u64, 1300, 2900, 4700, 7100, 9700].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "store_kill_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &run)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0usize;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("committed ") {
                    last = n.trim().parse().unwrap();
                }
            }
            last
        });
        // Let it write a few steps (more each round), then SIGKILL at an arbitrary moment.
        let start = std::time::Instant::now();
        loop {
            let n = Manifest::read(&run).map(|m| m.n_steps).unwrap_or(0);
            if n >= prev + 5 + round * 3 || start.elapsed().as_secs() > 60 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::thread::sleep(std::time::Duration::from_micros(delay_us));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let reported = reader.join().unwrap();
        let s = StoreReader::open(&run).unwrap();
        let n = s.n_steps();
        assert!(n > prev, "round {round}: no progress ({n} steps)");
        // Every step the writer reported committed is there; at most the one in flight more.
        assert!(
            n == reported || n == reported + 1,
            "round {round}: store {n}, reported {reported}"
        );
        let r = reference(n, KILL_DIM, 0);
        assert_eq!(
            block(&s, 0..n, 0..KILL_DIM),
            block(&r, 0..n, 0..KILL_DIM),
            "round {round}"
        );
        assert_eq!(s.losses(0..n).unwrap(), r.losses(0..n).unwrap());
        eprintln!("round {round}: store {n} steps, child reported {reported}");
        prev = n;
    }
}

/// Not a check on its own: with `ANODIFF_STORE_EXPORT=DIR` set, writes `DIR/unfinished` (a store
/// as a crash leaves it: last chunk preallocated past its committed steps) and `DIR/finished`
/// for the numpy cross-check `fixtures/trajectory/check_store_numpy.py` (weights t*1000 + c,
/// 11 steps x 5, chunks of 4: sum 275110, losses t + 0.5: sum 60.5; numpy 2.4.6 printed exactly
/// these for both stores).
#[test]
fn export_store_for_numpy_check() {
    let Ok(dir) = std::env::var("ANODIFF_STORE_EXPORT") else {
        return;
    };
    let dir = PathBuf::from(dir);
    drop(write_store(&dir.join("unfinished"), 11, 5, 2, 4));
    write_store(&dir.join("finished"), 11, 5, 2, 4)
        .finish()
        .unwrap();
}

/// Cutting any chunk file of a store (finished or not) at any length, or the manifest at any
/// length, gives an error or a store whose committed steps all read back exactly: never a
/// panic, never wrong values.
#[test]
fn every_truncation_of_every_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (n, dim, gdim) = (6, 3, 1);
    let refr = reference(n, dim, gdim);
    for finished in [false, true] {
        let run = dir.path().join(format!("run_{finished}"));
        let w = write_store(&run, n, dim, gdim, 4);
        if finished {
            w.finish().unwrap();
        } else {
            drop(w);
        }
        let mut names: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for name in names {
            let p = run.join(&name);
            let orig = std::fs::read(&p).unwrap();
            // Cut from the end (set_len, not rewrite: ext4 flushes files rewritten from zero
            // length, which made this test slow).
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            for len in (0..orig.len()).rev() {
                f.set_len(len as u64).unwrap();
                match StoreReader::open(&run) {
                    Err(e) => {
                        let e = e.to_string();
                        assert!(e.contains(&name), "{name} cut to {len}: {e}");
                    }
                    Ok(s) => {
                        // Only uncommitted tail bytes were cut.
                        assert_eq!(s.n_steps(), n, "{name} cut to {len}");
                        assert_eq!(block(&s, 0..n, 0..dim), block(&refr, 0..n, 0..dim));
                        assert_eq!(s.losses(0..n).unwrap(), refr.losses(0..n).unwrap());
                    }
                }
            }
            drop(f);
            std::fs::write(&p, &orig).unwrap();
        }
    }
}
