//! Passwords, device tokens and the login slow-down.
//!
//! Passwords are stored as Argon2id PHC strings. Device tokens are 256 random
//! bits handed to the device once; the server keeps only their SHA-256 (a fast
//! hash is right here: the token has full entropy, unlike a password).

use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use nimbus_protocol::rpc::DeviceToken;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked token recognisable (e.g. by secret scanners).
const TOKEN_PREFIX: &str = "nmb_";

/// Failed logins allowed before each further attempt is slowed down.
pub const FREE_LOGIN_FAILURES: u32 = 5;
/// The longest a user has to wait between attempts.
const MAX_LOGIN_DELAY: Duration = Duration::from_secs(15 * 60);

/// Hashes a password with Argon2id and a random salt. CPU-heavy: call it
/// from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// Checks a password against a stored PHC string. CPU-heavy: call it from a
/// blocking thread.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A valid PHC string for a password nobody knows: verifying against it when
/// the user does not exist keeps the timing of a failed login the same.
pub fn decoy_password_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        hash_password(&hex::encode(secret)).expect("hashing a random password cannot fail")
    })
}

/// A fresh device token and the hash to store.
pub fn new_token() -> (DeviceToken, [u8; 32]) {
    let token = DeviceToken(random_secret(TOKEN_PREFIX));
    let hash = token_hash(&token);
    (token, hash)
}

/// A random secret of 256 bits as hex, with a recognisable prefix.
pub fn random_secret(prefix: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{prefix}{}", hex::encode(secret))
}

/// The bearer token of the device bound to an OAuth access token: derived
/// from the access token's secret, so it need not be stored.
pub fn oauth_device_token(access_secret: &str) -> DeviceToken {
    let mut hasher = Sha256::new();
    hasher.update(b"nimbus oauth device token\0");
    hasher.update(access_secret.as_bytes());
    DeviceToken(format!("{TOKEN_PREFIX}{}", hex::encode(hasher.finalize())))
}

pub fn token_hash(token: &DeviceToken) -> [u8; 32] {
    Sha256::digest(token.0.as_bytes()).into()
}

/// How long a user must wait after `failures` consecutive failed logins,
/// counted from the last failure: nothing for the first few, then doubling.
pub fn login_delay(failures: u32) -> Duration {
    if failures < FREE_LOGIN_FAILURES {
        return Duration::ZERO;
    }
    let exponent = (failures - FREE_LOGIN_FAILURES).min(20);
    Duration::from_secs(1u64 << exponent).min(MAX_LOGIN_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let stored = hash_password("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("correct horse ", &stored));
        assert!(!verify_password("anything", "not a phc string"));
        assert!(!verify_password("", decoy_password_hash()));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.0.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(token_hash(&a), hash_a);
    }

    #[test]
    fn login_delay_grows_and_is_capped() {
        assert_eq!(login_delay(0), Duration::ZERO);
        assert_eq!(login_delay(4), Duration::ZERO);
        assert_eq!(login_delay(5), Duration::from_secs(1));
        assert_eq!(login_delay(7), Duration::from_secs(4));
        assert_eq!(login_delay(40), MAX_LOGIN_DELAY);
    }
}
