//! Distinct-value estimates: HyperLogLog with a sparse exact mode, over the fixed hash of
//! [`crate::hash`].
//!
//! # Design
//!
//! This is the HyperLogLog++ layout (Heule, Nunkesser, Hall, 2013) with Ertl's improved
//! estimator (Ertl, 2017, "New cardinality estimation algorithms for HyperLogLog
//! sketches") instead of HLL++'s empirical bias tables:
//!
//! - **sparse** while few distinct hashes were seen: each hash keeps its top 25 bits
//!   (index) and the rank of the rest, in a sorted list of `u32` codes; the estimate is
//!   linear counting over 2²⁵ buckets, exact to a fraction of a percent. Up to
//!   [`Cardinality::SPARSE_MAX`] codes (4 KiB). In memory the codes sort by the part of
//!   the index that sets the dense value first, so that merging a sparse sketch into
//!   dense registers reads only the prefix of its list that can raise one; files keep
//!   the hashes' own order.
//! - **dense** after that: 2¹² one-byte registers (4 KiB in memory, 3 KiB serialized
//!   packed at 6 bits), relative standard error `1.04 / 64 ≈ 1.6 %` — and, beside them
//!   while at most half its bits are set (up to about 45,000 distinct hashes), a
//!   **linear-counting bitmap** of 2¹⁶ bits (8 KiB) indexed by the hash's top 16 bits,
//!   whose estimate `m ln(m / zeros)` has a standard error of at most 0.31 % there
//!   (Whang et al., 1990). It is what keeps the estimate within 1 % from 1,025 to 10,000
//!   distinct values, where the registers alone err by 1.6 %. Once more than half its
//!   bits are set it is dropped for good, so the sketch's memory stays bounded and a
//!   large profile serializes small. Whether it is kept depends only on the bits set,
//!   which depend only on the set of hashes: merges stay associative and commutative,
//!   byte for byte.
//!
//! Why our own and not the `hyperloglogplus` crate: measured on one million values
//! (`cargo bench -p sextant-benches --bench sketches`), its insert cost 14 ns per value,
//! the whole budget of a profile's value; this one costs about 2 ns dense, and its
//! serialization is compact and validated (a damaged file gives an error, not a panic).
//! The hash is fixed ([`crate::hash`]), so sketches from any process merge.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Index bits of the dense representation.
const P: u32 = 12;
/// Dense registers.
const M: usize = 1 << P;
/// Index bits of the sparse representation.
const P_SPARSE: u32 = 25;
/// Bits of a sparse index below its dense register's (its `low` part).
const LOW_BITS: u32 = P_SPARSE - P;
/// Where a sparse code keeps its `low` part (see [`sparse_code`]).
const LOW_SHIFT: u32 = 6 + P;
/// Largest register value: leading zeros of the remaining 52 bits, plus one.
const Q: u8 = (64 - P) as u8;
/// Codes buffered unsorted before they are merged into the sorted list.
const BUFFER: usize = 256;
/// Codes decoded at a time when they raise dense registers (about the prefix of a
/// sparse list a merge into many raises: a batch is zeroed before use).
const BATCH: usize = 64;
/// Index bits of the linear-counting bitmap: a bit per value of the hash's top 16 bits.
const P_LINEAR: u32 = 16;
/// Bits of the linear-counting bitmap.
const LINEAR_BITS: usize = 1 << P_LINEAR;
/// The bitmap is kept while at most this many of its bits are set (half of them).
const LINEAR_MAX_ONES: u32 = (LINEAR_BITS / 2) as u32;

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// Sorted codes (see [`sparse_code`]), one per index, plus an unsorted buffer.
    Sparse { sorted: Vec<u32>, buffer: Vec<u32> },
    /// One register per index, and the bitmap while it is kept.
    Dense {
        regs: Box<[u8; M]>,
        linear: Option<Box<Linear>>,
    },
}

/// A linear-counting bitmap and the number of its bits set.
#[derive(Debug, Clone, PartialEq)]
struct Linear {
    words: [u64; LINEAR_BITS / 64],
    ones: u32,
}

impl Linear {
    fn new() -> Box<Self> {
        Box::new(Linear {
            words: [0; LINEAR_BITS / 64],
            ones: 0,
        })
    }

    /// Sets the bit of a hash.
    #[inline(always)]
    fn insert(&mut self, hash: u64) {
        self.set((hash >> (64 - P_LINEAR)) as usize);
    }

    /// Sets the bits of sparse codes (the top 16 of their 25 index bits).
    fn insert_codes(&mut self, codes: &[u32]) {
        codes
            .iter()
            .for_each(|&c| self.set((index_of(c) >> (P_SPARSE - P_LINEAR)) as usize));
    }

    #[inline(always)]
    fn set(&mut self, bit: usize) {
        let w = &mut self.words[bit / 64 % (LINEAR_BITS / 64)];
        let mask = 1u64 << (bit % 64);
        self.ones += u32::from(*w & mask == 0);
        *w |= mask;
    }

    fn union(&mut self, other: &Linear) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
        self.recount();
    }

    /// Sets `ones` from the words.
    fn recount(&mut self) {
        self.ones = self.words.iter().map(|w| w.count_ones()).sum();
    }

    /// Linear counting: `m ln(m / zeros)`.
    fn estimate(&self) -> f64 {
        let m = LINEAR_BITS as f64;
        m * (m / (m - f64::from(self.ones))).ln()
    }
}

