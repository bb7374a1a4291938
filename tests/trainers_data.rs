//! Dataset readers, normalisation and batching of `anodiff-trainers` against independent
//! references.
//!
//! Golden values come from `fixtures/data/golden.py`, which reads the same fixture files with
//! Python's standard library (gzip, struct, csv) and `math.fsum`; its output is
//! `fixtures/data/golden.txt`. Each constant below quotes the line it comes from.

use std::io::Read;
use std::path::{Path, PathBuf};

use anodiff_trainers::data::{
    load, make_batch, read_cifar10_dir, read_cifar_batch, read_mnist_dir, Augment, BatchLoader,
    Dataset, DatasetSpec, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/data")
        .join(rel)
}

/// Pixel bytes back from `[0, 1]` floats: `b / 255` in f32 is within 3e-8 of the exact value, so
/// rounding `x * 255` recovers `b` exactly.
fn byte_sum(px: &[f32]) -> u64 {
    px.iter()
        .map(|&x| (f64::from(x) * 255.0).round() as u64)
        .sum()
}

fn label_counts(ds: &Dataset) -> Vec<usize> {
    (0..10)
        .map(|k| ds.labels.iter().filter(|&&l| l == k).count())
        .collect()
}

/// Relative agreement of f64 statistics accumulated from f32 pixels with golden values computed
/// from the exact fractions: each stored pixel carries a relative rounding error below 6e-8
/// (half an f32 ulp), so means and standard deviations agree to better than 1e-7 relative;
/// 1e-6 leaves a margin.
const STAT_RTOL: f64 = 1e-6;

fn close(got: f64, want: f64, rtol: f64, what: &str) {
    assert!(
        (got - want).abs() <= rtol * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// Standardised data are stored in f32: each value carries a relative error below 6e-8 and the
/// f64 mean of N of them is within about that of the exact one. 1e-6 absolute on a mean of 0 and
/// a standard deviation of 1 leaves a margin.
const NORM_ATOL: f64 = 1e-6;

#[test]
fn mnist_ci_matches_the_stdlib_reference() {
    let s = read_mnist_dir(&fixture("mnist-ci")).unwrap();
    // golden.txt: "mnist train: n=2000 rows=28 cols=28", "mnist t10k: n=1000 ..."
    assert_eq!((s.train.len(), s.test.len()), (2000, 1000));
    assert_eq!(s.train.image_shape(), [1, 28, 28]);
    // golden.txt: "mnist train: first 20 labels [...]"
    assert_eq!(
        &s.train.labels[..20],
        &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9]
    );
    assert_eq!(
        &s.test.labels[..20],
        &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4]
    );
    // golden.txt: "label counts"
    assert_eq!(
        label_counts(&s.train),
        [191, 220, 198, 191, 214, 180, 200, 224, 172, 210]
    );
    assert_eq!(
        label_counts(&s.test),
        [85, 126, 116, 107, 110, 87, 87, 99, 89, 94]
    );
    // golden.txt: "byte sum of image 0 = 27525, of all images = 52050445" (train), 18454 / 24443134 (t10k)
    assert_eq!(byte_sum(s.train.image(0)), 27525);
    assert_eq!(byte_sum(&s.train.images), 52_050_445);
    assert_eq!(byte_sum(s.test.image(0)), 18454);
    assert_eq!(byte_sum(&s.test.images), 24_443_134);
    // golden.txt: "mnist train: mean 0.1301781837735094 std 0.30769771867766443"
    let (m, sd) = s.train.channel_stats();
    close(m[0], 0.1301781837735094, STAT_RTOL, "train mean");
    close(sd[0], 0.30769771867766443, STAT_RTOL, "train std");
}

