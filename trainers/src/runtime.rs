//! Process-wide settings that make CPU training fast: call [`tune_cpu_runtime`] once at the
//! start of a program, before any candle operation.
//!
//! Two costs dominated a ResNet-20 CPU step (batch 128, 2 threads) besides the convolutions
//! themselves, as measured with `perf`:
//! - candle 0.11 runs large elementwise ops on a barrier pool of its own, beside rayon's pool
//!   that our convolutions and gemm use. Its worker spins while rayon's threads compute, and the
//!   caller spins waiting for it: about 11 % of the step's CPU samples sat in that wait. With
//!   `CANDLE_NUM_THREADS=1` the pool has no workers, and the elementwise ops (mostly candle's
//!   gradient accumulation, which is memory-bound) run inline.
//! - glibc's malloc serves every activation-sized buffer (2-8 MB) with a fresh `mmap` and
//!   returns it on free, so every step faulted in its memory page by page again (about 11 % of
//!   the samples). Raising the mmap and trim thresholds keeps those buffers in the heap for reuse.

/// Sets `CANDLE_NUM_THREADS=1` unless the caller set it, and (on glibc) keeps freed buffers of up
/// to 32 MB in the heap instead of unmapping them. Neither changes any result: candle's
/// elementwise ops give the same values on any number of threads, and the allocator only
/// decides where memory comes from.
///
/// Call it first thing in `main`, while the process has one thread: it writes an environment
/// variable, which is unsound while other threads may read the environment, and candle reads
/// the variable once, when its pool first starts.
///
/// # Examples
/// ```
/// anodiff_trainers::runtime::tune_cpu_runtime();
/// assert!(std::env::var("CANDLE_NUM_THREADS").is_ok());
/// ```
pub fn tune_cpu_runtime() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // 32 MiB is glibc's largest allowed mmap threshold on 64-bit; the trim threshold and the
        // top pad keep the freed heap top for the next step rather than returning it.
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 1 << 30;
        const TOP_PAD: libc::c_int = 64 << 20;
        // SAFETY: mallopt only changes allocator parameters; it is documented as safe to call
        // at any time, and a rejected value (return 0) leaves the default in place.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
            libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
        }
    }
}