/// Drops a bitmap once more than half its bits are set (for good: bits are never
/// cleared, so every later state of the sketch would have dropped it too).
fn bound_linear(linear: &mut Option<Box<Linear>>) {
    if linear.as_ref().is_some_and(|l| l.ones > LINEAR_MAX_ONES) {
        *linear = None;
    }
}

/// Estimated number of distinct values (see the module docs).
#[derive(Debug)]
pub struct Cardinality {
    repr: Repr,
    /// A lower bound of the dense registers, for merges (not part of the state).
    floor: Floor,
}

/// A lower bound of a sketch's dense registers, and how many merges ago it was their
/// minimum: registers only rise, so a bound stays a bound, and a merge of sparse codes
/// rescans the 4 KiB of registers once every [`Floor::RESCAN`] merges instead of in
/// every one (a bound a little low only keeps a few more codes to raise).
#[derive(Debug, Clone, Copy, Default)]
struct Floor {
    at_most: u8,
    age: u8,
}

impl Floor {
    const RESCAN: u8 = 16;

    /// The bound for `regs`, rescanned if it is old (or zero: registers at zero soon
    /// rise in a merge of many).
    fn of(&mut self, regs: &[u8; M]) -> u8 {
        if self.at_most == 0 || self.age == 0 {
            self.at_most = regs.iter().copied().min().unwrap_or(0);
        }
        self.age = (self.age + 1) % Self::RESCAN;
        self.at_most
    }
}

/// A clone has its buffer merged into the sorted list (it is an immutable view's, or
/// about to be merged into): its codes are then in the order that lets a merge into
/// a dense sketch read only those that can raise a register. Like any flush, that may
/// turn the clone dense where the original is still sparse with a full buffer: the same
/// state the original reaches at its next flush, with the same estimate and bytes.
impl Clone for Cardinality {
    fn clone(&self) -> Self {
        // Built merged, not copied and then flushed: one list of the size it ends at,
        // and no copy of the buffer's room (views live long in the recorder's history).
        let repr = match &self.repr {
            Repr::Sparse { sorted, buffer } => {
                let mut merged = Vec::with_capacity(sorted.len() + buffer.len());
                merged.extend_from_slice(sorted);
                if !buffer.is_empty() {
                    let mut pending = buffer.clone();
                    pending.sort_unstable();
                    merge_codes(&mut merged, &pending);
                }
                Repr::Sparse {
                    sorted: merged,
                    buffer: Vec::new(),
                }
            }
            dense => dense.clone(),
        };
        let mut clone = Cardinality {
            floor: self.floor,
            ..Cardinality::of(repr)
        };
        // Past the sparse limit it turns dense, as a flush would.
        clone.flush();
        clone
    }
}

/// Sketches are equal when they hold the same codes, buffered or not: the state a
/// flush leaves depends on the set of hashes alone.
impl PartialEq for Cardinality {
    fn eq(&self, other: &Self) -> bool {
        self.flushed().repr == other.flushed().repr
    }
}

impl Default for Cardinality {
    fn default() -> Self {
        Cardinality::new()
    }
}

/// The sparse code of a hash: its top 25 bits are the index, and the rank of the other
/// 39 bits (their leading zeros plus one) goes with it. Of the index, the top 12 bits
/// name the dense register the code raises, and the 13 below them (`low`) the value:
/// the smaller `low`, the higher (the rank decides it when `low` is zero). A code is
/// laid out as `low << 18 | register << 6 | rank`, so that sorted codes come in order
/// of decreasing value: those that can raise registers above a floor are a prefix of
/// the sorted list (see [`raise_to_codes`]). Files keep the hash's own order (see
/// [`Cardinality::to_bytes`]).
#[inline]
fn sparse_code(hash: u64) -> u32 {
    let index = (hash >> (64 - P_SPARSE)) as u32;
    let rest = hash << P_SPARSE;
    let rank = (rest.leading_zeros() + 1).min(64 - P_SPARSE + 1);
    code_of(index, rank)
}

/// The code of a 25-bit index and a rank (see [`sparse_code`]).
#[inline(always)]
fn code_of(index: u32, rank: u32) -> u32 {
    let (register, low) = (index >> LOW_BITS, index & ((1 << LOW_BITS) - 1));
    low << LOW_SHIFT | register << 6 | rank
}

/// The 25-bit index of a code: the top 25 bits of its hash.
#[inline(always)]
fn index_of(code: u32) -> u32 {
    let (low, register) = (code >> LOW_SHIFT, (code >> 6) & (M as u32 - 1));
    register << LOW_BITS | low
}

/// A code as files keep it, `index << 6 | rank`: sorted, in the order of the hashes.
fn hash_order(code: u32) -> u32 {
    index_of(code) << 6 | code & 63
}

/// The dense register of `hash` and its rank there: the leading zeros of the 52 bits
/// below the index, plus one (at most `Q + 1`: the bit set below them bounds the count
/// without a branch).
#[inline(always)]
fn dense_slot(hash: u64) -> (usize, u8) {
    let index = (hash >> (64 - P)) as usize;
    let value = (((hash << P) | (1 << (P - 1))).leading_zeros() + 1) as u8;
    (index, value)
}

/// Raises the dense register of `hash` to its rank.
#[inline(always)]
fn insert_dense(regs: &mut [u8; M], hash: u64) {
    let (index, value) = dense_slot(hash);
    let r = &mut regs[index];
    *r = (*r).max(value);
}

/// Numbers [`insert_dense_f64s`] hashes at a time: eight AVX-512 vectors of 8.
const HASH_BATCH: usize = 64;

