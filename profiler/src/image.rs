//! Metadata of images: size, shape, per-channel mean and spread, brightness.
//!
//! Measured from raw 8-bit pixels ([`ImageStats::from_pixels`]: gray, RGB or RGBA,
//! row-major, tightly packed) or, with the cargo feature `image`, from PNG or JPEG bytes
//! (`ImageStats::from_encoded`). The pixels themselves are never kept.

use crate::Distribution;
use serde::{Deserialize, Serialize};

/// How raw pixels are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// One byte per pixel.
    Gray,
    /// Three bytes per pixel: red, green, blue.
    Rgb,
    /// Four bytes per pixel: red, green, blue, alpha (alpha is not measured).
    Rgba,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub const fn bytes(self) -> usize {
        match self {
            PixelFormat::Gray => 1,
            PixelFormat::Rgb => 3,
            PixelFormat::Rgba => 4,
        }
    }
}

/// Why pixels could not be measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The buffer's length does not match width × height × bytes per pixel.
    #[error("pixel buffer holds {actual} bytes; {width}×{height} {format:?} needs {expected}")]
    WrongLength {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The layout.
        format: PixelFormat,
        /// Bytes needed.
        expected: u64,
        /// Bytes given.
        actual: u64,
    },
    /// A zero width or height.
    #[error("an image must have at least one pixel")]
    Empty,
    /// The encoded bytes could not be decoded.
    #[error("cannot decode image: {0}")]
    Decode(String),
}

/// One image's metadata. Channel statistics are over red, green and blue (a gray image
/// has the same value in each); brightness is the mean luma `0.299 R + 0.587 G + 0.114 B`
/// (ITU-R BT.601), all on the 0–255 scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageStats {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Per-channel (R, G, B) mean.
    pub channel_mean: [f64; 3],
    /// Per-channel (R, G, B) population standard deviation.
    pub channel_std: [f64; 3],
    /// Mean luma.
    pub brightness: f64,
}

impl ImageStats {
    /// Measures raw pixels.
    ///
    /// # Errors
    ///
    /// [`ImageError`] if the size is zero or the buffer's length does not match it.
    ///
    /// ```
    /// use sextant::image::{ImageStats, PixelFormat};
    /// // A 2×1 RGB image: one black pixel, one white.
    /// let s = ImageStats::from_pixels(2, 1, PixelFormat::Rgb, &[0, 0, 0, 255, 255, 255])?;
    /// assert_eq!(s.channel_mean, [127.5; 3]);
    /// assert_eq!(s.channel_std, [127.5; 3]);
    /// assert!((s.brightness - 127.5).abs() < 1e-9);
    /// assert_eq!(s.aspect_ratio(), 2.0);
    /// # Ok::<(), sextant::image::ImageError>(())
    /// ```
    pub fn from_pixels(
        width: u32,
        height: u32,
        format: PixelFormat,
        pixels: &[u8],
    ) -> Result<ImageStats, ImageError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Empty);
        }
        let expected = u64::from(width) * u64::from(height) * format.bytes() as u64;
        if pixels.len() as u64 != expected {
            return Err(ImageError::WrongLength {
                width,
                height,
                format,
                expected,
                actual: pixels.len() as u64,
            });
        }
        let mut sum = [0u64; 3];
        let mut sum_sq = [0u64; 3];
        for px in pixels.chunks_exact(format.bytes()) {
            let rgb = match format {
                PixelFormat::Gray => [px[0]; 3],
                _ => [px[0], px[1], px[2]],
            };
            for c in 0..3 {
                let v = u64::from(rgb[c]);
                sum[c] += v;
                sum_sq[c] += v * v;
            }
        }
        let n = f64::from(width) * f64::from(height);
        let mut mean = [0.0; 3];
        let mut std = [0.0; 3];
        for c in 0..3 {
            mean[c] = sum[c] as f64 / n;
            std[c] = (sum_sq[c] as f64 / n - mean[c] * mean[c]).max(0.0).sqrt();
        }
        Ok(ImageStats {
            width,
            height,
            channel_mean: mean,
            channel_std: std,
            brightness: 0.299 * mean[0] + 0.587 * mean[1] + 0.114 * mean[2],
        })
    }

    /// Measures a PNG or JPEG image (cargo feature `image`).
    ///
    /// # Errors
    ///
    /// [`ImageError::Decode`] if the bytes are not a decodable image.
    #[cfg(feature = "image")]
    pub fn from_encoded(bytes: &[u8]) -> Result<ImageStats, ImageError> {
        let img =
            ::image::load_from_memory(bytes).map_err(|e| ImageError::Decode(e.to_string()))?;
        let rgb = img.to_rgb8();
        ImageStats::from_pixels(rgb.width(), rgb.height(), PixelFormat::Rgb, rgb.as_raw())
    }

    /// Width divided by height.
    pub fn aspect_ratio(&self) -> f64 {
        f64::from(self.width) / f64::from(self.height)
    }
}

