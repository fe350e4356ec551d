//! The distribution functions drift tests need: Kolmogorov's for KS p-values and the
//! chi-squared survival function (regularized upper incomplete gamma).

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; ~15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized upper incomplete gamma function `Q(a, x)`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 || a <= 0.0 {
        return 1.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        // Series for P(a, x).
        let (mut sum, mut del, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (1.0 - sum * (-x + a * x.ln() - gln).exp()).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        ((-x + a * x.ln() - gln).exp() * h).clamp(0.0, 1.0)
    }
}

/// `P(X > x)` for X chi-squared with `df` degrees of freedom.
///
/// ```
/// use sextant::drift::stats::chi2_sf;
/// assert!((chi2_sf(3.841_458_820_694_124, 1.0) - 0.05).abs() < 1e-9);
/// assert!((chi2_sf(18.307_038_053_275_146, 10.0) - 0.05).abs() < 1e-9);
/// ```
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// Kolmogorov's survival function `Q(λ) = 2 Σ (−1)^(k−1) exp(−2 k² λ²)`.
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=200 {
        let term = sign * (-2.0 * (k * k) as f64 * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-16 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// The asymptotic p-value of a two-sample KS statistic `d` for sample sizes `n` and
/// `m`, with Stephens' small-sample correction (as Numerical Recipes' `kstwo`).
///
/// ```
/// use sextant::drift::stats::ks_p_value;
/// // The 5 % critical value for n = m = 1000 is about 0.0607.
/// let p = ks_p_value(0.0607, 1000, 1000);
/// assert!((p - 0.05).abs() < 0.005, "{p}");
/// ```
pub fn ks_p_value(d: f64, n: u64, m: u64) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let en = ((n as f64 * m as f64) / (n + m) as f64).sqrt();
    kolmogorov_sf((en + 0.12 + 0.11 / en) * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..20 {
            f *= n as f64;
            assert!((ln_gamma(n as f64 + 1.0) - f.ln()).abs() < 1e-10, "{n}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn chi2_sf_matches_known_quantiles() {
        // scipy.stats.chi2.sf at known points.
        for (x, df, p) in [
            (0.0, 3.0, 1.0),
            (6.634_896_601_021_214, 1.0, 0.01),
            (11.070_497_693_516_351, 5.0, 0.05),
            (124.342_113_404_004_08, 100.0, 0.05),
            (1.0, 4.0, 0.909_795_989_569_094_6),
        ] {
            assert!((chi2_sf(x, df) - p).abs() < 1e-9, "x={x} df={df}");
        }
    }

    #[test]
    fn kolmogorov_matches_known_values() {
        // Q(1.3581) ≈ 0.05, Q(1.6276) ≈ 0.01.
        assert!((kolmogorov_sf(1.358_098_79) - 0.05).abs() < 1e-6);
        assert!((kolmogorov_sf(1.627_624_1) - 0.01).abs() < 1e-6);
        assert_eq!(kolmogorov_sf(0.0), 1.0);
    }
}