/// [`insert_dense`] of each of `xs` (finite numbers), the same registers in the end.
/// Hashes, indices and values are computed [`HASH_BATCH`] at a time, then the registers
/// are raised one by one. The first part is a loop the compiler vectorizes: compiled for
/// 64-bit vector multiplies and leading-zero counts (AVX-512 DQ and CD, used where the
/// processor has them, found at run time) it took the columns path's HyperLogLog from
/// 4.1 to 2.4 ns a value (`benches/RESULTS.md`); elsewhere it compiles to scalar code.
fn insert_dense_f64s(regs: &mut [u8; M], xs: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512cd")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        #[allow(unsafe_code)]
        // SAFETY: the processor has every feature `insert_dense_avx512` is compiled for.
        unsafe {
            insert_dense_avx512(regs, xs)
        };
        return;
    }
    insert_dense_batches(regs, xs);
}

/// [`insert_dense_batches`] compiled for AVX-512 (see [`insert_dense_f64s`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512cd,avx512vl")]
fn insert_dense_avx512(regs: &mut [u8; M], xs: &[f64]) {
    insert_dense_batches(regs, xs);
}

/// The body of [`insert_dense_f64s`], inlined into each version of it.
#[inline(always)]
fn insert_dense_batches(regs: &mut [u8; M], xs: &[f64]) {
    debug_assert!(crate::lanes::all_finite(xs));
    let mut chunks = xs.chunks_exact(HASH_BATCH);
    for chunk in &mut chunks {
        let mut slots = [0u32; HASH_BATCH];
        for (slot, &x) in slots.iter_mut().zip(chunk) {
            let (index, value) = dense_slot(crate::hash::hash_prechecked_f64(x));
            *slot = (index as u32) << 8 | u32::from(value);
        }
        raise_slots(regs, &slots);
    }
    for &x in chunks.remainder() {
        insert_dense(regs, crate::hash::hash_finite_f64(x));
    }
}

/// Raises the dense registers to the values of sparse codes: a sparse sketch's sorted
/// list and its unsorted buffer. Only a code above the lowest register can raise one
/// (`floor`: the lowest, or a bound below it), and a code's value is above the floor
/// exactly when its `low` part is below `2^(13 - floor)` (a zero `low` gives 13 plus the
/// rank, above any floor under 14). Merging many sparse sketches into a dense one, the
/// floor soon reaches 3 to 5: of the sorted list, laid out by `low` first, only the
/// prefix of codes below that bound is read — a sixteenth of a 4 KiB list at floor 4,
/// where reading all of it, from memory another view's sketch had left cold, was most
/// of the HyperLogLog's third of a merge's time (`benches/RESULTS.md`). The buffer's
/// codes all go through: a clone has none, a view at most those of the few rows its
/// live profile held back (recorded after the clone), a sketch read from a file none.
fn raise_to_codes(regs: &mut [u8; M], floor: u8, sorted: &[u32], unsorted: &[u32]) {
    let prefix = match raising_below(floor) {
        // A scan, not a binary search: it reads only the prefix (the lines prefetched,
        // and read again just below), where a search touches cold lines in the middle
        // of the list; a search was no faster (merging 1,000 views, medians of 7:
        // 19.1 ms against 18.0, within this host's noise).
        Some(bound) => sorted.iter().take_while(|&&c| c < bound).count(),
        None => sorted.len(),
    };
    raise_all_to_codes(regs, &sorted[..prefix]);
    raise_all_to_codes(regs, unsorted);
}

/// The code below which codes can raise registers above `floor` (see
/// [`raise_to_codes`]), if a floor of 1 to 13 leaves any to drop.
fn raising_below(floor: u8) -> Option<u32> {
    let floor = u32::from(floor);
    (1..=LOW_BITS)
        .contains(&floor)
        .then(|| 1 << (LOW_BITS - floor) << LOW_SHIFT)
}

/// Raises the registers to the values of all `codes`: in two passes the compiler keeps
/// apart, first every code's register as `register << 8 | value`, without branches
/// (the leading zeros come from the exponent of the `low` part's exact `f32` value),
/// then the maxima — about half the time of one pass.
fn raise_all_to_codes(regs: &mut [u8; M], codes: &[u32]) {
    let mut batch = [0u32; BATCH];
    for chunk in codes.chunks(BATCH) {
        for (out, &code) in batch.iter_mut().zip(chunk) {
            let register = (code >> 6) & (M as u32 - 1);
            let rank = code & 63;
            let low = (code >> LOW_SHIFT) & ((1 << LOW_BITS) - 1);
            // floor(log2(low)) for low >= 1; 13 - it is the leading zeros plus one.
            // (`low` < 2¹³ converts as an i32: one SSE2 instruction for four codes.)
            let log2 = (((low as i32) as f32).to_bits() >> 23).wrapping_sub(127);
            let value = if low != 0 {
                LOW_BITS.wrapping_sub(log2)
            } else {
                LOW_BITS + rank
            };
            *out = register << 8 | value;
        }
        raise_slots(regs, &batch[..chunk.len()]);
    }
}

/// Raises each register to its value, given as `register << 8 | value` (the second
/// pass of [`raise_all_to_codes`] and of [`insert_dense_batches`]).
#[inline(always)]
fn raise_slots(regs: &mut [u8; M], slots: &[u32]) {
    for &slot in slots {
        // The register is below M (12 bits); the mask only tells the compiler so.
        let r = &mut regs[(slot >> 8) as usize & (M - 1)];
        *r = (*r).max(slot as u8);
    }
}