/// The names of the image metadata distributions, in [`ImageMetrics::distributions`]
/// order.
pub const IMAGE_METRICS: [&str; 10] = [
    "width",
    "height",
    "aspect_ratio",
    "brightness",
    "red_mean",
    "green_mean",
    "blue_mean",
    "red_std",
    "green_std",
    "blue_std",
];

/// Distributions of image metadata over many images.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageMetrics {
    dists: [Distribution; 10],
}

impl ImageMetrics {
    /// Records one image's metadata.
    pub fn update(&mut self, s: &ImageStats) {
        let values = [
            f64::from(s.width),
            f64::from(s.height),
            s.aspect_ratio(),
            s.brightness,
            s.channel_mean[0],
            s.channel_mean[1],
            s.channel_mean[2],
            s.channel_std[0],
            s.channel_std[1],
            s.channel_std[2],
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
    pub fn merge(&mut self, other: &ImageMetrics) {
        for (a, b) in self.dists.iter_mut().zip(&other.dists) {
            a.merge(b);
        }
    }

    /// Each metadata distribution with its name (see [`IMAGE_METRICS`]).
    pub fn distributions(&self) -> impl Iterator<Item = (&'static str, &Distribution)> {
        IMAGE_METRICS.into_iter().zip(self.dists.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated image with known statistics: a horizontal gradient in red, a
    /// constant green, blue alternating 0/200 by column.
    #[test]
    fn generated_rgba_image_has_its_known_statistics() {
        let (w, h) = (256u32, 10u32);
        let mut px = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                px.extend_from_slice(&[x as u8, 77, if x % 2 == 0 { 0 } else { 200 }, 9]);
            }
        }
        let s = ImageStats::from_pixels(w, h, PixelFormat::Rgba, &px).unwrap();
        assert_eq!((s.width, s.height), (256, 10));
        assert!((s.channel_mean[0] - 127.5).abs() < 1e-9);
        // Population std of 0..=255 is sqrt((256² − 1) / 12).
        assert!((s.channel_std[0] - ((256.0f64 * 256.0 - 1.0) / 12.0).sqrt()).abs() < 1e-9);
        assert_eq!((s.channel_mean[1], s.channel_std[1]), (77.0, 0.0));
        assert_eq!((s.channel_mean[2], s.channel_std[2]), (100.0, 100.0));
        let luma = 0.299 * 127.5 + 0.587 * 77.0 + 0.114 * 100.0;
        assert!((s.brightness - luma).abs() < 1e-9);
    }

    #[cfg(feature = "image")]
    #[test]
    fn encoded_png_and_jpeg_decode_to_their_statistics() {
        use ::image::{ImageFormat, RgbImage};
        let img = RgbImage::from_fn(40, 20, |x, _| {
            ::image::Rgb([if x < 20 { 0 } else { 200 }, 50, 100])
        });
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.write_to(&mut bytes, format).unwrap();
            let s = ImageStats::from_encoded(bytes.get_ref()).unwrap();
            assert_eq!((s.width, s.height), (40, 20));
            // JPEG is lossy: a few levels of error.
            let tol = if format == ImageFormat::Png {
                1e-9
            } else {
                4.0
            };
            for (got, want) in s.channel_mean.iter().zip([100.0, 50.0, 100.0]) {
                assert!((got - want).abs() <= tol, "{format:?}: {got} vs {want}");
            }
        }
        assert!(matches!(
            ImageStats::from_encoded(b"\x89PNG not really"),
            Err(ImageError::Decode(_))
        ));
    }

    #[test]
    fn wrong_sizes_are_errors_not_panics() {
        assert_eq!(
            ImageStats::from_pixels(0, 5, PixelFormat::Gray, &[]),
            Err(ImageError::Empty)
        );
        let e = ImageStats::from_pixels(2, 2, PixelFormat::Rgb, &[0; 11]).unwrap_err();
        assert!(e.to_string().contains("needs 12"), "{e}");
        // A gray image reads the same in every channel.
        let s = ImageStats::from_pixels(1, 2, PixelFormat::Gray, &[10, 30]).unwrap();
        assert_eq!(s.channel_mean, [20.0; 3]);
        assert!((s.brightness - 20.0).abs() < 1e-9);
    }
}
