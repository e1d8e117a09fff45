//! Solving the collector's proof-of-work challenge (see
//! `heard_shared::proof`): find `n` in `0..=maxnumber` with
//! `hex(SHA-256(salt + decimal(n))) == challenge`.
//!
//! SHA-256 (FIPS 180-4) is written here rather than taken from a crate: the
//! widget needs only this one use of it, and shoppers download every byte.
//! It is shaped for the search: the salt never changes, so the blocks it
//! fills alone are compressed once ([`Solver::new`]); the number is counted
//! up in its decimal digits in place, never formatted; and each candidate's
//! state words are compared with the challenge's words, never turned into
//! hex. The browser's `crypto.subtle` would need a promise per hash and a
//! Web Worker cannot be started from a merchant's page (cross-origin, or a
//! `blob:` URL their Content-Security-Policy may refuse), so the search runs
//! here, on the page's thread, in slices: [`Solver::run`] tries a bounded
//! number of candidates and returns, and the caller yields to the browser
//! between slices.

/// The first 32 bits of the fractional parts of the cube roots of the first
/// 64 primes.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The first 32 bits of the fractional parts of the square roots of the
/// first 8 primes.
const INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The SHA-256 state words after hashing the blocks so far.
type State = [u32; 8];

/// Folds one 64-byte block into `state`.
fn compress(state: &mut State, block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let mut v = *state;
    for (k, w) in K.iter().zip(w) {
        let [a, b, c, d, e, f, g, h] = v;
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let choice = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(choice)
            .wrapping_add(*k)
            .wrapping_add(w);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let majority = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(majority);
        v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (word, added) in state.iter_mut().zip(v) {
        *word = word.wrapping_add(added);
    }
}

/// Hashes the final `tail` (shorter than a block plus what fits after it)
/// of a message `total_len` bytes long into `state`: appends the padding
/// and the length in bits, and compresses one or two blocks.
fn finish(state: &mut State, tail: &[u8], total_len: u64) {
    let mut buffer = [0u8; 128];
    buffer[..tail.len()].copy_from_slice(tail);
    buffer[tail.len()] = 0x80;
    let blocks = if tail.len() + 9 <= 64 { 1 } else { 2 };
    let end = blocks * 64;
    buffer[end - 8..end].copy_from_slice(&(total_len * 8).to_be_bytes());
    for block in buffer[..end].chunks_exact(64) {
        let mut one = [0u8; 64];
        one.copy_from_slice(block);
        compress(state, &one);
    }
}

/// SHA-256 of `message`, as state words (the digest is their big-endian
/// bytes).
fn digest_words(message: &[u8]) -> State {
    let mut state = INITIAL;
    let whole = message.len() / 64 * 64;
    for block in message[..whole].chunks_exact(64) {
        let mut one = [0u8; 64];
        one.copy_from_slice(block);
        compress(&mut state, &one);
    }
    finish(&mut state, &message[whole..], message.len() as u64);
    state
}

/// SHA-256 of `message`.
pub fn sha256(message: &[u8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(digest_words(message)) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// How a slice of the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The secret number.
    Found(u64),
    /// Not found yet: call [`Solver::run`] again.
    Searching,
    /// Every number up to `maxnumber` was tried: the challenge is not one
    /// this salt answers (corrupted, or not from our collector).
    Exhausted,
}

/// A search in progress, resumable slice by slice.
#[derive(Debug, Clone)]
pub struct Solver {
    /// The state after the salt's whole blocks.
    prefix: State,
    /// How many bytes those blocks held.
    prefix_len: u64,
    /// The salt's bytes after them, then the candidate's digits.
    tail: Vec<u8>,
    /// Where the digits start in `tail`.
    digits_at: usize,
    /// The challenge as state words.
    target: State,
    /// The number the digits spell.
    next: u64,
    max: u64,
}

impl Solver {
    /// A search for the number behind `challenge_hex` (64 hex digits) after
    /// `salt`, from 0 to `max`. `None` when the challenge is not a SHA-256
    /// in hex.
    pub fn new(salt: &str, challenge_hex: &str, max: u64) -> Option<Solver> {
        let target = words_from_hex(challenge_hex)?;
        let salt = salt.as_bytes();
        let whole = salt.len() / 64 * 64;
        let mut prefix = INITIAL;
        for block in salt[..whole].chunks_exact(64) {
            let mut one = [0u8; 64];
            one.copy_from_slice(block);
            compress(&mut prefix, &one);
        }
        let mut tail = salt[whole..].to_vec();
        let digits_at = tail.len();
        tail.push(b'0');
        Some(Solver {
            prefix,
            prefix_len: whole as u64,
            tail,
            digits_at,
            target,
            next: 0,
            max,
        })
    }

    /// Tries up to `count` more numbers.
    pub fn run(&mut self, count: u32) -> Step {
        for _ in 0..count {
            let mut state = self.prefix;
            // The tail stays shorter than two blocks: a salt's leftover is
            // under 64 bytes and a u64 has at most 20 digits.
            finish(
                &mut state,
                &self.tail,
                self.prefix_len + self.tail.len() as u64,
            );
            if state == self.target {
                return Step::Found(self.next);
            }
            if self.next >= self.max {
                return Step::Exhausted;
            }
            self.next += 1;
            self.count_up();
        }
        Step::Searching
    }

    /// Adds one to the decimal digits at the end of `tail`, as `next` did.
    fn count_up(&mut self) {
        let digits = &mut self.tail[self.digits_at..];
        for digit in digits.iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                return;
            }
        }
        // All nines: one digit more, a leading 1.
        self.tail.insert(self.digits_at, b'1');
    }
}

