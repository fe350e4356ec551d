//! A KLL quantile sketch of `f64` values (Karnin, Lang and Liberty 2016), written for
//! the request path.
//!
//! It follows Apache DataSketches' KLL — the same level capacities (`k · (2/3)^depth`,
//! at least 8), the same compaction schedule and so the same rank-error bound,
//! `2.296 / k^0.9723` single-sided at 99 % — with three differences, measured in
//! `benches/RESULTS.md`:
//!
//! - values are kept as order-preserving `u64` keys, level 0 unsorted and appended to
//!   (one push per value; [`Kll::update_slice`] appends whole slices), sorted only when
//!   it is compacted; upper levels stay sorted and are merged, never re-sorted;
//! - the compaction's random offset is a hash of the stream length, the level and the
//!   compacted keys (in a merge's compactions of the other sketch's levels, of where
//!   the run came from and its length: see [`coin`]), not a process-global RNG: the
//!   same values in the same order give the same sketch, in any process, which keeps
//!   the tests deterministic and re-serialization byte-identical;
//! - the serialization sorts each level and codes the gaps between consecutive keys with
//!   an Exp-Golomb code of the order that suits the level, about 6.5 bytes per key
//!   instead of 8, and [`Kll::from_bytes`] checks every count, capacity and bound.

use super::merge_front;
use super::network::{BLOCK, LANES, Network, RUN, Wide};
use crate::lanes::{all_finite, min_max};

/// Smallest capacity of a level (DataSketches' `m`).
const MIN_LEVEL_CAPACITY: u32 = 8;
/// At most this many levels: the top one weighs 2^63.
const MAX_LEVELS: usize = 64;
/// The first byte of [`Kll::to_bytes`].
const VERSION: u8 = 1;
/// Mixed into every compaction's coin, so the coins are fixed by the data alone.
const SEED: u64 = 0x5EC7_A4E7_0B1A_5ED0;
/// `3^d` for the capacities of depths up to 30.
const POW3: [u64; 31] = {
    let mut p = [1u64; 31];
    let mut i = 1;
    while i < 31 {
        p[i] = p[i - 1] * 3;
        i += 1;
    }
    p
};

/// The order-preserving key of a non-NaN `f64`: `a < b` (total order) iff
/// `key(a) < key(b)`. Callers turn `-0.0` into `+0.0` first.
#[inline(always)]
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    b ^ ((((b as i64) >> 63) as u64) | (1 << 63))
}

/// The value of a key (inverse of [`key`]).
#[inline(always)]
fn value(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k ^ (1 << 63) } else { !k })
}

/// The key of a finite value, with `-0.0` counted as `+0.0`.
#[inline(always)]
fn canonical_key(x: f64) -> u64 {
    key(x + 0.0)
}

/// `round(k · (2/3)^depth)`, as DataSketches computes it.
fn depth_capacity(k: u16, depth: usize) -> u32 {
    if depth >= POW3.len() {
        return 0;
    }
    let scaled = (u64::from(k) << (depth + 1)) / POW3[depth];
    ((scaled + 1) >> 1) as u32
}

/// Capacity of `level` (0 = bottom) in a sketch of `num_levels` levels.
fn level_capacity(k: u16, num_levels: usize, level: usize) -> u32 {
    depth_capacity(k, num_levels - level - 1).max(MIN_LEVEL_CAPACITY)
}

/// Total capacity of a sketch of `num_levels` levels.
fn total_capacity(k: u16, num_levels: usize) -> usize {
    (0..num_levels)
        .map(|level| level_capacity(k, num_levels, level) as usize)
        .sum()
}