/// Merges the sorted codes `src` into the sorted codes `dst` in place (no second list:
/// a flush never holds the sparse list twice), keeping one code (the highest rank) per
/// index.
fn merge_codes(dst: &mut Vec<u32>, src: &[u32]) {
    super::merge_into(dst, src);
    // Same index: codes sort by rank within an index, so the last of a run is highest.
    dst.dedup_by(|later, kept| {
        let same = *later >> 6 == *kept >> 6;
        if same {
            *kept = *later;
        }
        same
    });
}

impl Cardinality {
    /// A sketch of `repr`, with no bound of its registers known yet.
    fn of(repr: Repr) -> Self {
        Cardinality {
            repr,
            floor: Floor::default(),
        }
    }

    /// Sorted sparse codes kept before turning dense.
    ///
    /// 1,024 codes take the 4 KiB of the dense registers; turning dense adds the 8 KiB
    /// bitmap until it is half full, and an 11-feature live window stays within its
    /// 256 KiB budget (`profiler/tests/memory.rs`: 222 KB at its peak).
    pub const SPARSE_MAX: usize = 1024;

    /// An empty sketch.
    pub fn new() -> Self {
        Cardinality::of(Repr::Sparse {
            sorted: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// Empties the sketch. A sparse one keeps its lists' buffers, so refilling it
    /// allocates nothing until it outgrows them; a dense one becomes sparse again and
    /// gives its registers back (a reset keeps at most what a sparse sketch holds).
    ///
    /// ```
    /// let mut c = sextant::sketch::Cardinality::new();
    /// c.insert_hash(sextant::hash::hash_str("a"));
    /// c.reset();
    /// assert_eq!(c, sextant::sketch::Cardinality::new());
    /// ```
    pub fn reset(&mut self) {
        match &mut self.repr {
            Repr::Sparse { sorted, buffer } => {
                sorted.clear();
                buffer.clear();
            }
            Repr::Dense { .. } => *self = Cardinality::new(),
        }
    }

    /// Adds one value, given as its [`crate::hash`] hash.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        match &mut self.repr {
            Repr::Dense { regs, linear } => {
                insert_dense(regs, hash);
                if let Some(l) = linear {
                    l.insert(hash);
                }
                bound_linear(linear);
            }
            Repr::Sparse { buffer, .. } => {
                buffer.push(sparse_code(hash));
                if buffer.len() >= BUFFER {
                    self.flush();
                }
            }
        }
    }

    /// Adds numbers, which the caller guarantees finite (NaN would not hash as
    /// [`crate::hash::hash_f64`] does): [`Cardinality::insert_hash`]
    /// on each, with the representation looked up once for the whole slice.
    pub fn insert_f64s(&mut self, xs: &[f64]) {
        let mut rest = xs;
        while let Repr::Sparse { .. } = self.repr {
            let Some((&x, tail)) = rest.split_first() else {
                return;
            };
            self.insert_hash(crate::hash::hash_finite_f64(x));
            rest = tail;
        }
        // With the bitmap, in chunks until it is dropped; then the registers alone.
        while let Repr::Dense { regs, linear } = &mut self.repr {
            let Some(l) = linear else { break };
            if rest.is_empty() {
                return;
            }
            let (chunk, tail) = rest.split_at(rest.len().min(64));
            for &x in chunk {
                let hash = crate::hash::hash_finite_f64(x);
                insert_dense(regs, hash);
                l.insert(hash);
            }
            bound_linear(linear);
            rest = tail;
        }
        if let Repr::Dense { regs, linear: None } = &mut self.repr {
            insert_dense_f64s(regs, rest);
        }
    }

    /// Merges the buffer into the sorted list; turns dense past [`Self::SPARSE_MAX`].
    fn flush(&mut self) {
        if let Repr::Sparse { sorted, buffer } = &mut self.repr {
            if !buffer.is_empty() {
                buffer.sort_unstable();
                merge_codes(sorted, buffer);
                buffer.clear();
            }
            if sorted.len() > Self::SPARSE_MAX {
                self.make_dense();
            }
        }
    }

    fn make_dense(&mut self) {
        if let Repr::Sparse { sorted, buffer } = &self.repr {
            let mut regs = Box::new([0u8; M]);
            let mut linear = Linear::new();
            for codes in [sorted, buffer] {
                raise_all_to_codes(&mut regs, codes);
                linear.insert_codes(codes);
            }
            let mut linear = Some(linear);
            bound_linear(&mut linear);
            *self = Cardinality::of(Repr::Dense { regs, linear });
        }
    }

    /// This sketch with no codes pending in its buffer: itself, or a flushed copy.
    fn flushed(&self) -> std::borrow::Cow<'_, Cardinality> {
        match &self.repr {
            Repr::Sparse { buffer, .. } if !buffer.is_empty() => {
                std::borrow::Cow::Owned(self.clone())
            }
            _ => std::borrow::Cow::Borrowed(self),
        }
    }

    /// Whether the sketch is still sparse (near exact).
    pub fn is_sparse(&self) -> bool {
        matches!(self.repr, Repr::Sparse { .. })
    }

