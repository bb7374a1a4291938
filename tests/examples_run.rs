//! Runs the `examples/` programs as tests, so the code a new user copies keeps working: each
//! example asserts its own result (a stable fit recovers alpha; ballistic motion gives alpha = 2;
//! the golden MSD matches numpy's brute force) and fails by panicking or a failure exit code.

#[path = "../examples/fit_stable.rs"]
mod fit_stable;

#[path = "../examples/custom_source.rs"]
mod custom_source;

#[path = "../examples/golden_regression.rs"]
mod golden_regression;

#[test]
fn statistician_example_fits_and_tests() {
    fit_stable::main().expect("fit_stable example");
}

#[test]
fn trajectory_source_example_runs_end_to_end() {
    custom_source::main().expect("custom_source example");
}

#[test]
fn golden_regression_example_passes() {
    assert_eq!(golden_regression::main(), std::process::ExitCode::SUCCESS);
}
