//! The file format of profiles: a versioned, checksummed envelope around a payload.
//!
//! Every profile sextant writes — to a store file, over `GET /profiles`, from the command
//! line, to Python — is the same bytes: a fixed header followed by the payload. The
//! header says what the bytes are (magic), how to read them (format version, payload
//! kind) and whether they arrived whole (payload length and checksum), so a reader can
//! refuse a file it does not understand or that was damaged *before* it parses a single
//! payload byte, and the payload codec can change in a new format version without
//! breaking the files already written.
//!
//! # Layout
//!
//! All integers are little-endian. The header is exactly [`HEADER_LEN`] (24) bytes.
//!
//! | offset | size | field          | value                                                |
//! |-------:|-----:|----------------|------------------------------------------------------|
//! |      0 |    8 | magic          | [`MAGIC`], `b"SXTPROF\0"`                            |
//! |      8 |    2 | format version | `u16`, [`FORMAT_VERSION`] (= 2)                      |
//! |     10 |    1 | payload kind   | `u8`, a [`PayloadKind`] code (1 = dataset profile)   |
//! |     11 |    1 | flags          | `u8`, reserved: always 0                             |
//! |     12 |    8 | payload length | `u64`, number of payload bytes that follow           |
//! |     20 |    4 | checksum       | `u32`, CRC-32 (IEEE, as `crc32fast`) of the payload  |
//! |     24 |    n | payload        | the payload bytes, exactly `payload length` of them  |
//!
//! # What a reader checks, in order
//!
//! [`decode`] checks the magic first, then the version — before the length of the rest,
//! because a newer version may have a different header — then the payload kind and the
//! flags, then that the input is exactly as long as the header says, and finally the
//! checksum. Every field of the header is checked exactly (the only valid kind, flags and
//! length values are known), and the CRC-32 covers the payload, so any change of one to
//! three bits anywhere in a file with a payload under about 11 KB is always caught (CRC-32
//! has Hamming distance 4 up to 91 607 bits); more damage is caught with probability
//! 1 − 2⁻³². The reader never panics and never allocates from a length it read: it only
//! takes sub-slices of its input after checking their bounds.
//!
//! # Versions
//!
//! A reader accepts every version up to its own [`FORMAT_VERSION`] and refuses newer ones
//! with [`FormatError::NewerVersion`], whose message says to upgrade.
//!
//! | version | what changed |
//! |--------:|--------------|
//! | 1 | the first |
//! | 2 | a cardinality sketch may carry its linear-counting bitmap (its mode 2, see [`crate::sketch::Cardinality`]); the header and the rest of the payload are as in version 1, so version 1 files are read with the same codec |
//!
//! Reserved flags are how a future version can add an optional feature that old readers
//! must not ignore: a reader refuses any flag it does not know.
//!
//! # Payloads
//!
//! [`to_payload`] and [`from_payload`] are the payload codec of versions 1 and 2: `bincode` 2
//! (serde API, standard configuration: little-endian, variable-length integers) with a
//! [`PAYLOAD_LIMIT`] on what a payload may claim, so a hostile length prefix inside a
//! payload cannot make the reader allocate gigabytes. The codec is part of the format:
//! changing it (or the serialized types' shapes) is a format version change.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

/// The first eight bytes of every sextant profile.
pub const MAGIC: [u8; 8] = *b"SXTPROF\0";

/// The format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u16 = 2;

/// The length of the header in bytes: magic, version, kind, flags, length, checksum.
pub const HEADER_LEN: usize = 24;

/// The largest payload [`to_payload`] writes and [`from_payload`] reads: 64 MiB.
///
/// This is also the bincode decode limit, so no length prefix inside a payload can make
/// the decoder reserve more than this.
pub const PAYLOAD_LIMIT: usize = 64 << 20;

/// What the payload of a profile file holds.
///
/// The kind is written as one byte in the header; a reader refuses a kind it does not
/// know with [`FormatError::UnknownKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PayloadKind {
    /// A dataset profile (`ProfileView`), code 1.
    DatasetProfile,
}

