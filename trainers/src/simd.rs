//! Runtime selection of wider vector instructions for the elementwise CPU kernels.
//!
//! The crate is compiled for baseline x86-64 (SSE2), so that one binary runs everywhere, and
//! the auto-vectorised loops of batch norm, the masks and the column unfolding then move four
//! f32 (two f64) at a time. gemm picks AVX2 or AVX-512 at run time by itself; our loops do the
//! same in two ways: the hottest ones (batch norm's backward sums and input gradient, the
//! column folding of the convolution's input gradient) are `#[inline(always)]` functions called
//! from a `#[target_feature(enable = "avx2,fma")]` wrapper when [`has_avx2`] says so; smaller
//! elementwise passes go through [`with_avx2`], whose closure LLVM usually, but not always,
//! inlines into such a wrapper. Results do not change: Rust never fuses a multiply and an add
//! into an FMA on its own, and the kernels fix their summation order with explicit lanes, so
//! both versions compute the same operations in the same order.

/// Whether this CPU has AVX2 and FMA (always false off x86-64). `std` caches the answer.
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `f` inside a function compiled with AVX2 and FMA when this CPU supports them (x86-64),
/// else as is; `f` gets the wider instructions where LLVM inlines it there.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            #[target_feature(enable = "avx2,fma")]
            fn run<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: the CPU supports every feature `run` is compiled with (checked above).
            return unsafe { run(f) };
        }
    }
    f()
}