    /// Asks for the codes of `other` that merging it into this sketch reads: of a
    /// sparse one merged into dense registers, about the share of its sorted list that
    /// can raise one (see [`Cardinality::merge`]), which another view's sketch left cold
    /// in memory. Called one merge ahead, the next merge finds them in cache.
    pub(crate) fn prefetch_merge(&self, other: &Cardinality) {
        if let (Repr::Dense { .. }, Repr::Sparse { sorted, .. }) = (&self.repr, &other.repr)
            && let Some(bound) = raising_below(self.floor.at_most)
        {
            // Codes are uniform in `low`: the prefix holds about this many (and a line
            // more).
            let expected = ((u64::from(bound) * sorted.len() as u64) >> 31) as usize + 16;
            crate::prefetch::slice(&sorted[..expected.min(sorted.len())]);
        }
    }

    /// Merges `other` into this sketch.
    pub fn merge(&mut self, other: &Cardinality) {
        match &other.repr {
            Repr::Sparse {
                sorted: theirs,
                buffer: pending,
            } => {
                if let Cardinality {
                    repr: Repr::Dense { regs, linear },
                    floor,
                } = self
                {
                    raise_to_codes(regs, floor.of(regs), theirs, pending);
                    if let Some(l) = linear {
                        l.insert_codes(theirs);
                        l.insert_codes(pending);
                    }
                    bound_linear(linear);
                    return;
                }
                self.flush();
                if let Repr::Sparse { sorted, buffer } = &mut self.repr {
                    merge_codes(sorted, theirs);
                    // Their unsorted codes go through our buffer, like inserts.
                    buffer.extend_from_slice(pending);
                }
                self.flush();
            }
            Repr::Dense {
                regs: theirs,
                linear: their_linear,
            } => {
                self.make_dense();
                if let Repr::Dense { regs, linear } = &mut self.repr {
                    for (r, t) in regs.iter_mut().zip(theirs.iter()) {
                        *r = (*r).max(*t);
                    }
                    match (linear.as_mut(), their_linear) {
                        (Some(mine), Some(t)) => mine.union(t),
                        // Theirs was dropped: the union has more bits set still.
                        (Some(_), None) => *linear = None,
                        (None, _) => {}
                    }
                    bound_linear(linear);
                }
            }
        }
    }

    /// The estimated number of distinct values.
    ///
    /// ```
    /// let mut c = sextant::sketch::Cardinality::new();
    /// for i in 0..1000 {
    ///     c.insert_hash(sextant::hash::hash_f64((i % 100) as f64));
    /// }
    /// assert_eq!(c.estimate().round(), 100.0);
    /// ```
    pub fn estimate(&self) -> f64 {
        match &self.flushed().repr {
            Repr::Sparse { sorted, .. } => {
                let n = sorted.len() as f64;
                // Linear counting over 2^25 buckets.
                let m = f64::from(1u32 << P_SPARSE);
                m * (m / (m - n)).ln()
            }
            Repr::Dense {
                linear: Some(l), ..
            } => l.estimate(),
            Repr::Dense { regs, linear: None } => ertl_estimate(regs),
        }
    }

    /// One standard error of the estimate, relative, from the dense registers alone
    /// (above about 45,000 distinct values; below that the estimate is better).
    pub fn relative_standard_error() -> f64 {
        1.04 / (M as f64).sqrt()
    }

    /// Whether the estimate comes from the registers alone (see the module docs).
    pub fn is_registers_only(&self) -> bool {
        matches!(self.repr, Repr::Dense { linear: None, .. })
    }