impl PayloadKind {
    /// The byte that stands for this kind in the header.
    ///
    /// ```
    /// use sextant::format::PayloadKind;
    /// assert_eq!(PayloadKind::DatasetProfile.code(), 1);
    /// ```
    pub const fn code(self) -> u8 {
        match self {
            PayloadKind::DatasetProfile => 1,
        }
    }

    /// The kind a header byte stands for, or `None` if this build does not know it.
    ///
    /// ```
    /// use sextant::format::PayloadKind;
    /// assert_eq!(PayloadKind::from_code(1), Some(PayloadKind::DatasetProfile));
    /// assert_eq!(PayloadKind::from_code(0), None);
    /// ```
    pub const fn from_code(code: u8) -> Option<PayloadKind> {
        match code {
            1 => Some(PayloadKind::DatasetProfile),
            _ => None,
        }
    }
}

impl fmt::Display for PayloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadKind::DatasetProfile => f.write_str("dataset profile"),
        }
    }
}

/// Why bytes could not be read (or a value written) as a sextant profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The input is empty.
    #[error("not a sextant profile: the input is empty")]
    Empty,

    /// The input does not start with [`MAGIC`].
    #[error(
        "not a sextant profile: starts with {} (a profile starts with {})",
        escape(start),
        escape(&MAGIC)
    )]
    NotAProfile {
        /// The first bytes of the input (at most eight).
        start: Vec<u8>,
    },

    /// The input ends before the header, or before the payload the header announces.
    #[error("{}", truncated_message(*expected, *actual))]
    Truncated {
        /// How many bytes the input should have at least: the header length while the
        /// header is incomplete, header plus payload length after.
        expected: u64,
        /// How many bytes it has.
        actual: u64,
    },

    /// The input goes on after the payload the header announces.
    #[error(
        "damaged profile: {} unexpected bytes after the payload (the header says the \
         profile is {expected} bytes long, the input is {actual})",
        actual.saturating_sub(*expected)
    )]
    TrailingBytes {
        /// The length the header announces (header plus payload).
        expected: u64,
        /// The length of the input.
        actual: u64,
    },

    /// Written by a newer format version than this build reads.
    #[error(
        "profile written by format version {found}; this sextant reads versions up to \
         {supported} — upgrade sextant"
    )]
    NewerVersion {
        /// The version in the header.
        found: u16,
        /// The newest version this build reads ([`FORMAT_VERSION`]).
        supported: u16,
    },

    /// The header holds a version number no sextant ever wrote (0).
    #[error("damaged profile: format version {found} does not exist (the first is 1)")]
    InvalidVersion {
        /// The version in the header.
        found: u16,
    },

    /// The header names a payload kind this build does not know.
    #[error(
        "unknown payload kind {found} at byte 10 (this sextant knows 1 = dataset \
         profile): written by a newer sextant, or damaged"
    )]
    UnknownKind {
        /// The kind byte in the header.
        found: u8,
    },

    /// The header sets flags this build does not know (all are reserved).
    #[error(
        "unknown header flags {found:#04x} at byte 11 (this sextant knows none): written \
         by a newer sextant, or damaged"
    )]
    UnknownFlags {
        /// The flags byte in the header.
        found: u8,
    },

    /// The payload's CRC-32 differs from the one in the header.
    #[error(
        "damaged profile: the payload's checksum is {computed:#010x}, the header says \
         {stored:#010x}"
    )]
    ChecksumMismatch {
        /// The checksum in the header.
        stored: u32,
        /// The checksum of the payload as read.
        computed: u32,
    },

    /// The payload is intact but its contents cannot be encoded or decoded.
    #[error("{0}")]
    Payload(String),
}

/// Bytes as a byte-string literal, e.g. `b"PK\x03\x04"`.
fn escape(bytes: &[u8]) -> String {
    format!("b\"{}\"", bytes.escape_ascii())
}

fn truncated_message(expected: u64, actual: u64) -> String {
    if expected <= HEADER_LEN as u64 {
        format!("truncated profile: the header needs {expected} bytes, the input has only {actual}")
    } else {
        let payload = expected - HEADER_LEN as u64;
        let have = actual.saturating_sub(HEADER_LEN as u64);
        format!(
            "truncated profile: the header announces {payload} payload bytes \
             ({expected} in all), the input has {have} ({actual} in all)"
        )
    }
}

