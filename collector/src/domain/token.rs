//! The private status-page token in a receipt link.
//!
//! 256 random bits, shown once in the receipt and never stored: the database
//! keeps a SHA-256 hash for lookup. A retried submission must return the same
//! link, so with an `Idempotency-Key` the token is also stored *wrapped*: XOR
//! a pad that only the key can rebuild. The key itself is stored only as a
//! (differently salted) hash, so a copy of the database reveals no link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::random;

/// The random bytes behind a status link.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiptToken([u8; 32]);

impl std::fmt::Debug for ReceiptToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ReceiptToken(<redacted>)")
    }
}

impl ReceiptToken {
    pub fn generate() -> ReceiptToken {
        let mut bytes = [0u8; 32];
        random::fill(&mut bytes);
        ReceiptToken(bytes)
    }

    /// Reads the token from a link; `None` for anything not exactly 32 bytes
    /// of URL-safe base64.
    pub fn parse(text: &str) -> Option<ReceiptToken> {
        if text.len() != 43 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(ReceiptToken(bytes.try_into().ok()?))
    }

    /// The text that goes into the link (43 characters).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores and looks up.
    pub fn hash(&self) -> [u8; 32] {
        digest(&[b"heard/receipt-token\0", &self.0])
    }

    /// The token hidden under a pad derived from the idempotency key.
    pub fn wrap(&self, site_id: i64, idempotency_key: &str) -> [u8; 32] {
        xor(&self.0, &pad(site_id, idempotency_key))
    }

    /// Undoes [`ReceiptToken::wrap`].
    pub fn unwrap(wrapped: &[u8; 32], site_id: i64, idempotency_key: &str) -> ReceiptToken {
        ReceiptToken(xor(wrapped, &pad(site_id, idempotency_key)))
    }
}

/// How an idempotency key is stored: a salted hash, scoped to its site.
pub fn idempotency_key_hash(site_id: i64, idempotency_key: &str) -> [u8; 32] {
    digest(&[
        b"heard/idempotency-key\0",
        &site_id.to_le_bytes(),
        idempotency_key.as_bytes(),
    ])
}

/// A fingerprint of a request body, to tell a retry from a different request.
pub fn request_hash(canonical_body: &[u8]) -> [u8; 32] {
    digest(&[b"heard/request\0", canonical_body])
}

fn pad(site_id: i64, idempotency_key: &str) -> [u8; 32] {
    digest(&[
        b"heard/token-wrap\0",
        &site_id.to_le_bytes(),
        idempotency_key.as_bytes(),
    ])
}

pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn xor(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|index| left[index] ^ right[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_their_text() {
        let token = ReceiptToken::generate();
        let text = token.encode();
        assert_eq!(text.len(), 43);
        assert_eq!(ReceiptToken::parse(&text), Some(token));
    }

    #[test]
    fn tokens_are_fresh_each_time() {
        assert_ne!(ReceiptToken::generate(), ReceiptToken::generate());
    }

    #[test]
    fn malformed_token_text_is_refused() {
        assert_eq!(ReceiptToken::parse(""), None);
        assert_eq!(ReceiptToken::parse(&"A".repeat(42)), None);
        assert_eq!(ReceiptToken::parse(&"!".repeat(43)), None);
        assert_eq!(ReceiptToken::parse(&"A".repeat(44)), None);
    }

    #[test]
    fn wrapping_needs_the_same_key_and_site_to_unwrap() {
        let token = ReceiptToken::generate();
        let wrapped = token.wrap(1, "key-123456");
        assert_ne!(wrapped, token.0, "the stored form is not the token");
        assert_eq!(ReceiptToken::unwrap(&wrapped, 1, "key-123456"), token);
        assert_ne!(ReceiptToken::unwrap(&wrapped, 1, "key-123457"), token);
        assert_ne!(ReceiptToken::unwrap(&wrapped, 2, "key-123456"), token);
    }

    #[test]
    fn the_stored_hashes_differ_from_the_pad() {
        assert_ne!(idempotency_key_hash(1, "key-123456"), pad(1, "key-123456"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = ReceiptToken::generate();
        assert!(!format!("{token:?}").contains(&token.encode()));
    }
}
