//! Parallel loops on candle's own CPU thread pool.
//!
//! candle 0.11 runs its element-wise CPU ops on a spinning "barrier pool" (the calling thread
//! plus `RAYON_NUM_THREADS - 1` workers). Running our kernels on a second pool (rayon's) left
//! two sets of threads competing for the cores at every hand-over between a candle op and one of
//! ours, with one set spinning while the other worked. The helpers below run our loops on
//! candle's pool instead. Each item's result is independent of which thread runs it, so the
//! results are the same for any number of threads.

use candle_core::utils::barrier_pool;
use std::ops::Range;
use std::sync::Mutex;

/// Calls `f` on disjoint ranges covering `0..n`, in parallel (the caller's thread included).
pub(crate) fn for_each_range(n: usize, f: impl Fn(Range<usize>) + Sync) {
    #[cfg(test)]
    if SERIAL.with(|s| s.get()) {
        if n > 0 {
            f(0..n);
        }
        return;
    }
    barrier_pool().execute_chunked(n, f);
}

#[cfg(test)]
thread_local! {
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every loop above on one thread, in index order (the single-thread case), for
/// tests that compare it bit for bit with the pooled run. Affects only the calling thread.
#[cfg(test)]
pub(crate) fn serial<R>(f: impl FnOnce() -> R) -> R {
    SERIAL.with(|s| s.set(true));
    let r = f();
    SERIAL.with(|s| s.set(false));
    r
}

/// The mutable chunks (`chunk` long, the last possibly shorter) of `data`, shared out to
/// [`for_each_range`]: `f(range, chunks)` gets the chunks whose indices are in `range`.
pub(crate) fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(Range<usize>, &mut [&mut [T]]) + Sync,
) {
    // One lock per range task; each chunk is taken by exactly one task.
    let parts: Vec<Mutex<Option<&mut [T]>>> = data
        .chunks_mut(chunk.max(1))
        .map(|c| Mutex::new(Some(c)))
        .collect();
    for_each_range(parts.len(), |r| {
        let mut mine: Vec<&mut [T]> = r
            .clone()
            .filter_map(|i| parts[i].lock().unwrap_or_else(|e| e.into_inner()).take())
            .collect();
        f(r, &mut mine);
    });
}

/// `(0..n).map(f)` computed in parallel, in index order.
pub(crate) fn map_indices<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    for_each_range(n, |r| {
        for i in r {
            let v = f(i);
            *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        }
    });
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}
