//! Proof of work (issue 9): issuing the challenges of
//! [`heard_shared::proof`], checking their solutions, and how hard they are.
//!
//! A challenge is signed, not stored: its signature is
//! `hex(HMAC-SHA256(key, site_key + ":" + challenge))`, where `key` is derived
//! from the site's own identity secret (so every site has its own key and the
//! database holds no extra secret; see [`proof_key`]). The salt carries its
//! issue and expiry times, and the challenge is the hash of the salt and the
//! secret number, so the signature covers all three.
//!
//! **Checking is split in two.** The cryptographic checks — shape, signature
//! for this site, expiry — are [`ProofOfWork::check`], run by the handler
//! before anything is stored. *Spending* the proof happens in the store, in
//! the complaint's own transaction, after the idempotency check: a retry of a
//! stored complaint finds its first receipt without spending anything, and a
//! proof is used up only by a complaint that was stored.
//!
//! **Difficulty rises under load.** Each site counts the challenges it issued
//! over a sliding minute; while that is above the calm rate, `maxnumber` is
//! the base times the largest power of two not above `count / calm`, capped
//! at the maximum factor ([`ProofPolicy::factor`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use heard_shared::limits::{CHALLENGE_LIFETIME_SECONDS, PROOF_HEADER_MAX_BYTES};
use heard_shared::proof::{ALGORITHM, Challenge, Proof, salt_times};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::identity::hex;
use crate::random;
use crate::settings::Settings;
use crate::store::SpentProof;

/// How far in the future a proof's issue time may lie, in seconds: none is
/// ever issued in the future, but a clock step backwards must not refuse
/// the challenges of the last moments.
pub const ISSUE_SKEW_SECONDS: i64 = 60;

/// The largest `maxnumber` the settings may lead to: a phone tries about a
/// million numbers a second, so this is already most of a minute.
pub const MAX_MAXNUMBER: u64 = 100_000_000;

/// Random bytes in a salt (hex-encoded: 32 characters).
const SALT_RANDOM_BYTES: usize = 16;

/// The window over which challenges are counted, in seconds.
const WINDOW_SECONDS: usize = 60;

/// Derives the proof-of-work key from a site's identity secret.
const KEY_LABEL: &[u8] = b"heard/proof-of-work/v1";

type HmacSha256 = Hmac<Sha256>;

/// How proofs are asked for; built from [`Settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofPolicy {
    /// Whether a complaint without a valid proof is refused.
    pub required: bool,
    /// `maxnumber` while the site is calm.
    pub base_maxnumber: u64,
    /// Challenges a minute that a site may issue before difficulty rises.
    pub calm_per_minute: u32,
    /// The most `maxnumber` is multiplied by under load.
    pub max_factor: u32,
}

/// Settings that would make proof of work useless or unsolvable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("proof_of_work_base_maxnumber must be between 1 and {MAX_MAXNUMBER}, not {0}")]
    BaseMaxnumber(u64),
    #[error("proof_of_work_calm_per_minute must be at least 1")]
    CalmPerMinute,
    #[error("proof_of_work_max_factor must be between 1 and 1024, not {0}")]
    MaxFactor(u32),
    #[error(
        "proof_of_work_base_maxnumber × proof_of_work_max_factor is {0}, above {MAX_MAXNUMBER}: \
         under load a phone could not solve the challenge in time; lower either"
    )]
    TooHard(u64),
}

impl ProofPolicy {
    /// The defaults: required, a phone solves a calm challenge in about a
    /// tenth of a second (50,000 hashes expected), and at most 16 times that.
    pub const DEFAULT: ProofPolicy = ProofPolicy {
        required: true,
        base_maxnumber: 100_000,
        calm_per_minute: 60,
        max_factor: 16,
    };

