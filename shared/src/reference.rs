//! Human receipt references such as `HRD-7K3Q-9M2X`.
//!
//! Seven random symbols and one check symbol from a 31-symbol alphabet that
//! leaves out the look-alikes 0/O, 1/I/L. Because 31 is prime, the weighted
//! check symbol catches every single mistyped symbol and every swap of two
//! neighbours, so a shopper reading a reference over the phone is corrected at
//! once instead of being told "not found".

use std::fmt;

/// The reference alphabet: digits 2–9 and capital letters without I, L, O.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

const PREFIX: &str = "HRD";
const RANDOM_SYMBOLS: usize = 7;
const SYMBOLS: usize = RANDOM_SYMBOLS + 1;
const MODULUS: u32 = ALPHABET.len() as u32;

/// A valid reference. The only ways to get one are [`Reference::generate`] and
/// [`Reference::parse`], so a value of this type always has a correct check symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reference {
    symbols: [u8; SYMBOLS],
}

impl Reference {
    /// Makes a fresh reference from a source of uniformly random `u32`s.
    ///
    /// Each symbol takes the high bits of `(random * 31)`, whose bias is below
    /// one part in 10^8, far under anything a guesser could exploit; the
    /// unguessable secret is the status token, not the reference.
    pub fn generate(mut next_random: impl FnMut() -> u32) -> Reference {
        let mut values = [0u32; RANDOM_SYMBOLS];
        for value in &mut values {
            *value = ((u64::from(next_random()) * u64::from(MODULUS)) >> 32) as u32;
        }
        Self::from_values(values)
    }

    /// Reads a reference as a person may type it: any case, with or without
    /// the `HRD` prefix, dashes or spaces. Returns `None` when the symbols are
    /// not from the alphabet or the check symbol does not match.
    pub fn parse(text: &str) -> Option<Reference> {
        let mut compact: Vec<u8> = text
            .bytes()
            .filter(|byte| !matches!(byte, b'-' | b' ' | b'\t'))
            .map(|byte| byte.to_ascii_uppercase())
            .collect();
        if compact.len() == PREFIX.len() + SYMBOLS && compact.starts_with(PREFIX.as_bytes()) {
            compact.drain(..PREFIX.len());
        }
        if compact.len() != SYMBOLS {
            return None;
        }
        let mut values = [0u32; RANDOM_SYMBOLS];
        for (value, byte) in values.iter_mut().zip(&compact) {
            *value = symbol_value(*byte)?;
        }
        let reference = Self::from_values(values);
        (reference.symbols[RANDOM_SYMBOLS] == compact[RANDOM_SYMBOLS]).then_some(reference)
    }

    fn from_values(values: [u32; RANDOM_SYMBOLS]) -> Reference {
        let mut symbols = [0u8; SYMBOLS];
        for (symbol, value) in symbols.iter_mut().zip(values) {
            *symbol = ALPHABET[value as usize];
        }
        symbols[RANDOM_SYMBOLS] = ALPHABET[check_value(&values) as usize];
        Reference { symbols }
    }
}

/// The check value makes `sum((i + 1) * v_i) ≡ 0 (mod 31)` over all eight
/// symbols. Weights 1..=8 are all non-zero and distinct modulo 31.
fn check_value(values: &[u32; RANDOM_SYMBOLS]) -> u32 {
    let weighted: u32 = values
        .iter()
        .enumerate()
        .map(|(index, value)| (index as u32 + 1) * value)
        .sum::<u32>()
        % MODULUS;
    // The check symbol has weight 8, and 4 is the inverse of 8 modulo 31.
    ((MODULUS - weighted) * 4) % MODULUS
}

fn symbol_value(byte: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|symbol| *symbol == byte)
        .map(|index| index as u32)
}

impl fmt::Display for Reference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = std::str::from_utf8(&self.symbols).map_err(|_| fmt::Error)?;
        write!(formatter, "{PREFIX}-{}-{}", &text[..4], &text[4..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(start: u32) -> impl FnMut() -> u32 {
        let mut state = start;
        move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state
        }
    }

    #[test]
    fn generated_references_parse_back() {
        let mut random = counter(7);
        for _ in 0..1_000 {
            let reference = Reference::generate(&mut random);
            let text = reference.to_string();
            assert_eq!(text.len(), "HRD-XXXX-XXXX".len());
            assert_eq!(Reference::parse(&text), Some(reference));
        }
    }

    #[test]
    fn parse_forgives_case_spaces_and_missing_prefix() {
        let reference = Reference::generate(counter(1));
        let text = reference.to_string();
        let bare = text
            .trim_start_matches("HRD-")
            .replace('-', " ")
            .to_lowercase();
        assert_eq!(Reference::parse(&bare), Some(reference));
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let text = Reference::generate(counter(3)).to_string().replace('-', "")[3..].to_owned();
        for position in 0..SYMBOLS {
            for &symbol in ALPHABET {
                let mut typo = text.clone().into_bytes();
                if typo[position] == symbol {
                    continue;
                }
                typo[position] = symbol;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(Reference::parse(&typo), None, "{typo} passed the check");
            }
        }
    }

    #[test]
    fn every_neighbour_swap_is_caught() {
        let mut random = counter(11);
        for _ in 0..200 {
            let text = Reference::generate(&mut random)
                .to_string()
                .replace('-', "")[3..]
                .to_owned();
            for position in 0..SYMBOLS - 1 {
                let mut swapped = text.clone().into_bytes();
                if swapped[position] == swapped[position + 1] {
                    continue;
                }
                swapped.swap(position, position + 1);
                let swapped = String::from_utf8(swapped).unwrap();
                assert_eq!(
                    Reference::parse(&swapped),
                    None,
                    "{swapped} passed the check"
                );
            }
        }
    }

    #[test]
    fn look_alike_and_wrong_length_input_is_refused() {
        assert_eq!(Reference::parse("HRD-0000-0000"), None);
        assert_eq!(Reference::parse("HRD-IIII-LLLL"), None);
        assert_eq!(Reference::parse("HRD-2222"), None);
        assert_eq!(Reference::parse(""), None);
    }
}