    /// Serialized form: a version byte, a mode byte, then the sparse codes as varint
    /// deltas, sorted in the order of their hashes (`index << 6 | rank`; mode 0), or the
    /// dense registers packed at 6 bits (mode 1), followed by the bitmap's 1,024
    /// little-endian `u64` words while it is kept (mode 2, since format version 2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![1u8];
        match &self.flushed().repr {
            Repr::Sparse { sorted, .. } => {
                out.push(0);
                write_varint(&mut out, sorted.len() as u64);
                let mut by_hash: Vec<u32> = sorted.iter().map(|&c| hash_order(c)).collect();
                by_hash.sort_unstable();
                let mut prev = 0u32;
                for &c in &by_hash {
                    write_varint(&mut out, u64::from(c - prev));
                    prev = c;
                }
            }
            Repr::Dense { regs, linear } => {
                out.push(if linear.is_some() { 2 } else { 1 });
                for chunk in regs.chunks(4) {
                    let w = u32::from(chunk[0])
                        | u32::from(chunk[1]) << 6
                        | u32::from(chunk[2]) << 12
                        | u32::from(chunk[3]) << 18;
                    out.extend_from_slice(&w.to_le_bytes()[..3]);
                }
                for w in linear.iter().flat_map(|l| l.words.iter()) {
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
        }
        out
    }

    /// Reads [`Cardinality::to_bytes`]' output, validating every field.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let err = |what: &str| Err(format!("cardinality sketch: {what}"));
        match bytes {
            [1, 0, rest @ ..] => {
                let mut pos = 0;
                let n = read_varint(rest, &mut pos).ok_or("cardinality sketch: truncated")?;
                if n > Self::SPARSE_MAX as u64 {
                    return err("too many sparse entries");
                }
                let mut sorted = Vec::with_capacity(n as usize);
                let mut prev = 0u64;
                for i in 0..n {
                    let delta =
                        read_varint(rest, &mut pos).ok_or("cardinality sketch: truncated")?;
                    let code = prev.saturating_add(delta);
                    if (i > 0 && delta == 0) || code > u64::from(u32::MAX) {
                        return err("codes out of order");
                    }
                    let code = code as u32;
                    let (index, rank) = (code >> 6, code & 63);
                    if rank == 0 || rank > 64 - P_SPARSE + 1 {
                        return err("rank out of range");
                    }
                    if index >> P_SPARSE != 0 {
                        return err("index out of range");
                    }
                    if i > 0 && (prev >> 6) as u32 == index {
                        return err("two codes for one index");
                    }
                    sorted.push(code_of(index, rank));
                    prev = code as u64;
                }
                if pos != rest.len() {
                    return err("trailing bytes");
                }
                sorted.sort_unstable();
                Ok(Cardinality::of(Repr::Sparse {
                    sorted,
                    buffer: Vec::new(),
                }))
            }
            [1, mode @ (1 | 2), rest @ ..] => {
                const PACKED: usize = M / 4 * 3;
                let bitmap = if *mode == 2 { LINEAR_BITS / 8 } else { 0 };
                if rest.len() != PACKED + bitmap {
                    return err("dense registers have the wrong length");
                }
                let (packed, bitmap) = rest.split_at(PACKED);
                let mut regs = Box::new([0u8; M]);
                for (i, c) in packed.chunks(3).enumerate() {
                    let w = u32::from(c[0]) | u32::from(c[1]) << 8 | u32::from(c[2]) << 16;
                    for j in 0..4 {
                        let v = ((w >> (6 * j)) & 63) as u8;
                        if v > Q + 1 {
                            return err("register out of range");
                        }
                        regs[4 * i + j] = v;
                    }
                }
                let linear = if *mode == 2 {
                    let mut l = Linear::new();
                    for (w, b) in l.words.iter_mut().zip(bitmap.chunks_exact(8)) {
                        *w = u64::from_le_bytes(b.try_into().unwrap_or_default());
                    }
                    l.recount();
                    if l.ones > LINEAR_MAX_ONES {
                        return err("bitmap kept past half full");
                    }
                    // A register is raised exactly when one of its 16 bits is set.
                    let bits_of = |r: usize| (l.words[r / 4] >> (16 * (r % 4))) & 0xffff;
                    if (0..M).any(|r| (bits_of(r) != 0) != (regs[r] != 0)) {
                        return err("bitmap and registers disagree");
                    }
                    Some(l)
                } else {
                    None
                };
                Ok(Cardinality::of(Repr::Dense { regs, linear }))
            }
            [] => err("empty"),
            [v, ..] if *v != 1 => Err(format!("cardinality sketch: unknown version {v}")),
            _ => err("unknown representation"),
        }
    }
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Ertl's improved raw estimator (2017), no bias tables.
fn ertl_estimate(regs: &[u8; M]) -> f64 {
    let q = usize::from(Q);
    let mut c = vec![0u32; q + 2];
    for &r in regs.iter() {
        c[usize::from(r).min(q + 1)] += 1;
    }
    let m = M as f64;
    let mut z = m * tau(1.0 - f64::from(c[q + 1]) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + f64::from(c[k]));
    }
    z += m * sigma(f64::from(c[0]) / m);
    let alpha_inf = 1.0 / (2.0 * std::f64::consts::LN_2);
    alpha_inf * m * m / z
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if z == prev {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == prev {
            return z / 3.0;
        }
    }
}

impl Serialize for Cardinality {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for Cardinality {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = super::quantiles::serde_bytes_compat::Bytes::deserialize(d)?;
        Cardinality::from_bytes(&bytes.0).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_f64;
    use proptest::prelude::*;

    /// The dense register (index, value) of a sparse code, written plainly.
    fn dense_of_code(code: u32) -> (usize, u8) {
        let index25 = index_of(code);
        let rank = (code & 63) as u8;
        let index = (index25 >> (P_SPARSE - P)) as usize;
        let low = index25 & ((1 << (P_SPARSE - P)) - 1);
        let value = if low != 0 {
            (low.leading_zeros() - (32 - (P_SPARSE - P))) as u8 + 1
        } else {
            (P_SPARSE - P) as u8 + rank
        };
        (index, value.min(Q + 1))
    }

    #[test]
    fn numbers_raise_the_registers_their_hashes_name_vector_code_or_not() {
        // Lengths around whole batches, with -0.0, repeats and extreme values in the
        // first batch and in the remainder; checked against insert_dense one hash at a
        // time. (The unit tests are optimized, `[profile.test.package.sextant]`, so the
        // AVX-512 copy is vector code here where the processor has AVX-512 DQ and CD.)
        let special = [
            -0.0,
            0.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            -5e-324,
            1.0,
            1.0,
        ];
        let mut xs: Vec<f64> = special.to_vec();
        xs.extend((0..1000).map(|i| (i as f64 * 0.37).sin() * 1e6));
        xs.extend(special);
        for len in [
            0,
            1,
            HASH_BATCH - 1,
            HASH_BATCH,
            HASH_BATCH + 1,
            3 * HASH_BATCH + 7,
            xs.len(),
        ] {
            let mut scalar = Box::new([0u8; M]);
            for &x in &xs[..len] {
                insert_dense(&mut scalar, hash_f64(x));
            }
            let mut vector = Box::new([0u8; M]);
            insert_dense_f64s(&mut vector, &xs[..len]);
            assert_eq!(vector, scalar, "{len} numbers");
            // And the portable version, which runs where the vector code cannot.
            let mut portable = Box::new([0u8; M]);
            insert_dense_batches(&mut portable, &xs[..len]);
            assert_eq!(portable, scalar, "{len} numbers");
        }
    }

