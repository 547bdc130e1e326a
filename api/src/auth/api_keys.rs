//! API key secrets: generation, hashing and the shape check done before any database access.

use crate::auth::tokens;

/// Every key starts with this, so leaked keys are easy to spot by scanners.
pub const KEY_PREFIX: &str = "ck_";
/// Characters of the secret shown as its visible prefix.
const VISIBLE_LEN: usize = KEY_PREFIX.len() + 8;

/// A freshly generated key: the secret is shown once, only the hash is stored.
#[derive(Debug)]
pub struct NewSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

/// Generates a key from 32 random bytes.
pub fn generate() -> NewSecret {
    let secret = tokens::random(KEY_PREFIX);
    NewSecret {
        prefix: secret[..VISIBLE_LEN].to_owned(),
        hash: hash(&secret),
        secret,
    }
}

/// Hex SHA-256 of a secret: keys carry 256 bits of entropy, so a fast hash is enough.
pub fn hash(secret: &str) -> String {
    tokens::hash(secret)
}

/// Whether `candidate` has the shape of a key, checked before touching the database.
pub fn is_well_formed(candidate: &str) -> bool {
    tokens::is_well_formed(candidate, KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(is_well_formed(&a.secret));
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn malformed_keys_are_rejected_by_shape() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("ck_short"));
        let key = generate().secret;
        assert!(!is_well_formed(&key.replacen("ck_", "xx_", 1)));
        assert!(!is_well_formed(&format!("{}!", &key[..key.len() - 1])));
    }
}