/// SplitMix64's output function: a well-mixed 64-bit hash of `z`.
#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random offset (0 or 1) of one compaction: a hash of the stream length, the level
/// and two words that tell apart the compactions at that length and level — the
/// smallest and largest keys being compacted, or, in a merge (see
/// [`Kll::add_compacted`]), the level the keys came from and how many are left.
#[inline]
fn coin(n: u64, level: usize, a: u64, b: u64) -> usize {
    let z = SEED
        ^ n
        ^ (level as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
        ^ a.rotate_left(17)
        ^ b.rotate_left(41);
    (splitmix64(splitmix64(z)) >> 63) as usize
}

/// The normalized rank error of DataSketches' KLL for `k`: single-sided, 99 % confidence.
pub(crate) fn normalized_rank_error(k: u16) -> f64 {
    2.296 / f64::from(k).powf(0.9723)
}

/// A KLL sketch of finite `f64` values (see the module docs).
#[derive(Debug)]
pub(crate) struct Kll {
    /// Accuracy parameter: the capacity of the top level.
    k: u16,
    /// The smallest `k` of any sketch merged in while it was estimating (sets the error).
    min_k: u16,
    /// Values seen.
    n: u64,
    /// Key of the smallest value (`u64::MAX` while empty).
    min: u64,
    /// Key of the largest value (0 while empty).
    max: u64,
    /// Every level in one buffer, as DataSketches lays them out: level `h` (weight
    /// `2^h`) is `items[starts[h]..starts[h + 1]]`, level 0 lowest, above the free space
    /// at the front. Level 0 grows down into it, and a level that grows moves the
    /// (small) levels below it down. The buffer keeps its largest length, about the
    /// sketch's capacity, so a live sketch allocates only when it adds a level: no
    /// allocator call (nor its lock, shared between threads) on the request path.
    items: Vec<u64>,
    /// Level bounds: `starts[levels]` is `items.len()`. (One more than 64 levels need:
    /// weights sum to `n`, so no sketch compacts its 64th level, but a bound is cheaper
    /// than the argument.)
    starts: [u32; MAX_LEVELS + 2],
    /// Levels, at least 1.
    levels: usize,
    /// Whether level 0 (unsorted in general) is known to be sorted: after a compaction,
    /// in clones (views) and in sketches read from bytes, so that merging them never
    /// sorts it again. Levels above are always sorted.
    level0_sorted: bool,
    /// `depth_capacity(k, d)` for each depth `d` below [`POW3`]'s length (0 beyond).
    depth_caps: [u32; 31],
    /// Total capacity for the current number of levels.
    capacity: usize,
}

/// The lazy compactions of [`Kll::add_compacted`], one at a time: of `len` sorted keys
/// of weight `2^from`, those kept are every `stride`-th from `base`, at level `at`.
#[derive(Clone, Copy)]
struct Lazy {
    from: usize,
    base: usize,
    stride: usize,
    len: usize,
    at: usize,
}

impl Lazy {
    fn new(from: usize, len: usize) -> Self {
        Lazy {
            from,
            base: 0,
            stride: 1,
            len,
            at: from,
        }
    }

    /// Compacts the keys once more if they are at least as many as the capacity of the
    /// level they are at in `sketch` of `levels` levels (below its top one), with the
    /// coin of a sketch of `n` values: returns that level, and the index of the key that
    /// stays there if the keys were odd in number; `None` once they are kept.
    #[inline]
    fn step(&mut self, sketch: &Kll, n: u64, levels: usize) -> Option<(usize, Option<usize>)> {
        let at = self.at;
        if !(at + 1 < levels && self.len >= 2 && self.len >= sketch.cap(levels, at)) {
            return None;
        }
        let odd = self.len & 1;
        let stays = (odd == 1).then_some(self.base);
        // The coin reads no key: each compaction's offset would otherwise wait for a
        // key the one before it chose, a chain of cache misses through another view's
        // sketch; without it the kept keys' loads overlap (`add_compacted`'s time in a
        // merge of 1,000 views fell by 43 %, `benches/RESULTS.md`), and the keys a
        // merge will read are known before it reads them (`Kll::prefetch_merge`).
        self.base += self.stride * (odd + coin(n, at, self.from as u64, self.len as u64));
        self.stride *= 2;
        self.len = (self.len - odd) / 2;
        self.at += 1;
        Some((at, stays))
    }

    /// The indices of the keys kept, once [`Lazy::step`] is done.
    fn kept(&self) -> impl Iterator<Item = usize> + use<> {
        let (base, stride) = (self.base, self.stride);
        (0..self.len).map(move |i| base + i * stride)
    }
}

/// Moves level bounds by `by` places (down when negative): the levels they start keep
/// their keys, which the caller moved.
fn shift(bounds: &mut [u32], by: isize) {
    bounds
        .iter_mut()
        .for_each(|s| *s = s.wrapping_add_signed(by as i32));
}

/// A clone has level 0 sorted (it is an immutable view's, or about to be merged into):
/// sorted once here, not in every merge, query or serialization of it.
impl Clone for Kll {
    fn clone(&self) -> Self {
        // Only the keys: a clone has no free space until it grows.
        let free = self.free();
        let mut items = self.items[free..].to_vec();
        let mut starts = self.starts;
        shift(&mut starts[..=self.levels], -(free as isize));
        if !self.level0_sorted {
            items[..starts[1] as usize].sort_unstable();
        }
        Kll {
            k: self.k,
            min_k: self.min_k,
            n: self.n,
            min: self.min,
            max: self.max,
            items,
            starts,
            levels: self.levels,
            level0_sorted: true,
            depth_caps: self.depth_caps,
            capacity: self.capacity,
        }
    }
}

/// Equal parameters, extremes, sorted levels, and the same multiset at level 0 (whose
/// order is not part of the state: compaction sorts it).
impl PartialEq for Kll {
    fn eq(&self, other: &Self) -> bool {
        let sorted = |v: &[u64]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        self.k == other.k
            && self.min_k == other.min_k
            && self.n == other.n
            && self.min == other.min
            && self.max == other.max
            && self.levels == other.levels
            && (1..self.levels).all(|h| self.level(h) == other.level(h))
            && sorted(self.level(0)) == sorted(other.level(0))
    }
}

impl Kll {
    /// An empty sketch with accuracy parameter `k` (at least 8).
    pub(crate) fn new(k: u16) -> Self {
        let k = k.max(MIN_LEVEL_CAPACITY as u16);
        Kll {
            k,
            min_k: k,
            n: 0,
            min: u64::MAX,
            max: 0,
            items: Vec::new(),
            starts: [0; MAX_LEVELS + 2],
            levels: 1,
            level0_sorted: true,
            depth_caps: std::array::from_fn(|d| depth_capacity(k, d)),
            capacity: total_capacity(k, 1),
        }
    }

    /// Empties the sketch, keeping `k` and its buffer (all of it free space now), so
    /// that refilling it allocates nothing until it outgrows its largest length. The
    /// sketch is then equal to a new one: the same values give the same sketch.
    pub(crate) fn reset(&mut self) {
        let len = self.items.len() as u32;
        *self = Kll {
            items: std::mem::take(&mut self.items),
            starts: [len; MAX_LEVELS + 2],
            ..Kll::new(self.k)
        };
    }

    /// Values seen.
    pub(crate) fn n(&self) -> u64 {
        self.n
    }

    /// Keys held.
    #[inline]
    pub(crate) fn retained(&self) -> usize {
        self.items.len() - self.free()
    }

    /// The exact smallest and largest value (`-0.0` counted as `0.0`), if any.
    pub(crate) fn extremes(&self) -> Option<(f64, f64)> {
        (self.n > 0).then(|| (value(self.min), value(self.max)))
    }

    /// Whether some values were compacted away (then ranks are estimates).
    pub(crate) fn is_estimation_mode(&self) -> bool {
        self.levels > 1
    }

    /// The normalized rank error bound (99 %, single-sided) of this sketch's `k`.
    pub(crate) fn rank_error_bound(&self) -> f64 {
        normalized_rank_error(self.min_k)
    }

    /// Capacity of `level` in a sketch of `levels` levels ([`level_capacity`], from the
    /// table: this is on the update path).
    #[inline]
    fn cap(&self, levels: usize, level: usize) -> usize {
        let depth = levels - level - 1;
        let c = self.depth_caps.get(depth).copied().unwrap_or(0);
        c.max(MIN_LEVEL_CAPACITY) as usize
    }

    /// Total capacity of `levels` levels.
    fn total_cap(&self, levels: usize) -> usize {
        (0..levels).map(|h| self.cap(levels, h)).sum()
    }

    #[inline]
    fn start(&self, level: usize) -> usize {
        self.starts[level] as usize
    }

    /// The keys of `level` (which exists).
    fn level(&self, level: usize) -> &[u64] {
        &self.items[self.start(level)..self.start(level + 1)]
    }

    fn level_len(&self, level: usize) -> usize {
        self.start(level + 1) - self.start(level)
    }

    /// Free places at the front of the buffer.
    #[inline]
    fn free(&self) -> usize {
        self.start(0)
    }

    /// Adds an empty level on top.
    fn push_level(&mut self) {
        self.starts[self.levels + 1] = self.starts[self.levels];
        self.levels += 1;
    }

    /// Makes room for `j` keys below level 0.
    #[inline]
    fn reserve_free(&mut self, j: usize) {
        if self.free() < j {
            self.grow(j);
        }
    }

    /// Lengthens the buffer to hold `j` more keys, and at least the sketch's capacity:
    /// its keys move to its back.
    #[cold]
    fn grow(&mut self, j: usize) {
        let (free, len) = (self.free(), self.items.len());
        let new_len = (len - free + j).max(self.capacity);
        let delta = new_len - len;
        self.items.reserve_exact(delta);
        self.items.resize(new_len, 0);
        self.items.copy_within(free..len, free + delta);
        shift(&mut self.starts[..=self.levels], delta as isize);
    }

    /// After a merge: gives back a buffer more than twice as long as the sketch needs
    /// (one merge of large sketches lengthened it; the next merges reuse the room).
    fn trim(&mut self) {
        let (free, len) = (self.free(), self.items.len());
        let target = self.capacity.max(len - free);
        if len > 2 * target {
            let cut = free - (target - (len - free));
            self.items.drain(..cut);
            self.items.shrink_to_fit();
            shift(&mut self.starts[..=self.levels], -(cut as isize));
        }
    }

    /// Adds one value; NaN and infinities are ignored.
    #[inline]
    pub(crate) fn update(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        let k = canonical_key(x);
        if self.retained() >= self.capacity {
            self.compress_while_updating();
        }
        self.reserve_free(1);
        self.n += 1;
        self.min = self.min.min(k);
        self.max = self.max.max(k);
        let at = self.free() - 1;
        self.items[at] = k;
        self.starts[0] = at as u32;
        self.level0_sorted = false;
    }

    /// Adds finite values, faster than one by one: while the sketch is small it is the
    /// same sketch as [`Kll::update`] on each value; once its bottom levels are down to
    /// capacities of at most [`BLOCK`], the bulk path compacts them itself (see
    /// [`Kll::update_bulk`]). Falls back to one by one (skipping them) if some value is
    /// not finite.
    pub(crate) fn update_slice(&mut self, xs: &[f64]) {
        if all_finite(xs) {
            self.update_finite(xs);
        } else {
            xs.iter().for_each(|&x| self.update(x));
        }
    }

    /// [`Kll::update_slice`] of values the caller has checked are finite.
    pub(crate) fn update_finite(&mut self, xs: &[f64]) {
        debug_assert!(all_finite(xs));
        for chunk in xs.chunks(BULK) {
            match self.bulk_depth() {
                0 => self.append(chunk),
                depth => self.update_bulk(chunk, depth),
            }
        }
    }

    /// Appends finite values to level 0, compacting as [`Kll::update`] does.
    fn append(&mut self, xs: &[f64]) {
        let mut rest = xs;
        while !rest.is_empty() {
            if self.retained() >= self.capacity {
                self.compress_while_updating();
            }
            let free = self.capacity.saturating_sub(self.retained()).max(1);
            let (head, tail) = rest.split_at(free.min(rest.len()));
            rest = tail;
            let (lo, hi) = min_max(head);
            self.min = self.min.min(canonical_key(lo));
            self.max = self.max.max(canonical_key(hi));
            self.reserve_free(head.len());
            let at = self.free() - head.len();
            for (k, &x) in self.items[at..].iter_mut().zip(head) {
                *k = canonical_key(x);
            }
            self.starts[0] = at as u32;
            self.level0_sorted = false;
            self.n += head.len() as u64;
        }
    }

    /// Compacts the lowest level at or over its capacity (DataSketches'
    /// `compress_while_updating`), adding a level on top if that was the top one.
    #[cold]
    fn compress_while_updating(&mut self) {
        let levels = self.levels;
        let level = (0..levels)
            .find(|&h| self.level_len(h) >= self.cap(levels, h))
            .unwrap_or(0);
        if level + 1 == levels {
            self.push_level();
        }
        self.compact(level);
        self.capacity = self.total_cap(self.levels);
    }

    /// Sorts `level` if it is level 0, keeps its smallest key there if its size is odd,
    /// and promotes every other one of the rest (random offset) into the level above,
    /// which must exist. In place: the kept half goes to the front of the level, and
    /// merges with the level above into the rest of it and that level; the levels below
    /// move up into the room left.
    fn compact(&mut self, level: usize) {
        let (at, end) = (self.start(level), self.start(level + 1));
        if level == 0 && !self.level0_sorted {
            self.items[at..end].sort_unstable();
        }
        let len = end - at;
        let odd = len & 1;
        let half = (len - odd) / 2;
        if half > 0 {
            let offset = coin(self.n, level, self.items[at + odd], self.items[end - 1]);
            let base = at + odd;
            for i in 0..half {
                self.items[base + i] = self.items[base + offset + 2 * i];
            }
            let above_end = self.start(level + 2);
            let (kept, rest) = self.items[base..above_end].split_at_mut(half);
            merge_front(rest, kept);
            let free = self.free();
            self.items.copy_within(free..base, free + half);
            shift(&mut self.starts[..=level], half as isize);
            self.starts[level + 1] = (base + half) as u32;
        }
        if level == 0 {
            // At most the smallest key is left.
            self.level0_sorted = true;
        }
    }

    /// After a merge: one pass up the levels compacting each one at or over capacity
    /// while the sketch is over its total capacity (DataSketches' `general_compress`),
    /// then single compactions until it is within capacity.
    fn general_compress(&mut self) {
        let mut levels = self.levels;
        let mut target = self.total_cap(levels);
        let mut level = 0;
        while level < levels {
            let cap = self.cap(levels, level);
            if self.retained() >= target && self.level_len(level) >= cap {
                if level + 1 == self.levels {
                    self.push_level();
                }
                self.compact(level);
                if level + 1 == levels {
                    levels += 1;
                    target += self.cap(levels, 0);
                }
            }
            level += 1;
        }
        while self.levels > 1 && self.level_len(self.levels - 1) == 0 {
            self.levels -= 1;
        }
        self.capacity = self.total_cap(self.levels);
        while self.retained() > self.capacity {
            self.compress_while_updating();
        }
        self.trim();
    }

    /// Merges `other` into this sketch. Counts add exactly; a merge whose count would
    /// overflow `u64` is skipped.
    ///
    /// Each of `other`'s levels is first compacted on its own, for as long as it holds
    /// at least the capacity of the level it is at in the merged sketch (as
    /// [`Kll::update_bulk`], never more often than DataSketches' merge would compact
    /// there, so the bound holds); being sorted, that takes a stride through it, not a
    /// pass (see [`Kll::add_compacted`]). Merging a small sketch into a large one thus
    /// reads a few of its keys, not all of them. Then the levels are compressed as
    /// DataSketches' merge does.
    pub(crate) fn merge(&mut self, other: &Kll) {
        if other.n == 0 {
            return;
        }
        let Some(n) = self.n.checked_add(other.n) else {
            return;
        };
        if other.is_estimation_mode() {
            self.min_k = self.min_k.min(other.min_k);
        }
        self.n = n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        let levels = self.levels.max(other.levels);
        while self.levels < levels {
            self.push_level();
        }
        let sorted0;
        let theirs0 = if other.level0_sorted {
            other.level(0)
        } else {
            let mut l0 = other.level(0).to_vec();
            l0.sort_unstable();
            sorted0 = l0;
            &sorted0
        };
        self.add_compacted(0, theirs0, levels);
        for h in 1..other.levels {
            self.add_compacted(h, other.level(h), levels);
        }
        self.general_compress();
    }

    /// Adds the sorted `keys` of weight `2^level` to a sketch of `levels` levels,
    /// compacting them first while they are at least as many as the capacity of the
    /// level they are at. The compactions are lazy: the kept keys are every
    /// `stride`-th from `base`, so only the keys that stay are read.
    fn add_compacted(&mut self, level: usize, keys: &[u64], levels: usize) {
        let mut lazy = Lazy::new(level, keys.len());
        while let Some((at, stays)) = lazy.step(self, self.n, levels) {
            if let Some(i) = stays {
                // The smallest key stays at this level, as in `compact`.
                self.add_keys(at, &keys[i..=i]);
            }
        }
        let Lazy {
            base,
            stride,
            len,
            at,
            ..
        } = lazy;
        if stride == 1 {
            self.add_keys(at, &keys[base..base + len]);
        } else {
            // Merging into a large sketch keeps a few keys of each level: those fit on
            // the stack.
            let mut stack = [0u64; 64];
            let mut heap = Vec::new();
            let kept = if len <= stack.len() {
                &mut stack[..len]
            } else {
                heap.resize(len, 0);
                &mut heap[..]
            };
            for (k, i) in kept.iter_mut().zip(lazy.kept()) {
                *k = keys[i];
            }
            self.add_keys(at, kept);
        }
    }

    /// Asks for the keys of `other` that merging it into this sketch, as it is now,
    /// reads (the lazy compactions of [`Kll::add_compacted`] read a few keys of each
    /// level, each from another line of memory that another view's sketch left cold):
    /// called one merge ahead, the next merge finds them in cache.
    pub(crate) fn prefetch_merge(&self, other: &Kll) {
        let Some(n) = self.n.checked_add(other.n) else {
            return;
        };
        let levels = self.levels.max(other.levels);
        for h in 0..other.levels {
            let keys = other.level(h);
            if h == 0 && !other.level0_sorted {
                // The merge sorts a copy of it.
                crate::prefetch::slice(keys);
                continue;
            }
            let mut lazy = Lazy::new(h, keys.len());
            while let Some((_, stays)) = lazy.step(self, n, levels) {
                if let Some(i) = stays {
                    crate::prefetch::one(&keys[i]);
                }
            }
            // Eight keys to a line: one prefetch a line (and the last key's).
            let step = (8 / lazy.stride).max(1);
            lazy.kept()
                .step_by(step)
                .chain(lazy.kept().last())
                .for_each(|i| crate::prefetch::one(&keys[i]));
        }
    }

    /// Merges sorted keys into `level` (which exists): the levels below move down to
    /// make room at its front.
    fn add_keys(&mut self, level: usize, keys: &[u64]) {
        let j = keys.len();
        if j == 0 {
            return;
        }
        self.reserve_free(j);
        let (free, at, end) = (self.free(), self.start(level), self.start(level + 1));
        self.items.copy_within(free..at, free - j);
        shift(&mut self.starts[..=level], -(j as isize));
        let dst = &mut self.items[at - j..end];
        if level == 0 && !self.level0_sorted {
            dst[..j].copy_from_slice(keys);
        } else {
            merge_front(dst, keys);
        }
    }

    /// All retained keys, sorted, with their cumulative weights: the snapshot every
    /// quantile and CDF query reads. Upper levels are sorted already; only level 0 is
    /// sorted here, then the levels are merged.
    pub(crate) fn sorted_view(&self) -> SortedView {
        let mut items: Vec<(u64, u64)> = Vec::with_capacity(self.retained());
        items.extend(self.level(0).iter().map(|&k| (k, 1)));
        if !self.level0_sorted {
            items.sort_unstable_by_key(|&(k, _)| k);
        }
        let mut merged = Vec::with_capacity(self.retained());
        for h in 1..self.levels {
            let level = self.level(h);
            if level.is_empty() {
                continue;
            }
            let w = 1u64 << h;
            merged.clear();
            let (mut a, mut b) = (0, 0);
            while a < items.len() && b < level.len() {
                if items[a].0 <= level[b] {
                    merged.push(items[a]);
                    a += 1;
                } else {
                    merged.push((level[b], w));
                    b += 1;
                }
            }
            merged.extend_from_slice(&items[a..]);
            merged.extend(level[b..].iter().map(|&k| (k, w)));
            std::mem::swap(&mut items, &mut merged);
        }
        let mut total = 0u64;
        for item in &mut items {
            total += item.1;
            item.1 = total;
        }
        SortedView {
            items,
            n: self.n,
            min: self.min,
            max: self.max,
        }
    }

    /// The smallest retained value whose cumulative weight over `n` is at least `q`;
    /// `q = 0` gives the exact minimum, `q = 1` the exact maximum.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        self.sorted_view().quantiles(&[q])[0]
    }

    /// The estimated share of values `<= x`.
    pub(crate) fn rank(&self, x: f64) -> Option<f64> {
        if self.n == 0 || x.is_nan() {
            return None;
        }
        let kx = canonical_key(x);
        let mut weight = self.level(0).iter().filter(|&&k| k <= kx).count() as u64;
        for h in 1..self.levels {
            weight += (self.level(h).partition_point(|&k| k <= kx) as u64) << h;
        }
        Some(weight as f64 / self.n as f64)
    }

    /// The estimated share of values `<= p` for each of `points` (any order); `None` if
    /// the sketch is empty or a point is NaN.
    pub(crate) fn cdf(&self, points: &[f64]) -> Option<Vec<f64>> {
        self.sorted_view().cdf(points)
    }
}

