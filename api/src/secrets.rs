//! Secrets at rest: AES-256-GCM under the master key, bound to the row and purpose they belong to.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::{hkdf, hmac};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;
use crate::error::{ApiError, ApiResult};

/// The format tag of sealed values, so the scheme can change without guessing.
const VERSION: &str = "v1";
const KEY_FILE: &str = "master.key";

/// Encrypts and decrypts secrets with the configured master key.
pub struct Sealer {
    key: LessSafeKey,
    /// Signs short-lived URLs (attachments), derived from the master key with HKDF so that it is never the
    /// sealing key itself.
    signing: hmac::Key,
    /// Signs the audit log's daily checkpoints, derived apart from the URL-signing key.
    checkpoints: hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A signing key for `purpose` (URL signing, audit checkpoints) derived from the master key's bytes with HKDF.
fn signing_key(master: &[u8], purpose: &[u8]) -> anyhow::Result<hmac::Key> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"concierge").extract(master);
    let info = [purpose];
    let okm = prk
        .expand(&info, hmac::HMAC_SHA256)
        .map_err(|_| anyhow::anyhow!("deriving a signing key failed"))?;
    Ok(hmac::Key::from(okm))
}

/// Base64url of HMAC-SHA256 of `message` under `key`.
fn sign(key: &hmac::Key, message: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac::sign(key, message.as_bytes()))
}

/// Whether `signature` is [`sign`]'s for `message` under `key` (compared in constant time).
fn holds(key: &hmac::Key, message: &str, signature: &str) -> bool {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|tag| hmac::verify(key, message.as_bytes(), &tag).is_ok())
}

/// The sealing key, the URL-signing key and the checkpoint-signing key of a master key.
type Keys = (LessSafeKey, hmac::Key, hmac::Key);

fn decode_key(text: &str) -> anyhow::Result<Keys> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow::anyhow!("the master key must be base64"))?;
    anyhow::ensure!(
        bytes.len() == 32,
        "the master key must be 32 bytes (base64 of 32 random bytes), not {}",
        bytes.len()
    );
    let key = UnboundKey::new(&AES_256_GCM, &bytes)
        .map_err(|_| anyhow::anyhow!("the master key was refused by AES-256-GCM"))?;
    Ok((
        LessSafeKey::new(key),
        signing_key(&bytes, b"url-signing")?,
        signing_key(&bytes, b"audit-checkpoints")?,
    ))
}

impl Sealer {
    /// `CONCIERGE_MASTER_KEY`, or the key generated into the data dir on first start.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        use anyhow::Context;
        let (key, signing, checkpoints) = match &settings.master_key {
            Some(key) => {
                decode_key(key.expose_secret()).context("CONCIERGE_MASTER_KEY is unusable")?
            }
            None => {
                let path = settings.data_dir.join(KEY_FILE);
                let text = key_file(&settings.data_dir).with_context(|| {
                    format!(
                        "cannot read or create the master key {} (CONCIERGE_DATA_DIR, or set CONCIERGE_MASTER_KEY)",
                        path.display()
                    )
                })?;
                decode_key(&text).with_context(|| {
                    format!(
                        "the master key {} is unusable (restore it from a backup, or set CONCIERGE_MASTER_KEY)",
                        path.display()
                    )
                })?
            }
        };
        Ok(Self {
            key,
            signing,
            checkpoints,
        })
    }

    /// A signature of `message` for a URL (base64url of HMAC-SHA256 under the derived signing key).
    pub fn sign_url(&self, message: &str) -> String {
        sign(&self.signing, message)
    }

    /// Whether `signature` is [`Sealer::sign_url`]'s for `message` (compared in constant time).
    pub fn url_signature_holds(&self, message: &str, signature: &str) -> bool {
        holds(&self.signing, message, signature)
    }

    /// A signature of an audit checkpoint (base64url of HMAC-SHA256 under its own derived key).
    pub fn sign_checkpoint(&self, message: &str) -> String {
        sign(&self.checkpoints, message)
    }

    /// Whether `signature` is [`Sealer::sign_checkpoint`]'s for `message` (compared in constant time).
    pub fn checkpoint_holds(&self, message: &str, signature: &str) -> bool {
        holds(&self.checkpoints, message, signature)
    }

    /// Encrypts `plaintext`; `context` (for example the row id and field) must be given again to decrypt.
    pub fn seal(&self, plaintext: &str, context: &str) -> ApiResult<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| ApiError::internal_msg("sealing a secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}:{}", STANDARD.encode(out)))
    }

    /// Decrypts what [`Sealer::seal`] made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> ApiResult<SecretString> {
        let unreadable = || {
            ApiError::internal_msg(
                "a stored secret cannot be decrypted: was the master key changed?",
            )
        };
        let body = sealed
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix(':'))
            .ok_or_else(unreadable)?;
        let bytes = STANDARD.decode(body).map_err(|_| unreadable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| unreadable())?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| unreadable())?;
        Ok(SecretString::from(text))
    }
}

/// Reads the data dir's master key, creating it (owner-only) on first start.
fn key_file(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text);
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let text = STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(text.as_bytes())?;
            tracing::info!(path = %path.display(), "generated a master key; set CONCIERGE_MASTER_KEY to share one between instances");
            Ok(text)
        }
        // Another process created it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?)
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        let (key, signing, checkpoints) = decode_key(&STANDARD.encode([7u8; 32])).unwrap();
        Sealer {
            key,
            signing,
            checkpoints,
        }
    }

    #[test]
    fn checkpoint_signatures_hold_only_for_what_was_signed_and_are_not_url_signatures() {
        let sealer = sealer();
        let signature = sealer.sign_checkpoint("org_1 2026-12-07 5 abc");
        assert!(sealer.checkpoint_holds("org_1 2026-12-07 5 abc", &signature));
        assert!(!sealer.checkpoint_holds("org_1 2026-12-07 4 abc", &signature));
        assert!(!sealer.url_signature_holds("org_1 2026-12-07 5 abc", &signature));
    }

    #[test]
    fn url_signatures_hold_only_for_what_was_signed() {
        let sealer = sealer();
        let signature = sealer.sign_url("file_1:1700000000");
        assert!(sealer.url_signature_holds("file_1:1700000000", &signature));
        assert!(!sealer.url_signature_holds("file_1:1700000001", &signature));
        assert!(!sealer.url_signature_holds("file_1:1700000000", "not base64!"));
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_context() {
        let s = sealer();
        let sealed = s.seal("whsec_abc", "webhook:whk_1").unwrap();
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(
            s.open(&sealed, "webhook:whk_1").unwrap().expose_secret(),
            "whsec_abc"
        );
        assert!(s.open(&sealed, "webhook:whk_2").is_err());
        assert_ne!(
            sealed,
            s.seal("whsec_abc", "webhook:whk_1").unwrap(),
            "fresh nonce"
        );
    }
}