    /// The policy the settings ask for, or why they cannot be used.
    pub fn from_settings(settings: &Settings) -> Result<ProofPolicy, PolicyError> {
        ProofPolicy {
            required: settings.proof_of_work_required,
            base_maxnumber: settings.proof_of_work_base_maxnumber,
            calm_per_minute: settings.proof_of_work_calm_per_minute,
            max_factor: settings.proof_of_work_max_factor,
        }
        .checked()
    }

    /// The policy itself when its numbers are usable.
    pub fn checked(self) -> Result<ProofPolicy, PolicyError> {
        if !(1..=MAX_MAXNUMBER).contains(&self.base_maxnumber) {
            return Err(PolicyError::BaseMaxnumber(self.base_maxnumber));
        }
        if self.calm_per_minute == 0 {
            return Err(PolicyError::CalmPerMinute);
        }
        if !(1..=1024).contains(&self.max_factor) {
            return Err(PolicyError::MaxFactor(self.max_factor));
        }
        let hardest = self.base_maxnumber * u64::from(self.max_factor);
        if hardest > MAX_MAXNUMBER {
            return Err(PolicyError::TooHard(hardest));
        }
        Ok(self)
    }

    /// How much harder than calm a challenge is when the site issued
    /// `issued_last_minute` challenges in the last minute: 1 up to twice the
    /// calm rate, then doubling with each doubling of the rate, at most
    /// `max_factor`.
    pub fn factor(self, issued_last_minute: u64) -> u64 {
        let times_calm = issued_last_minute / u64::from(self.calm_per_minute.max(1));
        let doubling = if times_calm < 2 {
            1
        } else {
            // The largest power of two not above `times_calm`.
            1u64 << (63 - times_calm.leading_zeros())
        };
        doubling.min(u64::from(self.max_factor.max(1)))
    }

    /// The `maxnumber` of a challenge issued at that load.
    pub fn maxnumber(self, issued_last_minute: u64) -> u64 {
        self.base_maxnumber * self.factor(issued_last_minute)
    }
}

impl Default for ProofPolicy {
    fn default() -> Self {
        ProofPolicy::DEFAULT
    }
}

/// Why a complaint's proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofRefusal {
    /// No `Heard-Proof` header while proofs are required.
    Required,
    /// Malformed, too long, for another site, forged, or the wrong number.
    Invalid,
    /// A genuine proof whose challenge has expired.
    Expired,
    /// A genuine proof already spent by another complaint.
    Used,
}

/// Issues and checks the challenges of a running collector; cheap to clone.
#[derive(Clone)]
pub struct ProofOfWork {
    policy: ProofPolicy,
    /// Challenges issued per site id over the last minute. Only sites that
    /// exist get here (the site is resolved first), so this stays as small
    /// as the list of sites.
    load: Arc<Mutex<HashMap<i64, Window>>>,
}

