//! The profile envelope: golden bytes, round trips, and damage of every kind — truncation
//! at every offset, bit flips, bursts, newer versions — always an error, never a panic.

use proptest::prelude::*;
use sextant::format::{self, FORMAT_VERSION, FormatError, HEADER_LEN, MAGIC, PayloadKind};
use sextant::summary::ProfileSummary;
use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Window};

/// A version 1 envelope around [`GOLDEN_PAYLOAD`], written once by an implementation
/// independent of `format::encode` (see `golden/README.md`) and never regenerated.
const GOLDEN_V1: &[u8] = include_bytes!("golden/envelope-v1.bin");
const GOLDEN_PAYLOAD: &[u8] = b"sextant golden payload v1";
/// The same for version 2, around [`GOLDEN_PAYLOAD_V2`].
const GOLDEN_V2: &[u8] = include_bytes!("golden/envelope-v2.bin");
const GOLDEN_PAYLOAD_V2: &[u8] = b"sextant golden payload v2";
/// A real profile written by format version 1 (`sextant profile`, see
/// `golden/README.md`): integral, numeric, categorical, text and boolean features, two of
/// them with dense cardinality sketches.
const PROFILE_V1: &[u8] = include_bytes!("golden/profile-v1.bin");

const KINDS: [PayloadKind; 1] = [PayloadKind::DatasetProfile];

/// A real profile file, as a server writes it.
fn real_profile_file() -> Vec<u8> {
    let schema = Schema::new()
        .with("alcohol", FeatureKind::Numeric)
        .with("density", FeatureKind::Numeric);
    let mut profile = DatasetProfile::new(&schema, Window::new(0, 60_000));
    let alcohol: Vec<f64> = (0..200).map(|i| 9.0 + f64::from(i % 50) / 10.0).collect();
    let density: Vec<f64> = (0..200).map(|i| 0.99 + f64::from(i) * 1e-5).collect();
    profile.record_f64_columns(&[&alcohol, &density]);
    profile.view().to_bytes().expect("a profile encodes")
}

#[test]
fn golden_v2_is_reproduced_byte_for_byte() {
    assert_eq!(
        format::encode(PayloadKind::DatasetProfile, GOLDEN_PAYLOAD_V2),
        GOLDEN_V2
    );
    assert_eq!(
        format::decode(GOLDEN_V2),
        Ok((PayloadKind::DatasetProfile, GOLDEN_PAYLOAD_V2))
    );
}

#[test]
fn version_1_differs_from_what_is_written_now_only_in_its_version() {
    let mut now = format::encode(PayloadKind::DatasetProfile, GOLDEN_PAYLOAD);
    now[8..10].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(now, GOLDEN_V1);
}

#[test]
fn a_version_1_profile_still_reads() {
    let view = ProfileView::from_bytes(PROFILE_V1).expect("a version 1 profile reads");
    let summary = ProfileSummary::of(&view);
    assert_eq!(summary.rows, 3000);
    let names: Vec<&str> = summary.features.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["id", "alcohol", "grape", "note", "flag"]);
    let feature = |name: &str| &summary.features.iter().find(|(n, _)| n == name).unwrap().1;
    let id = feature("id");
    assert_eq!((id.kind, id.count, id.missing), ("integral", 3000, 0));
    assert_eq!(
        (id.min, id.max, id.mean),
        (Some(0.0), Some(2999.0), Some(1499.5))
    );
    // Its cardinality sketch is dense, from the registers alone, as version 1 wrote it:
    // within 3 standard errors (and the same estimate as when it was written).
    let distinct = id.distinct_estimate.unwrap();
    assert!(
        (distinct - 3000.0).abs() <= 3.0 * 0.016 * 3000.0,
        "{distinct}"
    );
    assert_eq!(distinct.round(), 3024.0);
    let alcohol = feature("alcohol");
    assert_eq!((alcohol.count, alcohol.missing), (2969, 31));
    assert!(alcohol.quantiles.as_ref().is_some_and(|q| q.len() == 7));
    let grape = feature("grape");
    assert_eq!(grape.kind, "categorical");
    assert_eq!(grape.distinct_estimate.map(f64::round), Some(4.0));
    assert_eq!(grape.frequent_items.as_ref().map(Vec::len), Some(4));
    let note = feature("note");
    assert_eq!(note.kind, "text");
    assert_eq!(note.text.as_ref().map(|t| t["word_count"].n), Some(3000));
    assert_eq!(
        feature("flag").mean.map(|m| (m * 3000.0).round()),
        Some(1000.0)
    );
    // Written again, it is a version 2 file that holds the same, and the two merge.
    let again = view.to_bytes().unwrap();
    assert_eq!(&again[8..10], &[2, 0]);
    let again = ProfileView::from_bytes(&again).unwrap();
    let json = |s: &ProfileSummary| serde_json::to_string(s).unwrap();
    assert_eq!(json(&ProfileSummary::of(&again)), json(&summary));
    let merged = view
        .merge(&again)
        .expect("a version 1 and a version 2 view merge");
    assert_eq!(merged.rows(), 6000);
}

