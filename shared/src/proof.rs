//! The proof-of-work challenge that makes each complaint cost its sender a
//! little CPU (ALTCHA-style, self-hosted, no third party).
//!
//! 1. The widget asks `GET /api/v1/sites/{site_key}/challenge` for a
//!    [`Challenge`].
//! 2. It finds the whole number `n` in `0..=maxnumber` for which
//!    `hex(SHA-256(salt + decimal(n)))` equals `challenge`.
//! 3. It sends the complaint with the header
//!    `Heard-Proof: {salt}:{n}:{signature}` (see [`Proof`]).
//!
//! The collector signed `challenge` with a key only it knows and bound it to
//! the site, so it can check a proof without having stored the challenge. The
//! salt carries the issue and expiry times (`{random hex}.{issued}.{expires}`,
//! Unix seconds), which the signature covers through `challenge`. A proof is
//! spent by the complaint it came with: a replay is refused until the
//! challenge has expired, after which the proof is refused as expired.

use serde::{Deserialize, Serialize};

/// The request header that carries a solved challenge.
pub const PROOF_HEADER: &str = "Heard-Proof";

/// The only algorithm offered.
pub const ALGORITHM: &str = "SHA-256";

/// A challenge as the collector issues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// Lower-case hex SHA-256 of `salt` followed by the secret number.
    pub challenge: String,
    /// `{random hex}.{issued}.{expires}`, Unix seconds.
    pub salt: String,
    /// The secret number is at most this; it is how hard the challenge is.
    /// It rises while the site receives more complaints than usual.
    pub maxnumber: u64,
    /// Lower-case hex HMAC-SHA256 by the collector, binding `challenge` to
    /// the site.
    pub signature: String,
}

/// A solved challenge, as sent in the [`PROOF_HEADER`] header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub salt: String,
    pub number: u64,
    pub signature: String,
}

impl Proof {
    /// The header's value.
    pub fn header_value(&self) -> String {
        format!("{}:{}:{}", self.salt, self.number, self.signature)
    }

    /// Reads a header value; `None` when it is not of the form
    /// `{salt}:{number}:{signature}` with a plain decimal number.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(':');
        let (salt, number, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || salt.is_empty()
            || signature.is_empty()
            || number.is_empty()
            || !number.bytes().all(|byte| byte.is_ascii_digit())
        {
            return None;
        }
        Some(Self {
            salt: salt.to_owned(),
            number: number.parse().ok()?,
            signature: signature.to_owned(),
        })
    }
}

/// The issue and expiry times a salt carries, Unix seconds.
pub fn salt_times(salt: &str) -> Option<(i64, i64)> {
    let mut parts = salt.split('.');
    let (random, issued, expires) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || random.is_empty()
        || !random.bytes().all(|byte| byte.is_ascii_hexdigit())
    {
        return None;
    }
    Some((issued.parse().ok()?, expires.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_reads_back_what_it_wrote() {
        let proof = Proof {
            salt: "0a1b.1700000000.1700007200".to_owned(),
            number: 4711,
            signature: "ff00".to_owned(),
        };
        assert_eq!(Proof::parse(&proof.header_value()), Some(proof));
    }

    #[test]
    fn malformed_proofs_are_refused() {
        for value in [
            "",
            "salt:1",
            "salt:1:sig:extra",
            ":1:sig",
            "salt::sig",
            "salt:1:",
            "salt:-1:sig",
            "salt:+1:sig",
            "salt:99999999999999999999999:sig",
        ] {
            assert_eq!(Proof::parse(value), None, "{value:?}");
        }
    }

    #[test]
    fn salts_carry_their_times() {
        assert_eq!(salt_times("0a1b.10.20"), Some((10, 20)));
        assert_eq!(salt_times("zz.10.20"), None);
        assert_eq!(salt_times("0a1b.10"), None);
        assert_eq!(salt_times("0a1b.10.20.30"), None);
        assert_eq!(salt_times(".10.20"), None);
    }
}
