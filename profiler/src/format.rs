//! Provisional envelope (replaced by the full format module).

/// Payload kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// A dataset profile.
    DatasetProfile,
}

/// Format errors.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Payload error.
    #[error("{0}")]
    Payload(String),
}

/// Encode.
pub fn encode(_kind: PayloadKind, payload: &[u8]) -> Vec<u8> {
    let mut v = b"SXTPROF\0".to_vec();
    v.extend_from_slice(&(crc32fast::hash(payload)).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// Decode.
///
/// # Errors
/// Bad bytes.
pub fn decode(bytes: &[u8]) -> Result<(PayloadKind, &[u8]), FormatError> {
    if bytes.len() < 12 || &bytes[..8] != b"SXTPROF\0" {
        return Err(FormatError::Payload("not a profile".into()));
    }
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if crc != crc32fast::hash(&bytes[12..]) {
        return Err(FormatError::Payload("checksum".into()));
    }
    Ok((PayloadKind::DatasetProfile, &bytes[12..]))
}

/// To payload.
///
/// # Errors
/// Never.
pub fn to_payload<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, FormatError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| FormatError::Payload(e.to_string()))
}

/// From payload.
///
/// # Errors
/// Bad payload.
pub fn from_payload<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, FormatError> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| FormatError::Payload(e.to_string()))
}