#[test]
fn mnist_load_standardises_both_splits_with_train_stats() {
    let s = load(&DatasetSpec::Mnist(fixture("mnist-ci"))).unwrap();
    let (m, sd) = s.train.channel_stats();
    assert!(
        m[0].abs() < NORM_ATOL && (sd[0] - 1.0).abs() < NORM_ATOL,
        "{m:?} {sd:?}"
    );
    // The test split is standardised with the TRAIN statistics (golden.txt, both splits):
    // mean (0.12226457583033214 - 0.1301781837735094) / 0.30769771867766443,
    // std 0.29838017811323675 / 0.30769771867766443.
    let (tm, tsd) = s.test.channel_stats();
    let want_m = (0.12226457583033214 - 0.1301781837735094) / 0.30769771867766443;
    let want_sd = 0.29838017811323675 / 0.30769771867766443;
    assert!((tm[0] - want_m).abs() < NORM_ATOL, "{tm:?} vs {want_m}");
    assert!((tsd[0] - want_sd).abs() < NORM_ATOL, "{tsd:?} vs {want_sd}");
}

/// Copies the mnist-ci fixture into `dir`, gunzipping the files listed in `plain` and renaming
/// with `rename`.
fn copy_mnist(dir: &Path, plain: &[&str], rename: impl Fn(&str) -> String) {
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        let gz = std::fs::read(fixture(&format!("mnist-ci/{name}.gz"))).unwrap();
        if plain.contains(&name) {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice())
                .read_to_end(&mut raw)
                .unwrap();
            std::fs::write(dir.join(rename(name)), raw).unwrap();
        } else {
            std::fs::write(dir.join(rename(&format!("{name}.gz"))), gz).unwrap();
        }
    }
}