impl ProofOfWork {
    pub fn new(policy: ProofPolicy) -> ProofOfWork {
        ProofOfWork {
            policy,
            load: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn policy(&self) -> ProofPolicy {
        self.policy
    }

    /// A fresh challenge for the site, issued at `now_ms`; counts towards
    /// the site's load.
    pub fn issue(
        &self,
        site_id: i64,
        site_key: &str,
        identity_secret: &[u8],
        now_ms: i64,
    ) -> Challenge {
        let issued_last_minute = self.record_issue(site_id, now_ms);
        let maxnumber = self.policy.maxnumber(issued_last_minute);
        let issued = now_ms.div_euclid(1000);
        let mut random_bytes = [0u8; SALT_RANDOM_BYTES];
        random::fill(&mut random_bytes);
        let salt = format!(
            "{}.{issued}.{}",
            hex(&random_bytes),
            issued + CHALLENGE_LIFETIME_SECONDS
        );
        let challenge = challenge_of(&salt, secret_number(maxnumber));
        let signature = hex(&signer(site_key, identity_secret, &challenge)
            .finalize()
            .into_bytes());
        Challenge {
            algorithm: ALGORITHM.to_owned(),
            challenge,
            salt,
            maxnumber,
            signature,
        }
    }

    /// Checks the `Heard-Proof` header a complaint for the site came with, at
    /// `now_ms`: the proof to spend with the complaint, `None` when proofs
    /// are not required (a header is then ignored), or why it is refused.
    pub fn check(
        &self,
        site_key: &str,
        identity_secret: &[u8],
        header: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<Option<SpentProof>, ProofRefusal> {
        if !self.policy.required {
            return Ok(None);
        }
        let header = header.ok_or(ProofRefusal::Required)?;
        check_proof(site_key, identity_secret, header, now_ms.div_euclid(1000)).map(Some)
    }

    /// Records one issued challenge; answers how many the site issued in the
    /// last minute, this one included.
    fn record_issue(&self, site_id: i64, now_ms: i64) -> u64 {
        let second = now_ms.div_euclid(1000);
        match self.load.lock() {
            Ok(mut load) => load
                .entry(site_id)
                .or_insert_with(|| Window::new(second))
                .record(second),
            // A poisoned lock only loses the load estimate: stay calm.
            Err(_) => 1,
        }
    }
}

impl Default for ProofOfWork {
    fn default() -> Self {
        ProofOfWork::new(ProofPolicy::DEFAULT)
    }
}

/// The cryptographic checks of one proof, at `now` (Unix seconds).
fn check_proof(
    site_key: &str,
    identity_secret: &[u8],
    header: &[u8],
    now: i64,
) -> Result<SpentProof, ProofRefusal> {
    if header.len() > PROOF_HEADER_MAX_BYTES {
        return Err(ProofRefusal::Invalid);
    }
    let text = std::str::from_utf8(header).map_err(|_| ProofRefusal::Invalid)?;
    let proof = Proof::parse(text).ok_or(ProofRefusal::Invalid)?;
    let (issued, expires) = salt_times(&proof.salt).ok_or(ProofRefusal::Invalid)?;
    let signature = unhex_32(&proof.signature).ok_or(ProofRefusal::Invalid)?;
    // The signature covers the challenge, which covers the salt (and so its
    // times) and the number: a wrong number or a changed salt fails here.
    let challenge = challenge_of(&proof.salt, proof.number);
    signer(site_key, identity_secret, &challenge)
        .verify_slice(&signature)
        .map_err(|_| ProofRefusal::Invalid)?;
    // Only what this collector signed gets this far; the times are checked
    // again so that a shorter lifetime applies to challenges already out.
    if expires <= issued
        || expires - issued > CHALLENGE_LIFETIME_SECONDS
        || issued > now + ISSUE_SKEW_SECONDS
    {
        return Err(ProofRefusal::Invalid);
    }
    if expires <= now {
        return Err(ProofRefusal::Expired);
    }
    Ok(SpentProof {
        salt: proof.salt,
        expires_at: expires,
    })
}

/// `hex(SHA-256(salt + decimal(number)))`: what the solver looks for.
pub fn challenge_of(salt: &str, number: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(number.to_string().as_bytes());
    hex(&hasher.finalize())
}

/// Finds the secret number of a challenge by trying every candidate, as the
/// widget does; `None` when no number up to `maxnumber` fits. For tests and
/// the load generator's own copy of the algorithm to be checked against.
pub fn solve(challenge: &Challenge) -> Option<u64> {
    (0..=challenge.maxnumber)
        .find(|&number| challenge_of(&challenge.salt, number) == challenge.challenge)
}

/// The site's proof-of-work key: derived from its identity secret with a
/// label of its own, so it differs from every identity signature and the
/// database holds no further secret.
fn proof_key(identity_secret: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(identity_secret)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(KEY_LABEL);
    mac.finalize().into_bytes().into()
}

/// The HMAC over `site_key:challenge` with the site's key, ready to finish
/// or to verify.
fn signer(site_key: &str, identity_secret: &[u8], challenge: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&proof_key(identity_secret))
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(site_key.as_bytes());
    mac.update(b":");
    mac.update(challenge.as_bytes());
    mac
}

/// A number drawn uniformly from `0..=maxnumber` (the widening multiply's
/// bias is below `maxnumber / 2^64`).
fn secret_number(maxnumber: u64) -> u64 {
    let mut bytes = [0u8; 8];
    random::fill(&mut bytes);
    let draw = u128::from(u64::from_le_bytes(bytes));
    let range = u128::from(maxnumber) + 1;
    u64::try_from((draw * range) >> 64).unwrap_or(maxnumber)
}

/// 64 lower- or upper-case hex digits as 32 bytes.
fn unhex_32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(bytes)
}

/// Challenges issued per second over the last [`WINDOW_SECONDS`]: a fixed
/// ring, so a site's load costs the same memory however busy it is.
struct Window {
    slots: [u32; WINDOW_SECONDS],
    /// The second the newest slot belongs to.
    second: i64,
}

impl Window {
    fn new(second: i64) -> Window {
        Window {
            slots: [0; WINDOW_SECONDS],
            second,
        }
    }