#[test]
fn golden_v1_decodes() {
    assert_eq!(
        format::decode(GOLDEN_V1),
        Ok((PayloadKind::DatasetProfile, GOLDEN_PAYLOAD))
    );
}

#[test]
fn golden_v1_header_fields() {
    // Spelled out, so a change of layout cannot pass by changing encode and decode alike.
    assert_eq!(HEADER_LEN, 24);
    assert_eq!(GOLDEN_V1.len(), HEADER_LEN + GOLDEN_PAYLOAD.len());
    assert_eq!(&GOLDEN_V1[0..8], b"SXTPROF\0");
    assert_eq!(&GOLDEN_V1[8..10], &[1, 0], "format version 1");
    assert_eq!(GOLDEN_V1[10], 1, "payload kind: dataset profile");
    assert_eq!(GOLDEN_V1[11], 0, "flags");
    assert_eq!(
        &GOLDEN_V1[12..20],
        &[25, 0, 0, 0, 0, 0, 0, 0],
        "payload length"
    );
    assert_eq!(
        &GOLDEN_V1[20..24],
        &[0x16, 0x9a, 0xcc, 0x91],
        "CRC-32 of the payload"
    );
    assert_eq!(&GOLDEN_V1[24..], GOLDEN_PAYLOAD);
    assert_eq!(MAGIC, *b"SXTPROF\0");
    assert_eq!(&GOLDEN_V2[8..10], &[2, 0], "format version 2");
    assert_eq!(
        &GOLDEN_V2[20..24],
        &[0xac, 0xcb, 0xc5, 0x08],
        "CRC-32 of the payload"
    );
    assert_eq!(FORMAT_VERSION, 2);
}

#[test]
fn real_profile_round_trips() {
    let bytes = real_profile_file();
    let (kind, _) = format::decode(&bytes).expect("a fresh profile file decodes");
    assert_eq!(kind, PayloadKind::DatasetProfile);
    let view = ProfileView::from_bytes(&bytes).expect("and reads back");
    assert_eq!(view.rows(), 200);
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    for file in [
        GOLDEN_V1.to_vec(),
        GOLDEN_V2.to_vec(),
        PROFILE_V1.to_vec(),
        real_profile_file(),
    ] {
        for len in 0..file.len() {
            let cut = &file[..len];
            let err = format::decode(cut).expect_err("a truncated file must not decode");
            let expected = match len {
                0 => FormatError::Empty,
                _ if len < HEADER_LEN => FormatError::Truncated {
                    expected: HEADER_LEN as u64,
                    actual: len as u64,
                },
                _ => FormatError::Truncated {
                    expected: file.len() as u64,
                    actual: len as u64,
                },
            };
            assert_eq!(err, expected, "cut at {len} of {}", file.len());
            assert!(ProfileView::from_bytes(cut).is_err(), "cut at {len}");
        }
    }
}