#[test]
fn mnist_plain_gzipped_and_dotted_names_read_the_same() {
    let reference = read_mnist_dir(&fixture("mnist-ci")).unwrap();
    let d = tempfile::tempdir().unwrap();
    // Two plain, two gzipped, all with the dotted names some mirrors use.
    copy_mnist(
        d.path(),
        &["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        |n| n.replacen("-idx", ".idx", 1),
    );
    assert_eq!(read_mnist_dir(d.path()).unwrap(), reference);
    // A gzipped file without the .gz suffix is recognised by its magic bytes.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &[], |n| n.trim_end_matches(".gz").to_string());
    assert_eq!(read_mnist_dir(d.path()).unwrap(), reference);
}

#[test]
fn mnist_bad_files_are_named_with_the_problem() {
    // Truncated: the train images, decompressed, lose their last 100 bytes.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &["train-images-idx3-ubyte"], str::to_string);
    let p = d.path().join("train-images-idx3-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&p, &bytes).unwrap();
    let e = load(&DatasetSpec::Mnist(d.path().into()))
        .unwrap_err()
        .to_string();
    // 16 + 2000 * 784 = 1,568,016 bytes.
    for want in [
        "train-images-idx3-ubyte",
        "truncated",
        "1,568,016",
        "1,567,916",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }

    // Image/label count mismatch: the 1000 test labels beside the 2000 training images.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &[], str::to_string);
    std::fs::copy(
        d.path().join("t10k-labels-idx1-ubyte.gz"),
        d.path().join("train-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("2000 images") && e.contains("1000 labels") && e.contains("train-labels"),
        "{e}"
    );

    // Wrong magic: a label file where the images should be.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &[], str::to_string);
    std::fs::copy(
        d.path().join("t10k-labels-idx1-ubyte.gz"),
        d.path().join("t10k-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("t10k-images-idx3-ubyte.gz") && e.contains("magic") && e.contains("0x00000801"),
        "{e}"
    );

    // Label out of range: byte 8 (the first label) set to 10.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &["t10k-labels-idx1-ubyte"], str::to_string);
    let p = d.path().join("t10k-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[8] = 10;
    std::fs::write(&p, &bytes).unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("t10k-labels") && e.contains("label 10 at index 0"),
        "{e}"
    );

    // Missing file.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &[], str::to_string);
    std::fs::remove_file(d.path().join("t10k-images-idx3-ubyte.gz")).unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("missing") && e.contains("t10k-images-idx3-ubyte") && e.contains("7,840,016"),
        "{e}"
    );

    // Corrupt gzip stream.
    let d = tempfile::tempdir().unwrap();
    copy_mnist(d.path(), &[], str::to_string);
    let p = d.path().join("train-labels-idx1-ubyte.gz");
    let mut gz = std::fs::read(&p).unwrap();
    gz.truncate(gz.len() / 2);
    std::fs::write(&p, &gz).unwrap();
    let e = read_mnist_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("train-labels-idx1-ubyte.gz") && e.contains("gzip"),
        "{e}"
    );
}

#[test]
fn cifar_sample_matches_the_stdlib_reference() {
    let ds = read_cifar_batch(&fixture("cifar10-sample/test_batch.bin")).unwrap();
    assert_eq!(ds.image_shape(), [3, 32, 32]);
    // golden.txt: "cifar sample: n=20 labels [...]"; the first four are cat, ship, ship,
    // airplane in batches.meta.txt's order, the well-known start of the CIFAR-10 test set.
    assert_eq!(
        ds.labels,
        [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    );
    // golden.txt: "byte sums of images 0..3 = [332962, 476499, 407252]"
    let sums: Vec<u64> = (0..3).map(|i| byte_sum(ds.image(i))).collect();
    assert_eq!(sums, [332_962, 476_499, 407_252]);
    // golden.txt: "image 0 pixel (c2, y5, x7) = 41" (CHW layout)
    assert_eq!(ds.image(0)[2 * 1024 + 5 * 32 + 7], 41.0 / 255.0);
    // golden.txt: "channel c mean ... std ..."
    let (m, sd) = ds.channel_stats();
    let want = [
        (0.48973613664215687, 0.24930185384512696),
        (0.47436159620098034, 0.2473959114888515),
        (0.4504737285539216, 0.262300702288023),
    ];
    for (c, (wm, ws)) in want.into_iter().enumerate() {
        close(m[c], wm, STAT_RTOL, &format!("channel {c} mean"));
        close(sd[c], ws, STAT_RTOL, &format!("channel {c} std"));
    }
}

/// A CIFAR-10 directory whose six batches are each the 20-image sample.
fn synthetic_cifar_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let sample = std::fs::read(fixture("cifar10-sample/test_batch.bin")).unwrap();
    for name in CIFAR10_TRAIN_FILES.iter().chain([&CIFAR10_TEST_FILE]) {
        std::fs::write(d.path().join(name), &sample).unwrap();
    }
    d
}

#[test]
fn cifar_directory_loads_and_standardises_per_channel() {
    let d = synthetic_cifar_dir();
    let raw = read_cifar10_dir(d.path()).unwrap();
    assert_eq!((raw.train.len(), raw.test.len()), (100, 20));
    assert_eq!(&raw.train.labels[20..24], &[3, 8, 8, 0]);
    let s = load(&DatasetSpec::Cifar10(d.path().into())).unwrap();
    // Train = five copies of the sample, so both splits have the sample's statistics and both
    // standardise to mean 0, std 1 in every channel.
    for split in [&s.train, &s.test] {
        let (m, sd) = split.channel_stats();
        for c in 0..3 {
            assert!(
                m[c].abs() < NORM_ATOL && (sd[c] - 1.0).abs() < NORM_ATOL,
                "{m:?} {sd:?}"
            );
        }
    }
    // Pixel (c2, y5, x7) of image 0 is 41/255, standardised by channel 2's golden stats.
    let want = (41.0 / 255.0 - 0.4504737285539216) / 0.262300702288023;
    assert!((f64::from(s.test.image(0)[2 * 1024 + 5 * 32 + 7]) - want).abs() < 1e-6);
}

#[test]
fn cifar_bad_directories_are_named_with_the_problem() {
    let d = synthetic_cifar_dir();
    std::fs::remove_file(d.path().join("data_batch_2.bin")).unwrap();
    std::fs::remove_file(d.path().join("test_batch.bin")).unwrap();
    let e = read_cifar10_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("data_batch_2.bin, test_batch.bin") && e.contains("30,730,000"),
        "{e}"
    );

    let d = synthetic_cifar_dir();
    let p = d.path().join("data_batch_4.bin");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 1000]).unwrap();
    let e = load(&DatasetSpec::Cifar10(d.path().into()))
        .unwrap_err()
        .to_string();
    // 61,460 - 1,000 bytes is not a multiple of 3,073.
    for want in ["data_batch_4.bin", "60,460 bytes", "3,073", "30,730,000"] {
        assert!(e.contains(want), "{want}: {e}");
    }

    let d = synthetic_cifar_dir();
    let p = d.path().join("test_batch.bin");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[3 * 3073] = 200;
    std::fs::write(&p, &bytes).unwrap();
    let e = read_cifar10_dir(d.path()).unwrap_err().to_string();
    assert!(
        e.contains("test_batch.bin") && e.contains("label 200 of record 3"),
        "{e}"
    );
}

