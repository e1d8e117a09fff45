//! Randomness from the operating system, for tokens and references.

use heard_shared::Reference;

/// Fills `buffer` from the operating system's generator.
///
/// Panics only if the OS cannot provide randomness at all, in which case no
/// token could be trusted and continuing would be wrong.
pub fn fill(buffer: &mut [u8]) {
    getrandom::fill(buffer).expect("the operating system's random number generator failed");
}

/// A fresh receipt reference such as `HRD-7K3Q-9M2X`.
pub fn reference() -> Reference {
    let mut bytes = [0u8; 28];
    fill(&mut bytes);
    let mut words = bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
    Reference::generate(|| words.next().unwrap_or_default())
}