    #[test]
    fn codes_raise_the_registers_they_name() {
        // Every 13-bit low part and every rank, in two registers.
        for index in [0u32, 4095] {
            for low in 0..1u32 << (P_SPARSE - P) {
                for rank in [1, 2, 39, 40] {
                    let code = code_of(index << LOW_BITS | low, rank);
                    let mut regs = Box::new([0u8; M]);
                    raise_to_codes(&mut regs, 0, &[code], &[]);
                    let (i, v) = dense_of_code(code);
                    assert_eq!(regs[i], v, "code {code:#x}");
                    assert_eq!(regs.iter().filter(|&&r| r != 0).count(), 1);
                }
            }
        }
    }

    proptest! {
        /// Into registers with a floor above zero (the prefix's path, with the lowest
        /// register or a bound below it) as into empty ones: each register ends at the
        /// maximum of its value and its codes'.
        #[test]
        fn codes_raise_registers_above_any_floor(
            floor in 1u8..16,
            below in 0u8..3,
            seed in any::<u64>(),
            n in 0usize..3000,
        ) {
            let mut regs = Box::new([0u8; M]);
            let mut x = seed;
            let mut next = || {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                crate::hash::hash_f64(x as f64)
            };
            regs.iter_mut().for_each(|r| *r = floor + (next() % 3) as u8);
            let codes: Vec<u32> = (0..n).map(|_| sparse_code(next())).collect();
            let mut want = regs.clone();
            for &c in &codes {
                let (i, v) = dense_of_code(c);
                want[i] = want[i].max(v);
            }
            let (a, b) = codes.split_at(n / 3);
            let mut sorted = a.to_vec();
            sorted.sort_unstable();
            // The floor a merge passes is at most the lowest register (see `Floor`).
            let lowest = regs.iter().copied().min().unwrap_or(0);
            raise_to_codes(&mut regs, lowest.saturating_sub(below), &sorted, b);
            prop_assert!(regs[..] == want[..]);
        }
    }

    fn sketch_of(range: std::ops::Range<u64>) -> Cardinality {
        let mut c = Cardinality::new();
        range.for_each(|i| c.insert_hash(hash_f64(i as f64)));
        c
    }

    #[test]
    fn within_one_percent_while_sparse() {
        for n in [1u64, 10, 100, 500, 1000] {
            let c = sketch_of(0..n);
            assert!(c.is_sparse());
            let est = c.estimate();
            assert!(
                (est - n as f64).abs() <= 0.01 * n as f64 + 0.5,
                "{n}: {est}"
            );
        }
    }

    #[test]
    fn within_one_percent_at_every_count_up_to_ten_thousand() {
        // Five runs of distinct values, the estimate checked after every insert: sparse
        // up to 1,024, then the bitmap's.
        for run in 0..5u64 {
            let mut c = Cardinality::new();
            for n in 1..=10_000u64 {
                c.insert_hash(hash_f64((run * 1_000_000 + n) as f64));
                let est = c.estimate();
                assert!(
                    (est - n as f64).abs() <= 0.01 * n as f64,
                    "run {run}, {n} distinct: {est}"
                );
            }
            assert!(!c.is_sparse() && !c.is_registers_only());
        }
    }

    #[test]
    fn the_bitmap_is_kept_while_at_most_half_full() {
        let c = sketch_of(0..40_000);
        assert!(!c.is_registers_only(), "40,000 set about 29,900 bits");
        let Repr::Dense {
            linear: Some(l), ..
        } = &c.repr
        else {
            unreachable!()
        };
        assert!(l.ones <= LINEAR_MAX_ONES);
        assert_eq!(l.ones, l.words.iter().map(|w| w.count_ones()).sum::<u32>());
        assert!(
            sketch_of(0..50_000).is_registers_only(),
            "about 34,900 bits"
        );
        // Slices insert as values one by one do, bitmap and all.
        let xs: Vec<f64> = (0..50_000).map(|i| i as f64).collect();
        for n in [1_500, 40_000, 50_000] {
            let mut c = Cardinality::new();
            c.insert_f64s(&xs[..n]);
            assert_eq!(c, sketch_of(0..n as u64), "{n}");
        }
    }

    #[test]
    fn within_three_standard_errors_when_dense() {
        for n in [2_000u64, 5_000, 9_999, 20_000, 100_000, 1_000_000] {
            let c = sketch_of(0..n);
            assert!(!c.is_sparse());
            let est = c.estimate();
            let se = Cardinality::relative_standard_error() * n as f64;
            assert!((est - n as f64).abs() <= 3.0 * se, "{n}: {est}");
        }
    }

    #[test]
    fn merge_counts_the_union_in_every_representation() {
        for (a, b) in [
            (0..1000, 500..1800),
            (0..3000, 2000..6000),
            (0..20_000, 15_000..40_000),
            (0..20_000, 10_000..60_000),
            (0..50_000, 10_000..80_000),
            (0..100, 50..20_000),
        ] {
            let union = a.start.min(b.start)..a.end.max(b.end);
            let n = (union.end - union.start) as f64;
            let mut x = sketch_of(a.clone());
            x.merge(&sketch_of(b.clone()));
            let mut y = sketch_of(b);
            y.merge(&sketch_of(a));
            let tol = if !x.is_registers_only() {
                0.01 * n
            } else {
                3.0 * Cardinality::relative_standard_error() * n
            };
            assert!((x.estimate() - n).abs() <= tol, "{n}: {}", x.estimate());
            assert_eq!(x.to_bytes(), y.to_bytes(), "merge commutes");
            // Merging equals inserting everything into one sketch.
            assert_eq!(x.to_bytes(), sketch_of(union).to_bytes());
        }
    }