#[test]
fn digits_load_without_a_path_and_match_the_reference() {
    // Run from a different directory: the set is compiled in.
    let here = std::env::current_dir().unwrap();
    std::env::set_current_dir(std::env::temp_dir()).unwrap();
    let s = load(&DatasetSpec::Digits);
    std::env::set_current_dir(here).unwrap();
    let s = s.unwrap();
    // golden.txt: "digits: n_train=1437 n_test=360"
    assert_eq!((s.train.len(), s.test.len()), (1437, 360));
    assert_eq!(s.train.image_shape(), [1, 8, 8]);
    // golden.txt: "train label counts", "test label counts"
    assert_eq!(
        label_counts(&s.train),
        [143, 146, 142, 146, 144, 145, 144, 143, 141, 143]
    );
    assert_eq!(
        label_counts(&s.test),
        [35, 36, 35, 37, 37, 37, 37, 36, 33, 37]
    );
    // Standardised train split: mean 0, std 1.
    let (m, sd) = s.train.channel_stats();
    assert!(
        m[0].abs() < NORM_ATOL && (sd[0] - 1.0).abs() < NORM_ATOL,
        "{m:?} {sd:?}"
    );
    // golden.txt: "test standardised with train stats: mean -0.00167262624922757 std 1.0071846543724114"
    let (tm, tsd) = s.test.channel_stats();
    assert!((tm[0] - -0.00167262624922757).abs() < NORM_ATOL, "{tm:?}");
    assert!((tsd[0] - 1.0071846543724114).abs() < NORM_ATOL, "{tsd:?}");
    // Row 0 back in counts: golden.txt "digits: rows=1797 row 0 = [...]", with the train
    // stats "mean 0.30538611256089077 std 0.37550710883075805".
    let row0 = [
        0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0,
        0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0,
        0, 6, 13, 10, 0, 0, 0,
    ];
    let counts: Vec<i64> = s
        .train
        .image(0)
        .iter()
        .map(|&z| {
            ((f64::from(z) * 0.37550710883075805 + 0.30538611256089077) * 16.0).round() as i64
        })
        .collect();
    assert_eq!(counts, row0);
    assert_eq!(s.train.labels[0], 0);
}

#[test]
fn loader_epochs_cover_distinct_images_and_depend_on_the_seed() {
    let s = load(&DatasetSpec::Digits).unwrap();
    let l = BatchLoader::new(s.train.len(), 128, 11).unwrap();
    // 1437 = 11 * 128 + 29: eleven batches, 29 images dropped per epoch.
    assert_eq!(l.batches_per_epoch(), 11);
    for epoch in 0..3 {
        let mut seen: Vec<usize> = (epoch * 11..(epoch + 1) * 11)
            .flat_map(|st| l.indices(st))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1408, "epoch {epoch} repeats an image");
        assert!(seen.iter().all(|&i| i < 1437));
    }
    let other = BatchLoader::new(s.train.len(), 128, 12).unwrap();
    assert_ne!(l.indices(0), other.indices(0));
    let b1 = make_batch(&s.train, &l.indices(5), None, 11, 5);
    let b2 = make_batch(
        &s.train,
        &BatchLoader::new(1437, 128, 11).unwrap().indices(5),
        None,
        11,
        5,
    );
    assert_eq!(b1, b2);
    assert_eq!(b1.shape, [128, 1, 8, 8]);
}

