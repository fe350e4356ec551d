//! Deterministic test data shared by the engine's integration tests.
#![allow(dead_code)]

/// SplitMix64: a fixed stream per seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The red-wine data: column names and columns (`../shared/data/` from the project).
pub fn wine_columns(file: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut lines = text.lines();
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .split(';')
        .map(|h| h.trim_matches('"').to_owned())
        .collect();
    let mut cols = vec![Vec::new(); names.len()];
    for line in lines.filter(|l| !l.is_empty()) {
        for (c, f) in line.split(';').enumerate() {
            cols[c].push(f.parse::<f64>().unwrap());
        }
    }
    (names, cols)
}

/// The largest distance between a requested rank and the true rank interval of the
/// value returned for it, over ranks 0.01..=0.99.
pub fn max_rank_error(sorted: &[f64], quantile: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    (1..=99)
        .map(|i| {
            let q = i as f64 / 100.0;
            let v = quantile(q);
            let below = sorted.partition_point(|&x| x < v) as f64 / n;
            let upto = sorted.partition_point(|&x| x <= v) as f64 / n;
            if q < below {
                below - q
            } else if q > upto {
                q - upto
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}
