//! Self-describing, signed prediction ids.
//!
//! Behind a load balancer, ground truth for a prediction may reach a replica other than
//! the one that made it. Rather than share a database between replicas, each id carries
//! what feedback needs — the predicting replica, a sequence number, the time, the
//! prediction itself and a fingerprint of the model version — authenticated by an
//! HMAC-SHA256 tag. Any replica holding the same key verifies an id and computes the
//! residual without the predicting replica's log; a forged, garbled or foreign id fails
//! verification and is answered as unknown.
//!
//! Layout (45 bytes, base64url without padding: 60 characters):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format version (1) |
//! | 1–8 | replica instance, random per process |
//! | 9–14 | sequence number within the process (48 bits) |
//! | 15–20 | prediction time, unix ms (48 bits) |
//! | 21–28 | the prediction, f64 bits |
//! | 29–32 | first 4 bytes of SHA-256 of the model version |
//! | 33–44 | HMAC-SHA256 of bytes 0–32, truncated to 96 bits |
//!
//! The key is `SEXTANT_SHARED_SECRET` when set (every replica the same), else a random
//! key kept in the data directory (`prediction-id.key`), so ids stay valid across a
//! restart of a single replica.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD: usize = 33;
const TAG: usize = 12;
const RAW: usize = PAYLOAD + TAG;
/// Length of an id in characters.
pub const ID_LEN: usize = RAW / 3 * 4;
const MASK48: u64 = (1 << 48) - 1;

/// What a verified id says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdInfo {
    /// The predicting replica's instance number.
    pub instance: u64,
    /// Sequence number within that replica's process.
    pub seq: u64,
    /// When the prediction was made, unix ms.
    pub time_ms: i64,
    /// The prediction.
    pub prediction: f64,
    /// Fingerprint of the model version that predicted.
    pub model_fingerprint: u32,
}

/// Issues and verifies prediction ids with one key.
pub struct IdSigner {
    mac: HmacSha256,
    instance: u64,
    next: AtomicU64,
    model_fingerprint: u32,
}