/// Reference crop-and-flip written the obvious way: build the padded image, slice the window,
/// reverse each row.
fn reference_augment(img: &[f32], pad: usize, dy: usize, dx: usize, flip: bool) -> Vec<f32> {
    let (c, h, w) = (3, 32, 32);
    let (ph, pw) = (h + 2 * pad, w + 2 * pad);
    let mut padded = vec![0.0f32; c * ph * pw];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                padded[(ch * ph + y + pad) * pw + x + pad] = img[(ch * h + y) * w + x];
            }
        }
    }
    let mut out = Vec::with_capacity(c * h * w);
    for ch in 0..c {
        for y in 0..h {
            let row: Vec<f32> = (0..w)
                .map(|x| padded[(ch * ph + y + dy) * pw + x + dx])
                .collect();
            if flip {
                out.extend(row.iter().rev());
            } else {
                out.extend(row);
            }
        }
    }
    out
}

#[test]
fn cifar_augmentation_is_a_crop_and_flip_of_the_original() {
    let ds = read_cifar_batch(&fixture("cifar10-sample/test_batch.bin")).unwrap();
    let aug = Augment::CIFAR;
    assert_eq!((aug.crop_padding, aug.flip), (4, true));
    let idx: Vec<usize> = (0..20).collect();
    let mut offsets = std::collections::HashSet::new();
    let mut flips = 0;
    for step in 0..5 {
        let b = make_batch(&ds, &idx, Some(&aug), 99, step);
        assert_eq!(b, make_batch(&ds, &idx, Some(&aug), 99, step));
        for (k, &i) in idx.iter().enumerate() {
            let got = &b.images[k * 3072..(k + 1) * 3072];
            // Exactly one of the 9 x 9 x 2 candidates can match a natural image; find it.
            let hits: Vec<(usize, usize, bool)> = (0..9)
                .flat_map(|dy| (0..9).flat_map(move |dx| [(dy, dx, false), (dy, dx, true)]))
                .filter(|&(dy, dx, f)| reference_augment(ds.image(i), 4, dy, dx, f) == got)
                .collect();
            assert_eq!(hits.len(), 1, "step {step} image {i}: {hits:?}");
            let (dy, dx, f) = hits[0];
            offsets.insert((dy, dx));
            flips += usize::from(f);
        }
    }
    // 100 draws: flips are Binomial(100, 1/2) (P(outside 25..=75) < 1e-6), and the 81 offsets
    // should show well over 30 distinct values (expected about 58).
    assert!((25..=75).contains(&flips), "{flips} flips in 100");
    assert!(offsets.len() > 30, "{} distinct offsets", offsets.len());
    // Augmentation keeps labels and shape, and a different seed gives a different batch.
    let a = make_batch(&ds, &idx, Some(&aug), 1, 0);
    assert_eq!(a.labels, ds.labels);
    assert_ne!(a, make_batch(&ds, &idx, Some(&aug), 2, 0));
}

/// Full MNIST, when at hand: `ANODIFF_MNIST_DIR=/path/to/mnist cargo test --test trainers_data
/// -- --ignored` (defaults to the workspace's `../shared/data/mnist`). Ignored by default because
/// the 11 MB set is not in the repository; `mnist_ci_matches_the_stdlib_reference` runs the same
/// reader on the bundled subset.
#[test]
#[ignore = "needs the full MNIST files (ANODIFF_MNIST_DIR)"]
fn full_mnist_matches_published_figures() {
    let dir = std::env::var_os("ANODIFF_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist"));
    let s = read_mnist_dir(&dir).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
    // Class counts of the canonical files (LeCun et al.; e.g. torchvision's MNIST targets).
    assert_eq!(
        label_counts(&s.train),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        label_counts(&s.test),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The widely used normalisation constants 0.1307 / 0.3081 are the training split's mean and
    // population std, quoted to 4 decimals.
    let (m, sd) = s.train.channel_stats();
    assert!(
        (m[0] - 0.1307).abs() < 5e-5 && (sd[0] - 0.3081).abs() < 5e-5,
        "{m:?} {sd:?}"
    );
}