    proptest! {
        #[test]
        fn bytes_round_trip(n in prop_oneof![0u64..8000, 30_000u64..50_000]) {
            let c = sketch_of(0..n);
            let back = Cardinality::from_bytes(&c.to_bytes()).unwrap();
            prop_assert_eq!(back.estimate(), c.estimate());
            prop_assert_eq!(back.to_bytes(), c.to_bytes());
        }

        #[test]
        fn hostile_bytes_are_errors_not_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..4000),
        ) {
            let _ = Cardinality::from_bytes(&bytes);
            let mut v = vec![1u8, (bytes.len() % 3) as u8];
            v.extend_from_slice(&bytes);
            let _ = Cardinality::from_bytes(&v);
        }

        #[test]
        fn damaged_bitmaps_are_errors(bit in 0usize..LINEAR_BITS, seed in 0u64..4) {
            let good = sketch_of(seed * 100_000..seed * 100_000 + 5_000).to_bytes();
            prop_assert_eq!(good[1], 2, "dense with its bitmap");
            let mut bad = good.clone();
            bad[2 + M / 4 * 3 + bit / 8] ^= 1 << (bit % 8);
            // A bit set or cleared alone changes whether its register is raised, or not:
            // an error when it does; otherwise the file reads, as another valid sketch.
            let c = Cardinality::from_bytes(&bad);
            let raised = |b: &[u8]| {
                let words = &b[2 + M / 4 * 3..];
                let r = bit / 16;
                words[2 * r] != 0 || words[2 * r + 1] != 0
            };
            prop_assert_eq!(c.is_err(), raised(&bad) != raised(&good));
        }
    }

    #[test]
    fn bitmap_errors_say_what_is_wrong() {
        let good = sketch_of(0..5_000).to_bytes();
        let mut full = good.clone();
        full[2 + M / 4 * 3..].fill(0xff);
        assert!(
            Cardinality::from_bytes(&full)
                .unwrap_err()
                .contains("half full")
        );
        let mut short = good.clone();
        short.pop();
        assert!(
            Cardinality::from_bytes(&short)
                .unwrap_err()
                .contains("wrong length")
        );
        let mut version1 = good[..2 + M / 4 * 3].to_vec();
        version1[1] = 1;
        let registers_only = Cardinality::from_bytes(&version1).unwrap();
        assert!(registers_only.is_registers_only());
    }

    /// A sparse code whose index has more than 25 bits is refused: merged into dense
    /// registers, it would have named a register past the last.
    #[test]
    fn sparse_indexes_past_25_bits_are_errors() {
        let mut bytes = vec![1, 0, 1];
        write_varint(&mut bytes, 1 << P_SPARSE << 6 | 1);
        let err = Cardinality::from_bytes(&bytes).unwrap_err();
        assert!(err.contains("index out of range"), "{err}");
        bytes.truncate(3);
        write_varint(&mut bytes, ((1 << P_SPARSE) - 1) << 6 | 1);
        assert!(Cardinality::from_bytes(&bytes).is_ok());
    }

    /// A delta past `u64::MAX` is an error, not an overflow.
    #[test]
    fn sparse_deltas_that_overflow_are_errors() {
        let mut bytes = vec![1, 0, 2];
        write_varint(&mut bytes, 1 << 6 | 1);
        write_varint(&mut bytes, u64::MAX);
        let err = Cardinality::from_bytes(&bytes).unwrap_err();
        assert!(err.contains("out of order"), "{err}");
    }

    /// Many sparse sketches merged one by one into dense registers (the prefix path,
    /// with a floor rescanned only now and then) give the registers of every value
    /// inserted into one sketch.
    #[test]
    fn merging_many_sparse_sketches_gives_the_registers_of_their_union() {
        let parts: Vec<Cardinality> = (0..80u64)
            .map(|i| sketch_of(i * 1000..(i + 1) * 1000))
            .collect();
        let mut merged = parts[0].clone();
        for (i, p) in parts.iter().enumerate().skip(1) {
            merged.merge(p);
            if i % 20 == 0 {
                assert_eq!(
                    merged,
                    sketch_of(0..(i as u64 + 1) * 1000),
                    "after {i} merges"
                );
            }
        }
        assert!(merged.is_registers_only());
        assert_eq!(merged, sketch_of(0..80_000));
    }

    /// Files keep the codes in the order of their hashes, whatever order memory keeps
    /// them in: a sketch reads back equal, and writes the same bytes again.
    #[test]
    fn sparse_codes_are_written_in_hash_order() {
        let c = sketch_of(0..900);
        let bytes = c.to_bytes();
        let back = Cardinality::from_bytes(&bytes).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.to_bytes(), bytes);
        let Repr::Sparse { sorted, .. } = &c.clone().repr else {
            panic!("900 values keep the sketch sparse");
        };
        let mut want: Vec<u64> = sorted.iter().map(|&c| u64::from(hash_order(c))).collect();
        want.sort_unstable();
        let (rest, mut pos) = (&bytes[2..], 0);
        let n = read_varint(rest, &mut pos).unwrap();
        let mut code = 0;
        let written: Vec<u64> = (0..n)
            .map(|_| {
                code += read_varint(rest, &mut pos).unwrap();
                code
            })
            .collect();
        assert_eq!(written, want);
        assert_ne!(
            sorted.iter().map(|&c| u64::from(c)).collect::<Vec<_>>(),
            want
        );
    }
}