/// A sorted snapshot of a [`Kll`]: keys with cumulative weights, for many queries.
#[derive(Debug, Clone)]
pub(crate) struct SortedView {
    items: Vec<(u64, u64)>,
    n: u64,
    min: u64,
    max: u64,
}

impl SortedView {
    /// A search for each query of an iterator: the index of the first item for which
    /// `before` is false. Queries given in ascending order (grids, bin edges: `ordered`)
    /// are answered by one forward walk over the view, the others by binary search.
    fn locate(&self, ordered: bool, at: &mut usize, before: impl Fn(&(u64, u64)) -> bool) -> usize {
        if ordered {
            while *at < self.items.len() && before(&self.items[*at]) {
                *at += 1;
            }
            *at
        } else {
            self.items.partition_point(before)
        }
    }

    /// [`Kll::quantile`] at each of `qs` (any order; `None` out of 0..=1 or if empty).
    pub(crate) fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        let n = self.n as f64;
        let last = self.items.len().saturating_sub(1);
        let (ordered, mut at) = (qs.is_sorted(), 0);
        qs.iter()
            .map(|&q| match q {
                _ if self.n == 0 || !(0.0..=1.0).contains(&q) => None,
                0.0 => Some(value(self.min)),
                1.0 => Some(value(self.max)),
                _ => {
                    let need = q * n;
                    let i = self.locate(ordered, &mut at, |&(_, cum)| (cum as f64) < need);
                    Some(value(self.items[i.min(last)].0))
                }
            })
            .collect()
    }

    /// [`Kll::cdf`] at each of `points`.
    pub(crate) fn cdf(&self, points: &[f64]) -> Option<Vec<f64>> {
        if self.n == 0 || points.iter().any(|p| p.is_nan()) {
            return None;
        }
        let n = self.n as f64;
        let (ordered, mut at) = (points.is_sorted(), 0);
        let out = points
            .iter()
            .map(|&p| {
                let kp = canonical_key(p);
                match self.locate(ordered, &mut at, |&(k, _)| k <= kp) {
                    0 => 0.0,
                    i => self.items[i - 1].1 as f64 / n,
                }
            })
            .collect();
        Some(out)
    }
}