#[test]
fn every_single_bit_flip_is_an_error() {
    for file in [GOLDEN_V1.to_vec(), GOLDEN_V2.to_vec(), real_profile_file()] {
        for bit in 0..file.len() * 8 {
            let mut damaged = file.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(format::decode(&damaged).is_err(), "bit {bit} flipped");
        }
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut file = GOLDEN_V1.to_vec();
    file.push(0);
    assert_eq!(
        format::decode(&file),
        Err(FormatError::TrailingBytes {
            expected: GOLDEN_V1.len() as u64,
            actual: GOLDEN_V1.len() as u64 + 1,
        })
    );
}

#[test]
fn newer_version_is_refused_naming_both_versions() {
    let mut file = GOLDEN_V1.to_vec();
    file[8..10].copy_from_slice(&7u16.to_le_bytes());
    let err = format::decode(&file).unwrap_err();
    assert_eq!(
        err,
        FormatError::NewerVersion {
            found: 7,
            supported: FORMAT_VERSION
        }
    );
    assert_eq!(
        err.to_string(),
        "profile written by format version 7; this sextant reads versions up to 2 — upgrade \
         sextant"
    );
    // A newer version may have another header: it is refused even when the rest differs.
    file.truncate(12);
    assert!(matches!(
        format::decode(&file),
        Err(FormatError::NewerVersion { found: 7, .. })
    ));
}

#[test]
fn other_files_are_not_profiles() {
    for (input, start) in [
        (&b"{\"features\": {}}"[..], &b"{\"featur"[..]),
        (b"\x89PNG\r\n\x1a\n....", b"\x89PNG\r\n\x1a\n"),
        (b"x", b"x"),
    ] {
        let err = format::decode(input).unwrap_err();
        assert_eq!(
            err,
            FormatError::NotAProfile {
                start: start.to_vec()
            }
        );
        assert!(
            err.to_string()
                .starts_with("not a sextant profile: starts with b\""),
            "{err}"
        );
    }
    assert_eq!(format::decode(b""), Err(FormatError::Empty));
}

#[test]
fn unknown_kind_flags_and_version_zero() {
    let mut file = GOLDEN_V1.to_vec();
    file[10] = 2;
    assert_eq!(
        format::decode(&file),
        Err(FormatError::UnknownKind { found: 2 })
    );
    let mut file = GOLDEN_V1.to_vec();
    file[11] = 0x80;
    assert_eq!(
        format::decode(&file),
        Err(FormatError::UnknownFlags { found: 0x80 })
    );
    let mut file = GOLDEN_V1.to_vec();
    file[8] = 0;
    assert_eq!(
        format::decode(&file),
        Err(FormatError::InvalidVersion { found: 0 })
    );
}

/// An envelope around `payload` and a choice of 1 to 3 distinct bit positions in it.
fn file_and_bits(max_payload: usize) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        proptest::collection::vec(any::<u8>(), 0..max_payload),
        proptest::collection::vec(any::<prop::sample::Index>(), 1..=3),
    )
        .prop_map(|(payload, picks)| {
            let file = format::encode(PayloadKind::DatasetProfile, &payload);
            let mut bits: Vec<usize> = picks.iter().map(|i| i.index(file.len() * 8)).collect();
            bits.sort_unstable();
            bits.dedup();
            (file, bits)
        })
}

proptest! {
    #[test]
    fn round_trip(payload in proptest::collection::vec(any::<u8>(), 0..4096), k in 0..KINDS.len()) {
        let file = format::encode(KINDS[k], &payload);
        prop_assert_eq!(file.len(), HEADER_LEN + payload.len());
        prop_assert_eq!(format::decode(&file), Ok((KINDS[k], &payload[..])));
    }

    /// One to three flipped bits anywhere are always caught: every header field is
    /// checked exactly, and CRC-32 has Hamming distance 4 for payloads this short.
    #[test]
    fn bit_flips_are_errors((file, bits) in file_and_bits(2048)) {
        let mut damaged = file.clone();
        for &bit in &bits {
            damaged[bit / 8] ^= 1 << (bit % 8);
        }
        prop_assert!(format::decode(&damaged).is_err(), "bits {:?} flipped", bits);
    }

    /// Any damage confined to 4 consecutive payload bytes (a burst of at most 32 bits)
    /// is always caught by CRC-32.
    #[test]
    fn payload_bursts_are_errors(
        payload in proptest::collection::vec(any::<u8>(), 1..2048),
        at in any::<prop::sample::Index>(),
        mask in any::<u32>().prop_filter("some damage", |m| *m != 0),
    ) {
        let mut damaged = format::encode(PayloadKind::DatasetProfile, &payload);
        let start = HEADER_LEN + at.index(payload.len());
        for (i, m) in mask.to_le_bytes().into_iter().enumerate() {
            if let Some(byte) = damaged.get_mut(start + i) {
                *byte ^= m;
            }
        }
        // A mask whose damage fell entirely past the end changed nothing.
        prop_assume!(damaged != format::encode(PayloadKind::DatasetProfile, &payload));
        let result = format::decode(&damaged);
        prop_assert!(
            matches!(result, Err(FormatError::ChecksumMismatch { .. })),
            "{:?}",
            result
        );
    }

    /// Random bytes behind a valid-looking header never panic, in the envelope or in the
    /// profile decoder behind it.
    #[test]
    fn garbage_never_panics(garbage in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = format::decode(&garbage);
        let mut headed = GOLDEN_V1[..HEADER_LEN].to_vec();
        headed.extend_from_slice(&garbage);
        let _ = format::decode(&headed);
        let wrapped = format::encode(PayloadKind::DatasetProfile, &garbage);
        prop_assert!(format::decode(&wrapped).is_ok());
        let _ = ProfileView::from_bytes(&wrapped);
    }

    #[test]
    fn payload_codec_round_trips(
        value in (".*", proptest::collection::vec(any::<f64>(), 0..32), any::<Option<u64>>()),
    ) {
        let payload = format::to_payload(&value).unwrap();
        let back: (String, Vec<f64>, Option<u64>) = format::from_payload(&payload).unwrap();
        prop_assert_eq!(back.0, value.0);
        prop_assert_eq!(
            back.1.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            value.1.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        prop_assert_eq!(back.2, value.2);
    }
}