    /// Counts one issue at `second`; answers the count over the window.
    fn record(&mut self, second: i64) -> u64 {
        self.advance(second);
        let slot = self.second.rem_euclid(WINDOW_SECONDS as i64) as usize;
        self.slots[slot] = self.slots[slot].saturating_add(1);
        self.slots.iter().map(|&count| u64::from(count)).sum()
    }

    /// Empties the slots of the seconds that passed since the newest. A
    /// clock that went back counts into the newest slot.
    fn advance(&mut self, second: i64) {
        if second <= self.second {
            return;
        }
        let passed = (second - self.second).min(WINDOW_SECONDS as i64);
        for step in 1..=passed {
            let slot = (self.second + step).rem_euclid(WINDOW_SECONDS as i64) as usize;
            self.slots[slot] = 0;
        }
        self.second = second;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = &[7; 32];
    const NOW_MS: i64 = 1_800_000_000_000;
    const NOW: i64 = NOW_MS / 1000;

    fn light() -> ProofOfWork {
        ProofOfWork::new(ProofPolicy {
            base_maxnumber: 500,
            ..ProofPolicy::DEFAULT
        })
    }

    fn solved(challenge: &Challenge) -> String {
        Proof {
            salt: challenge.salt.clone(),
            number: solve(challenge).expect("a challenge has a solution"),
            signature: challenge.signature.clone(),
        }
        .header_value()
    }

    #[test]
    fn the_factor_doubles_with_each_doubling_above_calm_and_stops_at_the_cap() {
        let policy = ProofPolicy {
            calm_per_minute: 10,
            max_factor: 16,
            base_maxnumber: 1000,
            required: true,
        };
        for (issued, factor) in [
            (0, 1),
            (10, 1),
            (19, 1),
            (20, 2),
            (39, 2),
            (40, 4),
            (80, 8),
            (159, 8),
            (160, 16),
            (10_000, 16),
            (u64::MAX, 16),
        ] {
            assert_eq!(policy.factor(issued), factor, "{issued} a minute");
        }
        assert_eq!(policy.maxnumber(45), 4000);
        let capped = ProofPolicy {
            max_factor: 10,
            ..policy
        };
        assert_eq!(capped.factor(160), 10);
    }

    #[test]
    fn unusable_settings_are_refused_with_their_name() {
        let base = ProofPolicy::DEFAULT;
        assert_eq!(base.checked(), Ok(base));
        for (policy, name) in [
            (
                ProofPolicy {
                    base_maxnumber: 0,
                    ..base
                },
                "proof_of_work_base_maxnumber",
            ),
            (
                ProofPolicy {
                    calm_per_minute: 0,
                    ..base
                },
                "proof_of_work_calm_per_minute",
            ),
            (
                ProofPolicy {
                    max_factor: 0,
                    ..base
                },
                "proof_of_work_max_factor",
            ),
            (
                ProofPolicy {
                    base_maxnumber: 10_000_000,
                    max_factor: 16,
                    ..base
                },
                "proof_of_work_max_factor",
            ),
        ] {
            let error = policy.checked().unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn the_window_counts_the_last_minute_only() {
        let mut window = Window::new(100);
        for _ in 0..5 {
            window.record(100);
        }
        assert_eq!(window.record(130), 6);
        // At 160 the issues of second 100 have left the window.
        assert_eq!(window.record(160), 2);
        // A clock that went back counts into the newest second.
        assert_eq!(window.record(150), 3);
        // After a long pause everything is forgotten.
        assert_eq!(window.record(10_000), 1);
    }

    #[test]
    fn a_solved_challenge_passes_for_its_own_site_only() {
        let pow = light();
        let challenge = pow.issue(1, "demo", SECRET, NOW_MS);
        assert_eq!(challenge.algorithm, "SHA-256");
        assert_eq!(challenge.maxnumber, 500);
        assert_eq!(
            salt_times(&challenge.salt),
            Some((NOW, NOW + CHALLENGE_LIFETIME_SECONDS))
        );
        let header = solved(&challenge);
        let spent = pow
            .check("demo", SECRET, Some(header.as_bytes()), NOW_MS)
            .unwrap()
            .unwrap();
        assert_eq!(spent.salt, challenge.salt);
        assert_eq!(spent.expires_at, NOW + CHALLENGE_LIFETIME_SECONDS);
        // Another site: another key and another key in the signed text.
        assert_eq!(
            pow.check("other", SECRET, Some(header.as_bytes()), NOW_MS),
            Err(ProofRefusal::Invalid)
        );
        assert_eq!(
            pow.check("demo", &[8; 32], Some(header.as_bytes()), NOW_MS),
            Err(ProofRefusal::Invalid)
        );
    }

    #[test]
    fn wrong_numbers_forgeries_and_garbage_are_invalid() {
        let pow = light();
        let challenge = pow.issue(1, "demo", SECRET, NOW_MS);
        let number = solve(&challenge).unwrap();
        let with = |salt: &str, number: u64, signature: &str| {
            Proof {
                salt: salt.to_owned(),
                number,
                signature: signature.to_owned(),
            }
            .header_value()
        };
        let check = |header: &str| pow.check("demo", SECRET, Some(header.as_bytes()), NOW_MS);
        // The wrong number.
        let wrong = if number == 0 { 1 } else { number - 1 };
        assert_eq!(
            check(&with(&challenge.salt, wrong, &challenge.signature)),
            Err(ProofRefusal::Invalid)
        );
        // A salt with a later expiry, signature kept.
        let (random_part, _) = challenge.salt.split_once('.').unwrap();
        let stretched = format!(
            "{random_part}.{NOW}.{}",
            NOW + 10 * CHALLENGE_LIFETIME_SECONDS
        );
        assert_eq!(
            check(&with(&stretched, number, &challenge.signature)),
            Err(ProofRefusal::Invalid)
        );
        // A signature made with a guessed key, for a challenge of one's own.
        let own_salt = format!("00.{NOW}.{}", NOW + 60);
        let own = challenge_of(&own_salt, 0);
        let mut forged = HmacSha256::new_from_slice(b"guess").unwrap();
        forged.update(format!("demo:{own}").as_bytes());
        let forged = hex(&forged.finalize().into_bytes());
        assert_eq!(
            check(&with(&own_salt, 0, &forged)),
            Err(ProofRefusal::Invalid)
        );
        // Garbage.
        for garbage in [
            String::new(),
            "x".to_owned(),
            format!("{}:{number}", challenge.salt),
            format!("{}:{number}:zz", challenge.salt),
            format!("{}:{number}:{}", challenge.salt, "0".repeat(64)),
            format!("{}:{number}:{}00", challenge.salt, challenge.signature),
        ] {
            assert_eq!(check(&garbage), Err(ProofRefusal::Invalid), "{garbage:?}");
        }
        // Leading zeros keep the number: padded to the limit the proof
        // passes, one byte beyond it does not.
        let padded = |length: usize| {
            let plain = with(&challenge.salt, number, &challenge.signature);
            let zeros = "0".repeat(length - plain.len());
            format!("{}:{zeros}{number}:{}", challenge.salt, challenge.signature)
        };
        assert_eq!(padded(PROOF_HEADER_MAX_BYTES).len(), PROOF_HEADER_MAX_BYTES);
        assert!(check(&padded(PROOF_HEADER_MAX_BYTES)).is_ok());
        assert_eq!(
            check(&padded(PROOF_HEADER_MAX_BYTES + 1)),
            Err(ProofRefusal::Invalid)
        );
        assert_eq!(
            pow.check("demo", SECRET, Some(&[0xff, 0xfe]), NOW_MS),
            Err(ProofRefusal::Invalid)
        );
        // Missing.
        assert_eq!(
            pow.check("demo", SECRET, None, NOW_MS),
            Err(ProofRefusal::Required)
        );
    }

    #[test]
    fn a_proof_expires_with_its_challenge() {
        let pow = light();
        let challenge = pow.issue(1, "demo", SECRET, NOW_MS);
        let header = solved(&challenge);
        let lifetime_ms = CHALLENGE_LIFETIME_SECONDS * 1000;
        let at = |ms: i64| pow.check("demo", SECRET, Some(header.as_bytes()), ms);
        assert!(at(NOW_MS + lifetime_ms - 1000).is_ok());
        assert_eq!(at(NOW_MS + lifetime_ms), Err(ProofRefusal::Expired));
        // Issued "in the future" beyond the skew: a clock far behind.
        assert_eq!(
            at(NOW_MS - (ISSUE_SKEW_SECONDS + 1) * 1000),
            Err(ProofRefusal::Invalid)
        );
        assert!(at(NOW_MS - ISSUE_SKEW_SECONDS * 1000).is_ok());
    }

    #[test]
    fn without_the_requirement_no_proof_is_asked_for_or_spent() {
        let pow = ProofOfWork::new(ProofPolicy {
            required: false,
            ..ProofPolicy::DEFAULT
        });
        assert_eq!(pow.check("demo", SECRET, None, NOW_MS), Ok(None));
        assert_eq!(
            pow.check("demo", SECRET, Some(b"garbage"), NOW_MS),
            Ok(None)
        );
    }

    #[test]
    fn difficulty_rises_per_site_under_load_and_falls_back_after_the_minute() {
        let pow = ProofOfWork::new(ProofPolicy {
            base_maxnumber: 100,
            calm_per_minute: 5,
            max_factor: 4,
            required: true,
        });
        let maxnumbers: Vec<u64> = (0..25)
            .map(|_| pow.issue(1, "busy", SECRET, NOW_MS).maxnumber)
            .collect();
        assert_eq!(maxnumbers[0], 100);
        assert_eq!(maxnumbers[8], 100, "9 a minute is below twice calm");
        assert_eq!(maxnumbers[9], 200, "10 a minute is twice calm");
        assert_eq!(maxnumbers[19], 400);
        assert_eq!(maxnumbers[24], 400, "capped at 4×");
        // Another site is calm.
        assert_eq!(pow.issue(2, "calm", SECRET, NOW_MS).maxnumber, 100);
        // A minute later the busy site is calm again.
        assert_eq!(pow.issue(1, "busy", SECRET, NOW_MS + 60_000).maxnumber, 100);
    }

    #[test]
    fn secret_numbers_stay_in_range_and_vary() {
        let numbers: Vec<u64> = (0..200).map(|_| secret_number(3)).collect();
        assert!(numbers.iter().all(|&number| number <= 3));
        for value in 0..=3 {
            assert!(numbers.contains(&value), "{value} never drawn in 200");
        }
        assert_eq!(secret_number(0), 0);
        // The widest range does not overflow the widening multiply.
        let _ = secret_number(u64::MAX);
    }
}