/// Reads fixed-size little-endian fields from the front of a slice, never past its end.
struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        ByteReader { bytes, pos: 0 }
    }

    /// The next `N` bytes, or [`FormatError::Truncated`] against the header length.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let end = self.pos.saturating_add(N);
        let taken = self
            .bytes
            .get(self.pos..end)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or(FormatError::Truncated {
                expected: HEADER_LEN as u64,
                actual: self.bytes.len() as u64,
            })?;
        self.pos = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, FormatError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Wraps `payload` in a profile envelope: the header, then the payload.
///
/// The result is `HEADER_LEN + payload.len()` bytes and [`decode`] gives back `kind` and
/// `payload` exactly. Encoding is deterministic: the same kind and payload always give
/// the same bytes (the golden files under `tests/golden/` hold it to that).
///
/// # Errors
///
/// None: every payload can be wrapped.
///
/// ```
/// use sextant::format::{self, PayloadKind, HEADER_LEN};
/// let bytes = format::encode(PayloadKind::DatasetProfile, b"hello");
/// assert_eq!(bytes.len(), HEADER_LEN + 5);
/// assert_eq!(&bytes[..8], b"SXTPROF\0");
/// assert_eq!(format::decode(&bytes)?, (PayloadKind::DatasetProfile, &b"hello"[..]));
/// # Ok::<(), sextant::format::FormatError>(())
/// ```
pub fn encode(kind: PayloadKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind.code());
    out.push(0); // flags: none defined
    // usize is at most 64 bits on every platform Rust supports, so this never truncates.
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(payload);
    out
}

/// Checks a profile envelope and returns its payload kind and payload.
///
/// The payload is borrowed from `bytes`; nothing is copied or allocated (except for the
/// message of an error).
///
/// # Errors
///
/// - [`FormatError::Empty`] if `bytes` is empty;
/// - [`FormatError::NotAProfile`] if it does not start with [`MAGIC`];
/// - [`FormatError::NewerVersion`] if a newer sextant wrote it, and
///   [`FormatError::InvalidVersion`] for version 0;
/// - [`FormatError::UnknownKind`] or [`FormatError::UnknownFlags`] for a kind or flags
///   this build does not know;
/// - [`FormatError::Truncated`] if it ends inside the header or the payload, and
///   [`FormatError::TrailingBytes`] if it goes on after the payload;
/// - [`FormatError::ChecksumMismatch`] if the payload was damaged.
///
/// ```
/// use sextant::format::{self, FormatError, PayloadKind};
/// let bytes = format::encode(PayloadKind::DatasetProfile, b"payload");
/// let (kind, payload) = format::decode(&bytes)?;
/// assert_eq!((kind, payload), (PayloadKind::DatasetProfile, &b"payload"[..]));
///
/// let mut damaged = bytes.clone();
/// *damaged.last_mut().unwrap() ^= 1;
/// assert!(matches!(format::decode(&damaged), Err(FormatError::ChecksumMismatch { .. })));
/// assert!(matches!(format::decode(b"{\"json\": 1}"), Err(FormatError::NotAProfile { .. })));
/// # Ok::<(), FormatError>(())
/// ```
pub fn decode(bytes: &[u8]) -> Result<(PayloadKind, &[u8]), FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    let actual = bytes.len() as u64;
    let mut reader = ByteReader::new(bytes);

    // Magic. A short input that is a prefix of the magic is a truncated profile;
    // anything else is not a profile at all.
    let start = bytes.get(..MAGIC.len()).unwrap_or(bytes);
    if !MAGIC.starts_with(start) {
        return Err(FormatError::NotAProfile {
            start: start.to_vec(),
        });
    }
    let _magic: [u8; 8] = reader.array()?;

    // Version, before anything whose layout a newer version could change.
    let version = reader.u16()?;
    match version {
        0 => return Err(FormatError::InvalidVersion { found: version }),
        1..=FORMAT_VERSION => {}
        _ => {
            return Err(FormatError::NewerVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
    }

    // The rest of the header, the same in versions 1 and 2.
    let kind_code = reader.u8()?;
    let kind =
        PayloadKind::from_code(kind_code).ok_or(FormatError::UnknownKind { found: kind_code })?;
    let flags = reader.u8()?;
    if flags != 0 {
        return Err(FormatError::UnknownFlags { found: flags });
    }
    let payload_len = reader.u64()?;
    let stored = reader.u32()?;
    debug_assert_eq!(reader.pos, HEADER_LEN);

    // Exactly as long as announced.
    let expected = payload_len.saturating_add(HEADER_LEN as u64);
    if actual < expected {
        return Err(FormatError::Truncated { expected, actual });
    }
    if actual > expected {
        return Err(FormatError::TrailingBytes { expected, actual });
    }
    let payload = bytes.get(HEADER_LEN..).ok_or(FormatError::Truncated {
        expected: HEADER_LEN as u64,
        actual,
    })?;

    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(FormatError::ChecksumMismatch { stored, computed });
    }
    Ok((kind, payload))
}

