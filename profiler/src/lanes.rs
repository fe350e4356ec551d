//! Passes over slices of `f64` written with four independent accumulators, so that the
//! compiler can keep them in vector registers: a plain `fold` is one long chain of
//! dependent additions or comparisons, about four times slower on the column paths.

/// Accumulator lanes.
const LANES: usize = 4;

/// Folds `xs` into four lanes with `step`, each lane starting at `init`.
#[inline(always)]
fn fold4<A: Copy>(xs: &[f64], init: A, step: impl Fn(A, f64) -> A) -> [A; LANES] {
    let mut acc = [init; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = step(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = step(*a, x);
    }
    acc
}

/// Whether every value is finite.
#[inline]
pub(crate) fn all_finite(xs: &[f64]) -> bool {
    fold4(xs, true, |a, x| a & x.is_finite()).iter().all(|&a| a)
}

/// The smallest and largest of finite values (`(+∞, −∞)` if there are none).
#[inline]
pub(crate) fn min_max(xs: &[f64]) -> (f64, f64) {
    let lanes = fold4(xs, (f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    lanes
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(l, h)| {
            (lo.min(l), hi.max(h))
        })
}

/// The sum of `f(x)` over `xs`.
#[inline]
pub(crate) fn sum_of(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    fold4(xs, 0.0, |a, x| a + f(x)).iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_plain_folds() {
        for n in [0, 1, 3, 4, 5, 17, 512] {
            let xs: Vec<f64> = (0..n).map(|i| ((i * 37) % 23) as f64 - 11.5).collect();
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(min_max(&xs), (lo, hi), "n = {n}");
            let sum: f64 = xs.iter().sum();
            assert!((sum_of(&xs, |x| x) - sum).abs() < 1e-9, "n = {n}");
            assert!(all_finite(&xs));
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut ys = xs.clone();
                ys.push(bad);
                assert!(!all_finite(&ys), "n = {n}, {bad}");
            }
        }
    }
}