// ---------------------------------------------------------------------------------------
// The bulk path
// ---------------------------------------------------------------------------------------

/// Values the bulk path takes at a time, in a stack buffer.
const BULK: usize = 512;
/// Values at most for which the bulk path's buffers are short ones.
const SHORT: usize = 64;

/// The bulk path's coins: the bits of a SplitMix64 sequence seeded from the stream
/// length and the chunk's first and last keys, so equal streams still give equal
/// sketches.
struct Coins {
    state: u64,
    bits: u64,
    left: u32,
}

impl Coins {
    fn new(n: u64, first: u64, last: u64) -> Self {
        Coins {
            state: SEED ^ n ^ first.rotate_left(17) ^ last.rotate_left(41),
            bits: 0,
            left: 0,
        }
    }

    /// Heads or tails.
    #[inline]
    fn flip(&mut self) -> bool {
        if self.left == 0 {
            self.state = self.state.wrapping_add(1);
            self.bits = splitmix64(self.state);
            self.left = 64;
        }
        let c = self.bits & 1 == 1;
        self.bits >>= 1;
        self.left -= 1;
        c
    }
}

/// One level of the bulk path over `buf[..len]` (a multiple of [`BLOCK`]): orders the
/// blocks with `network`, which keeps the [`RUN`] values at each block's even or odd
/// positions (a coin each, flipped in the blocks' order), written in order to the front
/// of `buf`; widens `extremes` to the blocks' smallest and largest values. Returns how
/// many values are left. Blocks go [`LANES`] at a time through the `wide` networks where
/// the processor has them, the rest two at a time: the same runs either way.
fn compact_blocks(
    buf: &mut [f64],
    len: usize,
    coins: &mut Coins,
    extremes: &mut (f64, f64),
    network: Network,
    wide: Option<Wide>,
) -> usize {
    let blocks = len / BLOCK;
    let mut b = 0;
    let mut widen = |(lo, hi): (f64, f64)| {
        extremes.0 = extremes.0.min(lo);
        extremes.1 = extremes.1.max(hi);
    };
    if let Some(wide) = wide {
        while blocks - b >= LANES {
            let flips = (0..LANES).fold(0u8, |m, j| m | u8::from(coins.flip()) << j);
            widen(wide.halve(network, buf, b, flips));
            b += LANES;
        }
    }
    while b < blocks {
        // A lone last block is ordered beside a copy of itself, which is dropped.
        let lanes = (blocks - b).min(2);
        let block = |i: usize| -> [f64; BLOCK] {
            let mut v = [0.0; BLOCK];
            v.copy_from_slice(&buf[i * BLOCK..][..BLOCK]);
            v
        };
        let first = block(b);
        let second = if lanes == 2 { block(b + 1) } else { first };
        let h = network.halve(&first, &second, [coins.flip(), coins.flip()]);
        widen((h.lo, h.hi));
        // Block `b + lane` leaves its run at `(b + lane) · RUN`, below every block not
        // read yet.
        for (lane, run) in h.runs.iter().enumerate().take(lanes) {
            buf[(b + lane) * RUN..][..RUN].copy_from_slice(run);
        }
        b += lanes;
    }
    blocks * RUN
}

