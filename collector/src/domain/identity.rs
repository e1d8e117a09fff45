//! Identities vouched for by the merchant's server.
//!
//! A merchant's page may tell the widget who the shopper is
//! (`Heard('identify', …)`). Anyone can type anything into a page, so the
//! identity counts as *verified* only when it carries the hex HMAC-SHA256 of
//! its subject (`customer_id`, else `email`) keyed with the site's secret —
//! which only the merchant's server knows.

use heard_shared::Identity;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What the signature covers: the customer id when given, else the email.
pub fn subject(identity: &Identity) -> Option<&str> {
    identity
        .customer_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .or(identity.email.as_deref().filter(|email| !email.is_empty()))
}

/// The signature the merchant's server computes (hex, lowercase).
pub fn sign(secret: &[u8], subject: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(subject.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// True when the identity's signature matches its subject under `secret`.
/// The comparison takes the same time however many bytes match.
pub fn is_verified(secret: &[u8], identity: &Identity) -> bool {
    let (Some(subject), Some(signature)) = (subject(identity), identity.signature.as_deref())
    else {
        return false;
    };
    let Some(signature) = unhex(signature) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(subject.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(
        customer_id: Option<&str>,
        email: Option<&str>,
        signature: Option<String>,
    ) -> Identity {
        Identity {
            customer_id: customer_id.map(str::to_owned),
            email: email.map(str::to_owned),
            signature,
            ..Identity::default()
        }
    }

    #[test]
    fn a_signature_from_the_secret_verifies() {
        let secret = b"site secret";
        let signed = identity(
            Some("cust-42"),
            Some("ana@example.com"),
            Some(sign(secret, "cust-42")),
        );
        assert!(is_verified(secret, &signed));
        let by_email = identity(
            None,
            Some("ana@example.com"),
            Some(sign(secret, "ana@example.com")),
        );
        assert!(is_verified(secret, &by_email));
    }

    #[test]
    fn forged_or_missing_signatures_do_not_verify() {
        let secret = b"site secret";
        let other_subject = identity(Some("cust-43"), None, Some(sign(secret, "cust-42")));
        assert!(!is_verified(secret, &other_subject));
        let other_secret = identity(Some("cust-42"), None, Some(sign(b"guess", "cust-42")));
        assert!(!is_verified(secret, &other_secret));
        assert!(!is_verified(secret, &identity(Some("cust-42"), None, None)));
        assert!(!is_verified(
            secret,
            &identity(Some("cust-42"), None, Some("zz".to_owned()))
        ));
        assert!(!is_verified(
            secret,
            &identity(None, None, Some(sign(secret, "")))
        ));
    }
}