/// The 4-byte fingerprint of a model version carried in ids.
pub fn model_fingerprint(version: &str) -> u32 {
    let d = Sha256::digest(version.as_bytes());
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// `n` random bytes from the operating system (`/dev/urandom`), or, where that is not
/// readable, a hash of the time, process id and an address (never used as a secret
/// shared between replicas).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom")
        && std::io::Read::read_exact(&mut f, &mut out).is_ok()
    {
        return out;
    }
    let mut h = Sha256::new();
    h.update(sextant::time::now_ms().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update((&raw const out as usize).to_le_bytes());
    let mut block = h.finalize().to_vec();
    while block.len() < N {
        let more = Sha256::digest(&block);
        block.extend_from_slice(&more);
    }
    out.copy_from_slice(&block[..N]);
    out
}

/// The key of a replica: the shared secret if given, else the data directory's own key
/// (created on first use).
///
/// # Errors
///
/// The key file cannot be read or written.
pub fn load_key(shared_secret: Option<&[u8]>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(s) = shared_secret {
        return Ok(s.to_vec());
    }
    let path = data_dir.join("prediction-id.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() >= 32 => return Ok(k),
        Ok(_) | Err(_) => {}
    }
    std::fs::create_dir_all(data_dir)?;
    let key: [u8; 32] = random_bytes();
    let tmp = data_dir.join("prediction-id.key.tmp");
    std::fs::write(&tmp, key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(key.to_vec())
}

impl IdSigner {
    /// A signer with `key` for a model version.
    pub fn new(key: &[u8], model_version: &str) -> Self {
        let instance = u64::from_le_bytes(random_bytes());
        IdSigner {
            mac: HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length"),
            instance,
            next: AtomicU64::new(0),
            model_fingerprint: model_fingerprint(model_version),
        }
    }

    /// This process's instance number.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// The fingerprint of the model this signer issues ids for.
    pub fn model_fingerprint(&self) -> u32 {
        self.model_fingerprint
    }

    /// A new id for a prediction made at `time_ms`.
    pub fn issue(&self, time_ms: i64, prediction: f64) -> PredictionId {
        let seq = self.next.fetch_add(1, Ordering::Relaxed) & MASK48;
        let mut raw = [0u8; RAW];
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&self.instance.to_be_bytes());
        raw[9..15].copy_from_slice(&seq.to_be_bytes()[2..]);
        raw[15..21].copy_from_slice(&((time_ms as u64) & MASK48).to_be_bytes()[2..]);
        raw[21..29].copy_from_slice(&prediction.to_bits().to_be_bytes());
        raw[29..33].copy_from_slice(&self.model_fingerprint.to_be_bytes());
        let mut mac = self.mac.clone();
        mac.update(&raw[..PAYLOAD]);
        let tag = mac.finalize().into_bytes();
        raw[PAYLOAD..].copy_from_slice(&tag[..TAG]);
        encode(&raw)
    }

    /// What `id` says, if this key signed it; `None` for anything else (garbled,
    /// forged, truncated, signed with another key).
    pub fn verify(&self, id: &str) -> Option<IdInfo> {
        let raw = decode(id)?;
        if raw[0] != VERSION {
            return None;
        }
        let mut mac = self.mac.clone();
        mac.update(&raw[..PAYLOAD]);
        mac.verify_truncated_left(&raw[PAYLOAD..]).ok()?;
        let be48 = |b: &[u8]| {
            let mut x = [0u8; 8];
            x[2..].copy_from_slice(b);
            u64::from_be_bytes(x)
        };
        let prediction = f64::from_bits(u64::from_be_bytes(raw[21..29].try_into().ok()?));
        Some(IdInfo {
            instance: u64::from_be_bytes(raw[1..9].try_into().ok()?),
            seq: be48(&raw[9..15]),
            time_ms: be48(&raw[15..21]) as i64,
            prediction,
            model_fingerprint: u32::from_be_bytes(raw[29..33].try_into().ok()?),
        })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// An issued id: its characters, held inline (no allocation; the request path copies it
/// into the response and the prediction log).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PredictionId([u8; ID_LEN]);

impl PredictionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Always ASCII: every byte comes from `ALPHABET`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for PredictionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for PredictionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for PredictionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn encode(raw: &[u8; RAW]) -> PredictionId {
    let mut out = [0u8; ID_LEN];
    for (c, o) in raw.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        for (o, shift) in o.iter_mut().zip([18, 12, 6, 0]) {
            *o = ALPHABET[((n >> shift) & 63) as usize];
        }
    }
    PredictionId(out)
}

fn decode(id: &str) -> Option<[u8; RAW]> {
    let b = id.as_bytes();
    if b.len() != ID_LEN {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        }))
    };
    let mut raw = [0u8; RAW];
    for (i, c) in b.chunks_exact(4).enumerate() {
        let n = (val(c[0])? << 18) | (val(c[1])? << 12) | (val(c[2])? << 6) | val(c[3])?;
        raw[i * 3] = (n >> 16) as u8;
        raw[i * 3 + 1] = (n >> 8) as u8;
        raw[i * 3 + 2] = n as u8;
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_resist_tampering() {
        let a = IdSigner::new(b"secret", "v1");
        let issued = a.issue(1_764_000_000_123, 5.625);
        let id = issued.to_string();
        assert_eq!(id.len(), ID_LEN);
        assert_eq!(serde_json::to_string(&issued).unwrap(), format!("\"{id}\""));
        let info = a.verify(&id).unwrap();
        assert_eq!(info.time_ms, 1_764_000_000_123);
        assert_eq!(info.prediction, 5.625);
        assert_eq!(info.instance, a.instance());
        assert_eq!(info.model_fingerprint, model_fingerprint("v1"));
        // Another replica with the same key verifies it; another key does not.
        let b = IdSigner::new(b"secret", "v1");
        assert_eq!(b.verify(&id), Some(info));
        assert_eq!(IdSigner::new(b"other", "v1").verify(&id), None);
        // Every single-character change is rejected.
        for i in 0..id.len() {
            let mut bytes = id.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(bytes).unwrap();
            assert_eq!(a.verify(&t), None, "tampered at {i}");
        }
        for bad in ["", "x", &id[1..], &format!("{id}A"), "é"] {
            assert_eq!(a.verify(bad), None);
        }
        // Sequence numbers make ids unique.
        assert_ne!(a.issue(0, 1.0), a.issue(0, 1.0));
    }

    #[test]
    fn the_key_persists_in_the_data_directory() {
        let dir = std::env::temp_dir().join(format!("sextant-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let k1 = load_key(None, &dir).unwrap();
        let k2 = load_key(None, &dir).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(k1.len(), 32);
        assert_eq!(load_key(Some(b"s"), &dir).unwrap(), b"s");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