impl Kll {
    /// How many bottom levels the bulk path compacts itself: those below the top whose
    /// capacity is at most [`BLOCK`]. Capacities only shrink as the sketch grows levels,
    /// so a block of [`BLOCK`] values is never compacted where DataSketches' schedule
    /// would wait for more: compactions at each of these levels are no more frequent
    /// than in [`Kll::update`], and the rank-error bound holds.
    fn bulk_depth(&self) -> usize {
        let levels = self.levels;
        (0..levels - 1)
            .take_while(|&h| self.cap(levels, h) <= BLOCK)
            .count()
    }

    /// Adds up to [`BULK`] finite values when the `depth` bottom levels are left to the
    /// bulk path: level 0 is sorted in blocks of [`BLOCK`] by a sorting network and each
    /// block compacted to [`RUN`] values of weight 2; at each level above, up to `depth`,
    /// pairs of runs are merged by a merging network and compacted again. What reaches
    /// level `depth` (or is left over, an odd run at some level, or the values after the
    /// last whole block) joins the sketch's levels, which are then compressed as after
    /// an update. A fifth of the time of [`Kll::update`] on each value (`benches/`).
    fn update_bulk(&mut self, xs: &[f64], depth: usize) {
        debug_assert!(xs.len() <= BULK && depth < self.levels);
        let whole = xs.len() / BLOCK * BLOCK;
        let (head, tail) = xs.split_at(whole);
        // Short slices (a live profile's 32 held rows) get a short buffer: zeroing 4 KiB
        // a call cost more than their updates.
        if whole <= SHORT {
            self.update_blocks(&mut [0.0; SHORT][..whole], head, depth);
        } else {
            self.update_blocks(&mut [0.0; BULK][..whole], head, depth);
        }
        while self.retained() > self.capacity {
            self.compress_while_updating();
        }
        self.append(tail);
    }

    /// The whole blocks of [`Kll::update_bulk`]: `head`, copied into `buf` (as long).
    fn update_blocks(&mut self, buf: &mut [f64], head: &[f64], depth: usize) {
        let whole = head.len();
        for (b, &x) in buf.iter_mut().zip(head) {
            *b = x + 0.0;
        }
        if whole > 0 {
            self.n += whole as u64;
            let mut coins = Coins::new(self.n, key(buf[0]), key(buf[whole - 1]));
            let mut extremes = (f64::INFINITY, f64::NEG_INFINITY);
            let wide = Wide::new();
            let mut len =
                compact_blocks(buf, whole, &mut coins, &mut extremes, Network::Sort, wide);
            self.min = self.min.min(key(extremes.0));
            self.max = self.max.max(key(extremes.1));
            for level in 1..depth {
                if (len / RUN) % 2 == 1 {
                    len -= RUN;
                    self.add_values(level, &buf[len..len + RUN]);
                }
                len = compact_blocks(buf, len, &mut coins, &mut extremes, Network::Merge, wide);
            }
            // Runs of weight 2^depth, each sorted, sorted together by `add_values`.
            self.add_values(depth, &buf[..len]);
        }
    }

    /// Merges canonical finite values into `level` (at least 1, existing).
    fn add_values(&mut self, level: usize, xs: &[f64]) {
        if xs.len() <= SHORT {
            self.add_values_with(level, xs, &mut [0; SHORT][..xs.len()]);
        } else {
            self.add_values_with(level, xs, &mut [0; BULK][..xs.len()]);
        }
    }

    /// [`Kll::add_values`] with `keys` as long as `xs` to sort them in.
    fn add_values_with(&mut self, level: usize, xs: &[f64], keys: &mut [u64]) {
        for (k, &x) in keys.iter_mut().zip(xs) {
            *k = key(x);
        }
        keys.sort_unstable();
        self.add_keys(level, keys);
    }
}

