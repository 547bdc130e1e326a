//! Member passwords: Argon2id (RFC 9106 defaults), hashed and checked off the async threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::error::{ApiError, ApiResult};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// Checks the rules a new password must meet.
pub fn validate(password: &str, email: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&chars) {
        return Err(ApiError::validation(
            "password",
            format!("must be {MIN_LENGTH} to {MAX_LENGTH} characters"),
        ));
    }
    if password.eq_ignore_ascii_case(email) {
        return Err(ApiError::validation(
            "password",
            "must not be the email address",
        ));
    }
    Ok(())
}

fn hash_now(password: &str) -> ApiResult<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|err| ApiError::internal_msg(format!("password salt: {err}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| ApiError::internal_msg(format!("password hashing: {err}")))
}

fn verify_now(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Hashes a password on the blocking pool (it takes tens of milliseconds by design).
pub async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(ApiError::internal)?
}

/// Whether `password` matches `hash`; with no hash, spends the same time and answers false, so that timing
/// does not tell whether an account exists.
pub async fn verify(hash: Option<String>, password: String) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_now(&hash, &password),
        None => {
            let _ = hash_now(&password);
            false
        }
    })
    .await
    .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify(Some(hash.clone()), "correct horse battery".to_owned())
                .await
                .unwrap()
        );
        assert!(
            !verify(Some(hash), "correct horse batter".to_owned())
                .await
                .unwrap()
        );
        assert!(!verify(None, "anything at all".to_owned()).await.unwrap());
    }
}
