//! Metadata of free text: lengths and character classes, never the text itself.
//!
//! A text feature may carry personal data, so by default only these numbers are kept.
//! Per value: its length in characters, its number of words (runs of non-whitespace),
//! its average word length, and its counts of digits, letters, whitespace, uppercase
//! letters and other ("special") characters. Each becomes a [`Distribution`].

use crate::Distribution;
use serde::{Deserialize, Serialize};

/// One text value's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TextStats {
    /// Length in Unicode scalar values.
    pub chars: u32,
    /// Number of whitespace-separated words.
    pub words: u32,
    /// Mean characters per word (0 when there are no words).
    pub avg_word_len: f64,
    /// Decimal digits (Unicode `Nd`).
    pub digits: u32,
    /// Alphabetic characters.
    pub letters: u32,
    /// Whitespace characters.
    pub whitespace: u32,
    /// Uppercase letters.
    pub uppercase: u32,
    /// Everything that is neither letter, digit nor whitespace.
    pub special: u32,
}

impl TextStats {
    /// Measures one text value.
    ///
    /// ```
    /// let s = sextant::text::TextStats::of("Hello, World 42!");
    /// assert_eq!((s.chars, s.words, s.digits, s.uppercase), (16, 3, 2, 2));
    /// assert_eq!((s.letters, s.whitespace, s.special), (10, 2, 2));
    /// assert!((s.avg_word_len - 14.0 / 3.0).abs() < 1e-12);
    /// ```
    pub fn of(text: &str) -> TextStats {
        let mut s = TextStats::default();
        let mut in_word = false;
        let mut word_chars = 0u32;
        for c in text.chars() {
            s.chars += 1;
            if c.is_whitespace() {
                s.whitespace += 1;
                in_word = false;
                continue;
            }
            word_chars += 1;
            if !in_word {
                s.words += 1;
                in_word = true;
            }
            if c.is_numeric() {
                s.digits += 1;
            } else if c.is_alphabetic() {
                s.letters += 1;
                if c.is_uppercase() {
                    s.uppercase += 1;
                }
            } else {
                s.special += 1;
            }
        }
        if s.words > 0 {
            s.avg_word_len = f64::from(word_chars) / f64::from(s.words);
        }
        s
    }
}

/// The names of the text metadata distributions, in [`TextMetrics::distributions`]
/// order.
pub const TEXT_METRICS: [&str; 8] = [
    "char_length",
    "word_count",
    "avg_word_length",
    "digits",
    "letters",
    "whitespace",
    "uppercase",
    "special",
];

/// Distributions of text metadata over many values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TextMetrics {
    dists: [Distribution; 8],
}

impl TextMetrics {
    /// Records one text value's metadata.
    pub fn update(&mut self, text: &str) {
        let s = TextStats::of(text);
        let values = [
            f64::from(s.chars),
            f64::from(s.words),
            s.avg_word_len,
            f64::from(s.digits),
            f64::from(s.letters),
            f64::from(s.whitespace),
            f64::from(s.uppercase),
            f64::from(s.special),
        ];
        for (d, v) in self.dists.iter_mut().zip(values) {
            d.update(v);
        }
    }

    /// Empties every distribution, keeping their buffers.
    pub fn reset(&mut self) {
        self.dists.iter_mut().for_each(Distribution::reset);
    }

    /// Merges `other` into these metrics.
    pub fn merge(&mut self, other: &TextMetrics) {
        for (a, b) in self.dists.iter_mut().zip(&other.dists) {
            a.merge(b);
        }
    }

    /// Each metadata distribution with its name (see [`TEXT_METRICS`]).
    pub fn distributions(&self) -> impl Iterator<Item = (&'static str, &Distribution)> {
        TEXT_METRICS.into_iter().zip(self.dists.iter())
    }
}