// ---------------------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------------------

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bits packed least significant first.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `v` (`n <= 32`).
    fn put(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 32);
        let v = if n == 0 {
            0
        } else {
            v & (u64::MAX >> (64 - n))
        };
        self.acc |= v << self.bits;
        self.bits += n;
        while self.bits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits -= 8;
        }
    }

    /// Appends the low `n` bits of `v` (`n <= 64`).
    fn put_wide(&mut self, v: u64, n: u32) {
        if n > 32 {
            self.put(v, 32);
            self.put(v >> 32, n - 32);
        } else {
            self.put(v, n);
        }
    }

    /// Exponential-Golomb code of order `b`: the quotient `q = (v >> b) + 1` in Elias
    /// gamma (its length − 1 in zeros, then its bits from the top), then `b` low bits.
    fn exp_golomb(&mut self, v: u64, b: u32) {
        let q = u128::from(v >> b) + 1;
        let len = 128 - q.leading_zeros(); // 1..=65
        for _ in 0..len - 1 {
            self.put(0, 1);
        }
        self.put(1, 1);
        // The bits of q below its top bit, most significant first.
        for i in (0..len - 1).rev() {
            self.put((q >> i) as u64 & 1, 1);
        }
        self.put_wide(v, b);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Bits of an Exp-Golomb code of order `b` for `v`.
fn exp_golomb_len(v: u64, b: u32) -> u64 {
    let q = u128::from(v >> b) + 1;
    let len = u64::from(128 - q.leading_zeros());
    2 * len - 1 + u64::from(b)
}

/// The gaps between consecutive keys of a sorted level, the first one from `base`.
fn gaps(level: &[u64], base: u64) -> impl Iterator<Item = u64> + '_ {
    let mut prev = base;
    level.iter().map(move |&k| {
        let g = k - prev;
        prev = k;
        g
    })
}

/// The Exp-Golomb order that codes `level`'s gaps in the fewest bits.
fn best_order(level: &[u64], base: u64) -> u32 {
    (0..64)
        .min_by_key(|&b| gaps(level, base).map(|g| exp_golomb_len(g, b)).sum::<u64>())
        .unwrap_or(0)
}

/// Reads [`Kll::to_bytes`]' fields, each checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self, what: &str) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| format!("truncated before {what}"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self, what: &str) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte(what)?;
            let bits = u64::from(b & 0x7F);
            if shift == 63 && bits > 1 {
                return Err(format!("{what} overflows 64 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("{what} overflows 64 bits"))
    }

    fn f64(&mut self, what: &str) -> Result<f64, String> {
        let end = self.pos + 8;
        let b = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| format!("truncated before {what}"))?;
        self.pos = end;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }
}

/// Bits read least significant first, as [`BitWriter`] wrote them.
struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl BitReader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }

    /// The next `n <= 32` bits.
    fn get(&mut self, n: u32) -> Result<u64, String> {
        if n == 0 {
            return Ok(0);
        }
        if (n as usize) > self.remaining() {
            return Err("truncated in the retained values".into());
        }
        let byte = self.pos / 8;
        let end = (byte + 8).min(self.bytes.len());
        let mut a = [0u8; 8];
        a[..end - byte].copy_from_slice(&self.bytes[byte..end]);
        let v = (u64::from_le_bytes(a) >> (self.pos % 8)) & (u64::MAX >> (64 - n));
        self.pos += n as usize;
        Ok(v)
    }

    fn get_wide(&mut self, n: u32) -> Result<u64, String> {
        if n > 32 {
            let lo = self.get(32)?;
            Ok(lo | (self.get(n - 32)? << 32))
        } else {
            self.get(n)
        }
    }

    fn exp_golomb(&mut self, b: u32) -> Result<u64, String> {
        let mut zeros = 0u32;
        while self.get(1)? == 0 {
            zeros += 1;
            if zeros > 64 {
                return Err("a gap code is longer than 64 bits".into());
            }
        }
        let mut q = 1u128;
        for _ in 0..zeros {
            q = (q << 1) | u128::from(self.get(1)?);
        }
        let high = q - 1;
        if b < 64 && high >> (64 - b) != 0 {
            return Err("a gap overflows 64 bits".into());
        }
        let low = self.get_wide(b)?;
        Ok(((high as u64) << b) | low)
    }
}