/// The bincode configuration of version 1 payloads.
fn payload_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<PAYLOAD_LIMIT>()
}

/// Serializes a value as a version 1 payload (bincode 2, standard configuration).
///
/// Wrap the result with [`encode`] to make a profile file.
///
/// # Errors
///
/// [`FormatError::Payload`] if the value cannot be serialized (a `Serialize`
/// implementation failed, or a sequence of unknown length), or if it serializes to more
/// than [`PAYLOAD_LIMIT`] bytes — which [`from_payload`] would refuse to read back.
///
/// ```
/// use sextant::format;
/// let payload = format::to_payload(&("x", vec![1u32, 2, 3]))?;
/// let back: (String, Vec<u32>) = format::from_payload(&payload)?;
/// assert_eq!(back, ("x".to_string(), vec![1, 2, 3]));
/// # Ok::<(), sextant::format::FormatError>(())
/// ```
pub fn to_payload<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, FormatError> {
    let bytes = bincode::serde::encode_to_vec(value, payload_config())
        .map_err(|e| FormatError::Payload(format!("cannot encode the payload: {e}")))?;
    if bytes.len() > PAYLOAD_LIMIT {
        return Err(FormatError::Payload(format!(
            "cannot encode the payload: {} bytes is over the limit of {PAYLOAD_LIMIT}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Deserializes a version 1 payload written by [`to_payload`].
///
/// The whole of `bytes` must be one value: bytes left over after it are an error.
///
/// A length prefix inside the payload cannot make the decoder reserve more than
/// [`PAYLOAD_LIMIT`] bytes. As a last line of defence the decoding runs under
/// [`std::panic::catch_unwind`]: the payload's types include third-party sketches whose
/// `Deserialize` implementations may assert invariants that damaged or hostile bytes
/// break, and a reader of untrusted files (a server, a notebook) must get an error, not a
/// crash. The checksum in the envelope makes this unlikely for accidental damage, but it
/// is no defence against crafted input. Two limits remain: a caught panic is still
/// printed by the panic hook (to stderr, by default), and nothing is caught in a build
/// with `panic = "abort"`.
///
/// # Errors
///
/// [`FormatError::Payload`] if the bytes are not a valid `T`: they end early, hold an
/// invalid value, claim more than [`PAYLOAD_LIMIT`], go on after the value, or make a
/// deserializer panic.
///
/// ```
/// use sextant::format;
/// let payload = format::to_payload(&vec![1.5f64, 2.5])?;
/// let back: Vec<f64> = format::from_payload(&payload)?;
/// assert_eq!(back, [1.5, 2.5]);
/// assert!(format::from_payload::<Vec<f64>>(&payload[..payload.len() - 1]).is_err());
/// # Ok::<(), sextant::format::FormatError>(())
/// ```
pub fn from_payload<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, FormatError> {
    if bytes.len() > PAYLOAD_LIMIT {
        return Err(FormatError::Payload(format!(
            "payload of {} bytes is over the limit of {PAYLOAD_LIMIT}",
            bytes.len()
        )));
    }
    // `AssertUnwindSafe`: on a panic everything the closure touched (the decoder and the
    // partly built value) is dropped during unwinding; only `bytes` outlives it, and it is
    // borrowed immutably.
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| {
        bincode::serde::decode_from_slice::<T, _>(bytes, payload_config())
    }));
    match decoded {
        Ok(Ok((value, read))) if read == bytes.len() => Ok(value),
        Ok(Ok((_, read))) => Err(FormatError::Payload(format!(
            "damaged payload: {} bytes left over after the value (read {read} of {})",
            bytes.len().saturating_sub(read),
            bytes.len()
        ))),
        Ok(Err(e)) => Err(FormatError::Payload(format!("damaged payload: {e}"))),
        Err(_) => Err(FormatError::Payload(
            "damaged payload: its decoder panicked on it".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [PayloadKind; 1] = [PayloadKind::DatasetProfile];

    #[test]
    fn header_is_24_bytes_with_fields_at_documented_offsets() {
        let bytes = encode(PayloadKind::DatasetProfile, b"abc");
        assert_eq!(bytes.len(), HEADER_LEN + 3);
        assert_eq!(bytes[..8], MAGIC);
        assert_eq!(bytes[8..10], 2u16.to_le_bytes());
        assert_eq!(bytes[10], 1);
        assert_eq!(bytes[11], 0);
        assert_eq!(bytes[12..20], 3u64.to_le_bytes());
        assert_eq!(bytes[20..24], crc32fast::hash(b"abc").to_le_bytes());
        assert_eq!(&bytes[24..], b"abc");
    }

    #[test]
    fn empty_payload_round_trips() {
        let bytes = encode(PayloadKind::DatasetProfile, b"");
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(decode(&bytes), Ok((PayloadKind::DatasetProfile, &b""[..])));
    }

    #[test]
    fn kind_codes_round_trip() {
        for kind in KINDS {
            assert_eq!(PayloadKind::from_code(kind.code()), Some(kind));
        }
        let known = (0..=u8::MAX)
            .filter(|&c| PayloadKind::from_code(c).is_some())
            .count();
        assert_eq!(known, KINDS.len());
    }

    #[test]
    fn empty_input() {
        assert_eq!(decode(b""), Err(FormatError::Empty));
    }

    #[test]
    fn wrong_magic_names_the_first_bytes() {
        let err = decode(b"PK\x03\x04 a zip file").unwrap_err();
        assert_eq!(
            err,
            FormatError::NotAProfile {
                start: b"PK\x03\x04 a z".to_vec()
            }
        );
        assert_eq!(
            err.to_string(),
            r#"not a sextant profile: starts with b"PK\x03\x04 a z" (a profile starts with b"SXTPROF\x00")"#
        );
        // Short and not a prefix of the magic: not a profile, not truncated.
        assert!(matches!(
            decode(b"{}"),
            Err(FormatError::NotAProfile { .. })
        ));
        // Short and a prefix of the magic: truncated.
        assert_eq!(
            decode(b"SXTP"),
            Err(FormatError::Truncated {
                expected: 24,
                actual: 4
            })
        );
    }

    #[test]
    fn newer_version_names_both_versions() {
        let mut bytes = encode(PayloadKind::DatasetProfile, b"abc");
        bytes[8..10].copy_from_slice(&7u16.to_le_bytes());
        let err = decode(&bytes).unwrap_err();
        assert_eq!(
            err,
            FormatError::NewerVersion {
                found: 7,
                supported: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "profile written by format version 7; this sextant reads versions up to 2 — \
             upgrade sextant"
        );
        // The version is checked before the length of the header.
        assert!(matches!(
            decode(&bytes[..10]),
            Err(FormatError::NewerVersion { found: 7, .. })
        ));
    }

    #[test]
    fn version_zero_is_invalid() {
        let mut bytes = encode(PayloadKind::DatasetProfile, b"abc");
        bytes[8..10].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(FormatError::InvalidVersion { found: 0 })
        );
    }

    #[test]
    fn unknown_kind_and_flags() {
        let mut bytes = encode(PayloadKind::DatasetProfile, b"abc");
        bytes[10] = 9;
        assert_eq!(decode(&bytes), Err(FormatError::UnknownKind { found: 9 }));
        let mut bytes = encode(PayloadKind::DatasetProfile, b"abc");
        bytes[11] = 4;
        let err = decode(&bytes).unwrap_err();
        assert_eq!(err, FormatError::UnknownFlags { found: 4 });
        assert!(err.to_string().contains("0x04"), "{err}");
    }

    #[test]
    fn length_mismatches() {
        let bytes = encode(PayloadKind::DatasetProfile, b"abcdef");
        let err = decode(&bytes[..HEADER_LEN + 2]).unwrap_err();
        assert_eq!(
            err,
            FormatError::Truncated {
                expected: 30,
                actual: 26
            }
        );
        assert_eq!(
            err.to_string(),
            "truncated profile: the header announces 6 payload bytes (30 in all), the input \
             has 2 (26 in all)"
        );
        let err = decode(&bytes[..HEADER_LEN - 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "truncated profile: the header needs 24 bytes, the input has only 23"
        );
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"!!");
        let err = decode(&longer).unwrap_err();
        assert_eq!(
            err,
            FormatError::TrailingBytes {
                expected: 30,
                actual: 32
            }
        );
        assert!(err.to_string().contains("2 unexpected bytes"), "{err}");
    }

    #[test]
    fn huge_announced_length_does_not_overflow() {
        let mut bytes = encode(PayloadKind::DatasetProfile, b"abc");
        bytes[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(FormatError::Truncated {
                expected: u64::MAX,
                actual: 27
            })
        );
    }

    #[test]
    fn checksum_mismatch_names_both() {
        let mut bytes = encode(PayloadKind::DatasetProfile, b"abc");
        bytes[HEADER_LEN] ^= 0x80;
        let err = decode(&bytes).unwrap_err();
        let FormatError::ChecksumMismatch { stored, computed } = err else {
            panic!("expected a checksum mismatch, got {err:?}");
        };
        assert_eq!(stored, crc32fast::hash(b"abc"));
        assert_eq!(computed, crc32fast::hash(b"\xe1bc"));
        assert!(
            err.to_string()
                .starts_with("damaged profile: the payload's checksum")
        );
    }

    #[test]
    fn payload_codec_rejects_trailing_bytes() {
        let mut payload = to_payload(&42u32).unwrap();
        payload.push(0);
        let err = from_payload::<u32>(&payload).unwrap_err();
        assert!(
            err.to_string()
                .contains("1 bytes left over after the value"),
            "{err}"
        );
    }

    #[test]
    fn payload_codec_refuses_a_huge_length_prefix() {
        // A string claiming u64::MAX / 2 bytes: varint marker 0xfd, then the u64.
        let mut payload = vec![0xfd];
        payload.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        payload.extend_from_slice(b"abc");
        assert!(matches!(
            from_payload::<String>(&payload),
            Err(FormatError::Payload(_))
        ));
        // Just over the limit, the decoder refuses before reserving.
        let mut payload = vec![0xfc];
        payload.extend_from_slice(&(PAYLOAD_LIMIT as u32 + 1).to_le_bytes());
        assert!(matches!(
            from_payload::<Vec<u8>>(&payload),
            Err(FormatError::Payload(_))
        ));
    }

    #[test]
    fn payload_decoder_panic_becomes_an_error() {
        #[derive(Debug)]
        struct Panics;
        impl<'de> serde::Deserialize<'de> for Panics {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                panic!("a third-party deserializer asserting an invariant");
            }
        }
        let err = from_payload::<Panics>(b"\x01").unwrap_err();
        assert_eq!(
            err,
            FormatError::Payload("damaged payload: its decoder panicked on it".into())
        );
    }

    proptest! {
        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 0..512), k in 0..KINDS.len()) {
            let kind = KINDS[k];
            let bytes = encode(kind, &payload);
            prop_assert_eq!(bytes.len(), HEADER_LEN + payload.len());
            prop_assert_eq!(decode(&bytes), Ok((kind, &payload[..])));
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = decode(&with_magic);
            let _ = from_payload::<(String, Vec<u64>, Option<f64>)>(&bytes);
        }
    }
}
