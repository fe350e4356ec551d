//! Hints that bring memory into the caches ahead of its use. A merge of many views reads
//! a little of each view's sketches, each in memory of its own that the processor has
//! not touched for a while: waiting for it was about a third of the time of a merge of
//! 1,000 views. Asking for the next view's memory while merging this one hides part of
//! that wait (`benches/RESULTS.md`).

/// Asks the processor to bring the memory of `items` into its caches, a line at a
/// time, without waiting for it: a hint, with no effect on any result (and none where
/// it is not supported). The merges of many views ask for what the next one reads.
#[inline]
pub(crate) fn slice<T>(items: &[T]) {
    let (start, bytes) = (items.as_ptr().cast::<u8>(), std::mem::size_of_val(items));
    for offset in (0..bytes).step_by(64) {
        prefetch_line(start.wrapping_add(offset));
    }
}

/// [`slice`] of the lines holding `item`.
#[inline]
pub(crate) fn one<T>(item: &T) {
    slice(std::slice::from_ref(item));
}

#[inline(always)]
fn prefetch_line(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: SSE is part of x86_64, and a prefetch reads nothing the program sees and
    // never faults (the callers' addresses are within their slices anyway).
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