impl Kll {
    /// The compact serialization: a version byte, `k`, `min_k` and `n` as varints; if
    /// `n > 0`, the exact minimum and maximum (little-endian `f64`), the number of levels
    /// (one byte), each level's size (varints), then a bit stream with, per non-empty
    /// level, a 6-bit Exp-Golomb order and the gaps between its sorted keys (the first
    /// from the minimum's key), so a level of `m` keys over a key range `R` takes about
    /// `m · (log2(R / m) + 2)` bits.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        write_varint(&mut out, u64::from(self.k));
        write_varint(&mut out, u64::from(self.min_k));
        write_varint(&mut out, self.n);
        if self.n == 0 {
            return out;
        }
        out.extend_from_slice(&value(self.min).to_le_bytes());
        out.extend_from_slice(&value(self.max).to_le_bytes());
        out.push(self.levels as u8);
        for level in 0..self.levels {
            write_varint(&mut out, self.level_len(level) as u64);
        }
        let mut level0 = self.level(0).to_vec();
        if !self.level0_sorted {
            level0.sort_unstable();
        }
        let mut bits = BitWriter {
            out,
            acc: 0,
            bits: 0,
        };
        let upper = (1..self.levels).map(|h| self.level(h));
        for level in std::iter::once(&level0[..]).chain(upper) {
            if level.is_empty() {
                continue;
            }
            let b = best_order(level, self.min);
            bits.put(u64::from(b), 6);
            for g in gaps(level, self.min) {
                bits.exp_golomb(g, b);
            }
        }
        bits.finish()
    }

    /// Reads [`Kll::to_bytes`]' output, checking every field and invariant.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Kll, String> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.byte("the version")?;
        if version != VERSION {
            return Err(format!(
                "unknown version {version} (this build reads {VERSION})"
            ));
        }
        let k = r.varint("k")?;
        let min_k = r.varint("min k")?;
        let n = r.varint("the count")?;
        let floor = u64::from(MIN_LEVEL_CAPACITY);
        if !(floor..=u64::from(u16::MAX)).contains(&k) {
            return Err(format!("k {k} is outside {floor}..=65535"));
        }
        if !(floor..=k).contains(&min_k) {
            return Err(format!("min k {min_k} is outside {floor}..={k}"));
        }
        let (k, min_k) = (k as u16, min_k as u16);
        let mut sketch = Kll::new(k);
        sketch.min_k = min_k;
        if n == 0 {
            if r.pos != bytes.len() {
                return Err("bytes after an empty sketch".into());
            }
            if min_k != k {
                return Err("an empty sketch with min k below k".into());
            }
            return Ok(sketch);
        }
        let (min, max) = (r.f64("the minimum")?, r.f64("the maximum")?);
        for (name, v) in [("minimum", min), ("maximum", max)] {
            if !v.is_finite() || v.to_bits() == (-0.0f64).to_bits() {
                return Err(format!("the {name} {v:?} is not a finite, canonical value"));
            }
        }
        if min > max {
            return Err(format!("minimum {min} above maximum {max}"));
        }
        let (kmin, kmax) = (key(min), key(max));
        let levels = usize::from(r.byte("the number of levels")?);
        if !(1..=MAX_LEVELS).contains(&levels) {
            return Err(format!("{levels} levels (1..={MAX_LEVELS} allowed)"));
        }
        let capacity = total_capacity(k, levels);
        let mut sizes = Vec::with_capacity(levels);
        let (mut weight, mut retained) = (0u64, 0usize);
        for level in 0..levels {
            let size = r.varint("a level size")?;
            let too_many = || format!("{size} values at level {level}: over capacity {capacity}");
            let size_usize = usize::try_from(size).map_err(|_| too_many())?;
            retained = retained
                .checked_add(size_usize)
                .filter(|&t| t <= capacity)
                .ok_or_else(too_many)?;
            weight = size
                .checked_mul(1u64 << level)
                .and_then(|w| weight.checked_add(w))
                .ok_or_else(|| format!("level {level}'s weight overflows 64 bits"))?;
            sizes.push(size_usize);
        }
        if weight != n {
            return Err(format!("the levels weigh {weight}, the count says {n}"));
        }
        if sizes[levels - 1] == 0 {
            return Err("the top level is empty".into());
        }
        let mut bits = BitReader {
            bytes: &bytes[r.pos..],
            pos: 0,
        };
        if retained > bits.remaining() {
            return Err(format!(
                "{retained} values cannot fit in {} bytes",
                bytes.len() - r.pos
            ));
        }
        let mut read = Vec::with_capacity(levels);
        for (level, &size) in sizes.iter().enumerate() {
            let mut keys = Vec::with_capacity(size);
            if size > 0 {
                let b = bits.get(6)? as u32;
                let mut prev = kmin;
                for _ in 0..size {
                    let g = bits.exp_golomb(b)?;
                    prev = prev
                        .checked_add(g)
                        .filter(|&k| k <= kmax)
                        .ok_or_else(|| format!("a value at level {level} is above the maximum"))?;
                    let v = value(prev);
                    if !v.is_finite() || v.to_bits() == (-0.0f64).to_bits() {
                        return Err(format!("level {level} holds {v:?}"));
                    }
                    keys.push(prev);
                }
            }
            read.push(keys);
        }
        if bits.remaining() >= 8 {
            return Err("bytes after the retained values".into());
        }
        if bits.remaining() > 0 && bits.get(bits.remaining() as u32)? != 0 {
            return Err("stray bits after the retained values".into());
        }
        if levels == 1 {
            let level0 = &read[0];
            if level0.first() != Some(&kmin) || level0.last() != Some(&kmax) {
                return Err(
                    "an exact sketch whose extremes are not its first and last values".into(),
                );
            }
            if min_k != k {
                return Err("an exact sketch with min k below k".into());
            }
        }
        sketch.items = Vec::with_capacity(retained);
        for (h, keys) in read.iter().enumerate() {
            sketch.starts[h] = sketch.items.len() as u32;
            sketch.items.extend_from_slice(keys);
        }
        sketch.starts[levels] = sketch.items.len() as u32;
        sketch.levels = levels;
        sketch.n = n;
        sketch.min = kmin;
        sketch.max = kmax;
        sketch.capacity = capacity;
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the wide networks or without, a level of the bulk path leaves the same runs
    /// and extremes and draws the same coins: for every count of blocks from 1 to 40
    /// (wide stretches, the two-block tail, a lone last block), for both networks.
    #[test]
    fn wide_networks_leave_the_bulk_path_as_it_was() {
        let Some(wide) = Wide::new() else {
            eprintln!("no AVX-512F here: the wide networks are not run");
            return;
        };
        for network in [Network::Sort, Network::Merge] {
            for blocks in 1..=40 {
                let mut xs = stream(blocks * BLOCK, blocks as u64);
                // Ties, and (to merge) blocks whose halves are each sorted.
                xs.iter_mut().step_by(5).for_each(|x| *x = x.round());
                if network == Network::Merge {
                    xs.chunks_mut(RUN).for_each(|r| r.sort_by(f64::total_cmp));
                }
                let level = |wide: Option<Wide>| {
                    let mut buf = xs.clone();
                    let mut coins = Coins::new(blocks as u64, 1, 2);
                    let mut extremes = (f64::INFINITY, f64::NEG_INFINITY);
                    let len = compact_blocks(
                        &mut buf,
                        xs.len(),
                        &mut coins,
                        &mut extremes,
                        network,
                        wide,
                    );
                    buf.truncate(len);
                    let next: Vec<bool> = (0..100).map(|_| coins.flip()).collect();
                    (buf, extremes, next)
                };
                let (two, wide) = (level(None), level(Some(wide)));
                assert_eq!(two.0.len(), blocks * RUN);
                assert_eq!(wide, two, "{network:?}, {blocks} blocks");
            }
        }
    }

    /// A sketch fed value by value, in slices, or by merges keeps its keys in one
    /// buffer about its capacity long, level bounds in order, each upper level sorted.
    #[test]
    fn levels_stay_in_one_buffer_within_capacity() {
        let xs = stream(300_000, 9);
        let mut one = Kll::new(200);
        let mut bulk = Kll::new(200);
        let mut merged = Kll::new(200);
        for (i, chunk) in xs.chunks(1000).enumerate() {
            chunk.iter().for_each(|&x| one.update(x));
            for part in chunk.chunks(32) {
                bulk.update_slice(part);
            }
            let mut part = Kll::new(200);
            part.update_slice(chunk);
            merged.merge(&part);
            for s in [&one, &bulk, &merged] {
                let bounds = &s.starts[..=s.levels];
                assert!(
                    bounds.windows(2).all(|w| w[0] <= w[1]),
                    "at {i}: {bounds:?}"
                );
                assert_eq!(s.start(s.levels), s.items.len());
                let in_levels: usize = (0..s.levels).map(|h| s.level_len(h)).sum();
                assert_eq!(in_levels, s.retained());
                assert!(s.retained() <= s.capacity);
                assert!((1..s.levels).all(|h| s.level(h).is_sorted()));
            }
            // Value by value, the buffer is the capacity; in slices of 32 and after
            // merges, that and what one slice or merge adds before it is compressed.
            assert!(one.items.len() <= one.capacity + 8, "{}", one.items.len());
            assert!(
                bulk.items.len() <= bulk.capacity + 32,
                "{}",
                bulk.items.len()
            );
            assert!(merged.items.len() <= 2 * (merged.capacity + 1000));
        }
    }

    /// A deterministic stream of `n` well-spread values (a LCG, no `rand` needed here).
    fn stream(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e3
            })
            .collect()
    }

    /// The largest gap between the sketch's rank of each sorted value and its true rank.
    fn max_rank_error(sketch: &Kll, xs: &[f64]) -> f64 {
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        sorted
            .iter()
            .step_by(97)
            .map(|&x| {
                let truth = sorted.partition_point(|&y| y <= x) as f64 / n;
                (sketch.rank(x).unwrap() - truth).abs()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn keys_preserve_order_and_round_trip() {
        let xs = [
            f64::MIN,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            5e-324,
            1.0,
            f64::MAX,
        ];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(value(key(x)).to_bits(), x.to_bits());
        }
        assert_eq!(canonical_key(-0.0), key(0.0));
    }

    #[test]
    fn capacities_match_datasketches() {
        // DataSketches' KLL with k = 200: the top levels hold 200, 133, 89, 59, ... and
        // nothing goes below 8.
        assert_eq!(depth_capacity(200, 0), 200);
        assert_eq!(depth_capacity(200, 1), 133);
        assert_eq!(depth_capacity(200, 2), 89);
        assert_eq!(depth_capacity(200, 3), 59);
        assert_eq!(level_capacity(200, 20, 0), 8);
        assert!((normalized_rank_error(272) - 0.00986).abs() < 5e-5);
    }

    #[test]
    fn within_the_rank_bound_and_exact_at_the_extremes() {
        let xs = stream(200_000, 1);
        let mut sketch = Kll::new(272);
        xs.iter().for_each(|&x| sketch.update(x));
        assert_eq!(sketch.n(), 200_000);
        assert!(sketch.is_estimation_mode());
        assert!(sketch.retained() < 2_000, "{} retained", sketch.retained());
        let err = max_rank_error(&sketch, &xs);
        assert!(err <= sketch.rank_error_bound(), "rank error {err}");
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(sketch.quantile(0.0), Some(lo));
        assert_eq!(sketch.quantile(1.0), Some(hi));
    }

    #[test]
    fn slices_give_the_same_sketch_as_single_updates_while_levels_are_large() {
        // Below the bulk path's sizes, slices only fill level 0 faster.
        let xs = stream(20_000, 2);
        let mut one = Kll::new(272);
        xs.iter().for_each(|&x| one.update(x));
        let mut sliced = Kll::new(272);
        for chunk in xs.chunks(777) {
            sliced.update_slice(chunk);
        }
        assert!(one.is_estimation_mode());
        assert_eq!(sliced.bulk_depth(), 0, "the bulk path was not used");
        assert_eq!(one, sliced);
        assert_eq!(one.to_bytes(), sliced.to_bytes());
    }

    #[test]
    fn the_bulk_path_is_as_accurate_as_single_updates() {
        // Over several streams, the bulk path's largest rank error stays within the
        // bound, and on average is no worse than value-by-value updates (it compacts
        // its bottom levels no more often).
        let (mut bulk_sum, mut one_sum) = (0.0, 0.0);
        for seed in 0..6 {
            let xs = stream(300_000, 100 + seed);
            let mut one = Kll::new(272);
            xs.iter().for_each(|&x| one.update(x));
            let mut bulk = Kll::new(272);
            bulk.update_slice(&xs);
            assert!(bulk.bulk_depth() >= 2, "depth {}", bulk.bulk_depth());
            assert_eq!(bulk.n(), one.n());
            assert!(bulk.retained() <= bulk.capacity);
            assert_eq!(bulk.extremes(), one.extremes());
            let (eb, eo) = (max_rank_error(&bulk, &xs), max_rank_error(&one, &xs));
            eprintln!("seed {seed}: bulk {eb:.5}, one by one {eo:.5}");
            assert!(eb <= bulk.rank_error_bound(), "rank error {eb}");
            bulk_sum += eb;
            one_sum += eo;
        }
        assert!(bulk_sum <= 1.2 * one_sum, "{bulk_sum} vs {one_sum}");
    }

    #[test]
    fn the_same_stream_gives_the_same_bytes() {
        let xs = stream(30_000, 3);
        let build = || {
            let mut s = Kll::new(272);
            s.update_slice(&xs);
            s.to_bytes()
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn merged_parts_keep_the_bound() {
        let xs = stream(120_000, 4);
        let mut merged = Kll::new(272);
        for part in xs.chunks(10_000) {
            let mut s = Kll::new(272);
            s.update_slice(part);
            merged.merge(&s);
        }
        assert_eq!(merged.n(), 120_000);
        assert!(merged.retained() <= total_capacity(272, merged.levels));
        let err = max_rank_error(&merged, &xs);
        assert!(err <= merged.rank_error_bound(), "rank error {err}");
    }

    #[test]
    fn many_small_sketches_merge_within_the_bound() {
        // Most of these merges compact the small side's levels on their own first.
        let xs = stream(400_000, 9);
        let mut merged = Kll::new(272);
        for part in xs.chunks(1_000) {
            let mut s = Kll::new(272);
            s.update_slice(part);
            merged.merge(&s.clone());
        }
        assert_eq!(merged.n(), 400_000);
        assert!(merged.retained() <= merged.capacity);
        assert_eq!(merged.extremes(), Some(min_max(&xs)));
        let err = max_rank_error(&merged, &xs);
        assert!(err <= merged.rank_error_bound(), "rank error {err}");
    }

    #[test]
    fn serialization_round_trips_exactly() {
        for n in [0, 1, 7, 300, 5_000, 80_000] {
            let mut s = Kll::new(272);
            s.update_slice(&stream(n, 5));
            let bytes = s.to_bytes();
            let back = Kll::from_bytes(&bytes).unwrap();
            assert_eq!(back, s, "n = {n}");
            assert_eq!(back.to_bytes(), bytes, "n = {n}");
        }
    }

    #[test]
    fn serialization_is_compact() {
        let mut s = Kll::new(272);
        s.update_slice(&stream(1_000_000, 6));
        let bytes = s.to_bytes().len();
        assert!(
            bytes < 8 * s.retained(),
            "{bytes} bytes for {} keys",
            s.retained()
        );
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let mut s = Kll::new(64);
        s.update_slice(&stream(5_000, 7));
        let bytes = s.to_bytes();
        for cut in 0..bytes.len() {
            assert!(Kll::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut accepted = 0;
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                // Either an error, or a sketch that is valid by every invariant.
                if let Ok(k) = Kll::from_bytes(&b) {
                    accepted += 1;
                    assert!(k.retained() <= k.capacity);
                    let _ = k.quantile(0.5);
                }
            }
        }
        assert!(accepted < bytes.len() * 8);
        let mut long = bytes.clone();
        long.push(0);
        assert!(Kll::from_bytes(&long).is_err());
        assert!(Kll::from_bytes(&[VERSION, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }

    #[test]
    fn batched_queries_equal_single_ones() {
        let mut s = Kll::new(64);
        s.update_slice(&stream(20_000, 8));
        let view = s.sorted_view();
        let grid: Vec<f64> = (0..=400).map(|i| f64::from(i) / 400.0).collect();
        let single: Vec<Option<f64>> = grid.iter().map(|&q| s.quantile(q)).collect();
        assert_eq!(view.quantiles(&grid), single);
        let points: Vec<f64> = (-600..=600).map(f64::from).collect();
        let cdf: Vec<f64> = points.iter().map(|&p| s.rank(p).unwrap()).collect();
        assert_eq!(view.cdf(&points), Some(cdf.clone()));
        let mut reversed = points.clone();
        reversed.reverse();
        let mut back = view.cdf(&reversed).unwrap();
        back.reverse();
        assert_eq!(back, cdf);
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let mut s = Kll::new(16);
        s.update_slice(&[1.0, f64::NAN, f64::INFINITY, 2.0]);
        s.update(f64::NEG_INFINITY);
        assert_eq!(s.n(), 2);
        assert_eq!(s.quantile(1.0), Some(2.0));
        assert_eq!(s.rank(f64::NAN), None);
    }
}