/// 64 hex digits (either case) as eight big-endian words.
fn words_from_hex(hex: &str) -> Option<State> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut words = [0u32; 8];
    for (word, digits) in words.iter_mut().zip(hex.chunks_exact(8)) {
        for digit in digits {
            let value = char::from(*digit).to_digit(16)?;
            *word = *word << 4 | value;
        }
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn reference(message: &[u8]) -> [u8; 32] {
        Sha256::digest(message).into()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// A small deterministic generator, so a failure names its input.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn known_vectors_from_fips_180_4() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&sha256(&million)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn every_length_around_the_block_edges_matches_the_sha2_crate() {
        let mut random = Lcg(7);
        for length in 0..=200 {
            let message: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
            assert_eq!(sha256(&message), reference(&message), "length {length}");
        }
    }

    #[test]
    fn random_messages_match_the_sha2_crate() {
        let mut random = Lcg(2026);
        for round in 0..500 {
            let length = (random.next() % 2_000) as usize;
            let message: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
            assert_eq!(sha256(&message), reference(&message), "round {round}");
        }
    }

    /// A challenge made as the collector makes one: the hash of the salt
    /// followed by the secret number, in lower-case hex.
    fn challenge(salt: &str, secret: u64) -> String {
        hex(&reference(format!("{salt}{secret}").as_bytes()))
    }

    fn solve(solver: &mut Solver) -> Step {
        loop {
            match solver.run(1_000) {
                Step::Searching => {}
                done => return done,
            }
        }
    }

    #[test]
    fn a_challenge_is_solved_for_salts_of_every_shape() {
        let mut random = Lcg(99);
        // Short salts, salts of exactly a block, and salts that leave the
        // digits straddling a block edge.
        for salt_len in [1, 20, 54, 55, 56, 63, 64, 65, 100, 119, 128, 150] {
            let salt: String = (0..salt_len)
                .map(|_| char::from(b"0123456789abcdef."[(random.next() % 17) as usize]))
                .collect();
            let secret = random.next() % 20_000;
            let mut solver = Solver::new(&salt, &challenge(&salt, secret), 20_000).unwrap();
            assert_eq!(solve(&mut solver), Step::Found(secret), "salt {salt:?}");
        }
    }

    #[test]
    fn a_real_shaped_challenge_is_solved_across_digit_carries() {
        let salt = "9f86d081884c7d659a2feaa0c55ad015.1795000000.1795007200";
        for secret in [0, 9, 10, 99, 100, 999, 1_000, 9_999, 10_000, 54_321] {
            let mut solver = Solver::new(salt, &challenge(salt, secret), 100_000).unwrap();
            assert_eq!(solve(&mut solver), Step::Found(secret), "secret {secret}");
        }
        // Upper-case hex is the same challenge.
        let upper = challenge(salt, 77).to_uppercase();
        let mut solver = Solver::new(salt, &upper, 100).unwrap();
        assert_eq!(solve(&mut solver), Step::Found(77));
    }

    #[test]
    fn slices_resume_where_they_stopped() {
        let salt = "ab.1.2";
        let mut solver = Solver::new(salt, &challenge(salt, 2_500), 10_000).unwrap();
        assert_eq!(solver.run(1_000), Step::Searching);
        assert_eq!(solver.run(1_000), Step::Searching);
        assert_eq!(solver.run(1_000), Step::Found(2_500));
    }

    #[test]
    fn a_number_beyond_maxnumber_is_not_found() {
        let salt = "ab.1.2";
        let mut solver = Solver::new(salt, &challenge(salt, 501), 500).unwrap();
        assert_eq!(solve(&mut solver), Step::Exhausted);
        let mut solver = Solver::new(salt, &challenge(salt, 500), 500).unwrap();
        assert_eq!(solve(&mut solver), Step::Found(500));
    }

    #[test]
    fn malformed_challenges_are_refused() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(65)] {
            assert!(Solver::new("s", bad, 10).is_none(), "{bad:?}");
        }
    }
}
