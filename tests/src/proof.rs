//! Proof of work for the scenarios that post complaints themselves: fetch a
//! challenge from the running collector and solve it, exactly as the widget
//! does, with a solver written here rather than borrowed from the collector.
//!
//! The collector of these tests runs with a low base difficulty (see
//! `collector.rs`), so solving costs the scenarios little — but it is a
//! real challenge, really solved, checked by the real collector.

use anyhow::{Context, bail};
use heard_shared::proof::{ALGORITHM, Proof};
use heard_shared::{Challenge, PROOF_HEADER};
use sha2::{Digest, Sha256};

/// The header that carries a solution; re-exported for the scenarios.
pub const HEADER: &str = PROOF_HEADER;

/// Fetches a challenge for the site whose complaints endpoint is
/// `complaints_url` (`…/api/v1/sites/{key}/complaints`), solves it, and
/// answers the value of the `Heard-Proof` header.
pub async fn for_complaints(
    http: &reqwest::Client,
    complaints_url: &str,
) -> anyhow::Result<String> {
    let Some(site_url) = complaints_url.strip_suffix("/complaints") else {
        bail!("{complaints_url} is not a complaints endpoint");
    };
    let response = http
        .get(format!("{site_url}/challenge"))
        .send()
        .await
        .context("fetching a challenge")?;
    let status = response.status();
    if !status.is_success() {
        bail!("the challenge was refused with {status}");
    }
    let challenge: Challenge = response.json().await.context("reading the challenge")?;
    solved(&challenge)
}

/// The header value for a solved `challenge`.
pub fn solved(challenge: &Challenge) -> anyhow::Result<String> {
    if challenge.algorithm != ALGORITHM {
        bail!("unknown algorithm {}", challenge.algorithm);
    }
    let number =
        solve(&challenge.salt, &challenge.challenge, challenge.maxnumber).with_context(|| {
            format!(
                "no number up to {} solves the challenge",
                challenge.maxnumber
            )
        })?;
    Ok(Proof {
        salt: challenge.salt.clone(),
        number,
        signature: challenge.signature.clone(),
    }
    .header_value())
}

/// The `n` in `0..=maxnumber` with `hex(SHA-256(salt + decimal(n))) == challenge`.
pub fn solve(salt: &str, challenge: &str, maxnumber: u64) -> Option<u64> {
    let wanted = unhex(challenge)?;
    (0..=maxnumber).find(|number| {
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        hasher.update(number.to_string().as_bytes());
        hasher.finalize().as_slice() == wanted.as_slice()
    })
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

    #[test]
    fn finds_the_number_behind_a_known_hash() {
        // SHA-256("salt.1.2" + "42"), computed independently of this solver.
        let mut hasher = Sha256::new();
        hasher.update(b"salt.1.242");
        let challenge: String = hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(solve("salt.1.2", &challenge, 100), Some(42));
        assert_eq!(solve("salt.1.2", &challenge, 41), None);
        assert_eq!(solve("salt.1.2", "not hex", 100), None);
    }
}
