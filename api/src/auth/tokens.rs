//! Opaque bearer tokens: a type prefix and base64url of 32 random bytes, stored only as a SHA-256 hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Length of a token with a `prefix`: the prefix and 43 base64url characters.
pub fn length(prefix: &str) -> usize {
    prefix.len() + 43
}

/// A new random token.
pub fn random(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Hex SHA-256 of a token, the only form stored.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    hex::encode(digest)
}

/// Whether `candidate` has the shape of a `prefix` token, checked before touching the database.
pub fn is_well_formed(candidate: &str, prefix: &str) -> bool {
    candidate.len() == length(prefix)
        && candidate.starts_with(prefix)
        && URL_SAFE_NO_PAD
            .decode(&candidate[prefix.len()..])
            .is_ok_and(|bytes| bytes.len() == 32)
}
