//! Property tests for the image check (`photos.rs`): arbitrary bytes, bytes
//! behind a real magic number, and real photos with bytes flipped, cut or
//! spliced never panic; whatever is accepted is a fresh image within the
//! pixel and side limits that re-encodes again; a header that claims more
//! pixels than the limit is refused before any pixel is decoded.

use heard_shared::limits::MAX_ATTACHMENT_PIXELS;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageBuffer, ImageFormat, Rgba};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::photos::tests::jpeg;
use super::photos::{MAX_STORED_SIDE, PhotoError, StoredPhoto, reencode, sniff};

/// Cases per property: bounded for CI, `PROPTEST_CASES` overrides.
fn config(ci_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(ci_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = ImageBuffer::from_fn(width, height, |x, y| {
        Rgba([(x * 7 % 256) as u8, (y * 3 % 256) as u8, 40, 200])
    });
    let mut data = Vec::new();
    DynamicImage::ImageRgba8(image)
        .write_with_encoder(PngEncoder::new(&mut data))
        .unwrap();
    data
}

/// A small lossless WebP (the `image` crate encodes only lossless WebP).
fn webp(width: u32, height: u32) -> Vec<u8> {
    let image = ImageBuffer::from_fn(width, height, |x, _| Rgba([90, (x % 256) as u8, 10, 255]));
    let mut data = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(image)
        .write_to(&mut data, ImageFormat::WebP)
        .unwrap();
    data.into_inner()
}

/// What every accepted photo must be.
fn assert_a_fresh_photo_within_limits(photo: &StoredPhoto) -> Result<(), TestCaseError> {
    prop_assert!(photo.width > 0 && photo.height > 0);
    prop_assert!(u64::from(photo.width) * u64::from(photo.height) <= MAX_ATTACHMENT_PIXELS);
    prop_assert!(photo.width.max(photo.height) <= MAX_STORED_SIDE);
    let format = sniff(&photo.data);
    match photo.content_type {
        "image/jpeg" => prop_assert_eq!(format, Some(ImageFormat::Jpeg)),
        "image/png" => prop_assert_eq!(format, Some(ImageFormat::Png)),
        other => prop_assert!(false, "stored as {other}"),
    }
    // What is stored is an image this code wrote, so it reads back the same size.
    let again = reencode(&photo.data).map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!((again.width, again.height), (photo.width, photo.height));
    Ok(())
}

/// Real photos of the three accepted formats, small enough to decode fast.
fn real_photo() -> impl Strategy<Value = Vec<u8>> {
    (1..48u32, 1..48u32, 0..3u8).prop_map(|(width, height, format)| match format {
        0 => jpeg(width, height),
        1 => png(width, height),
        _ => webp(width, height),
    })
}

/// A real photo, damaged: bytes overwritten, the file cut short, or bytes
/// spliced in.
fn damaged_photo() -> impl Strategy<Value = Vec<u8>> {
    (
        real_photo(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(|(mut bytes, flips, cut, splice, truncate)| {
            for (at, value) in flips {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            let at = cut.index(bytes.len());
            if truncate {
                bytes.truncate(at.max(1));
            } else {
                bytes.splice(at..at, splice);
            }
            bytes
        })
}

/// Bytes behind a real magic number, so the decoders themselves are reached.
fn magic_then_noise() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![
            b"\xFF\xD8\xFF".to_vec(),
            b"\x89PNG\r\n\x1a\n".to_vec(),
            b"RIFF\0\0\0\0WEBPVP8 ".to_vec(),
            b"RIFF\xff\xff\xff\xffWEBPVP8L".to_vec(),
        ]),
        prop::collection::vec(any::<u8>(), 0..512),
    )
        .prop_map(|(mut magic, noise)| {
            magic.extend(noise);
            magic
        })
}

#[test]
fn arbitrary_bytes_never_panic_and_what_passes_is_within_limits() {
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        magic_then_noise(),
        damaged_photo(),
        // Undamaged ones too, so the accepted branch is reached on every run,
        // not only when some damage happens to leave a photo decodable.
        real_photo(),
    ];
    let accepted = std::cell::Cell::new(0);
    TestRunner::new(config(192))
        .run(&strategy, |bytes| {
            if let Ok(photo) = reencode(&bytes) {
                accepted.set(accepted.get() + 1);
                assert_a_fresh_photo_within_limits(&photo)?;
            }
            Ok(())
        })
        .unwrap();
    // The accepted branch was reached: its checks really ran.
    assert!(accepted.get() > 0, "no generated input was accepted");
}

#[test]
fn real_photos_are_accepted_and_re_encoded_within_limits() {
    TestRunner::new(config(48))
        .run(&real_photo(), |bytes| {
            let photo = reencode(&bytes).map_err(|error| TestCaseError::fail(error.to_string()))?;
            assert_a_fresh_photo_within_limits(&photo)
        })
        .unwrap();
}

/// CRC-32 (IEEE) as PNG chunks use it, so a forged header is well-formed.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A real PNG whose header claims `width`×`height`, its checksum fixed.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(4, 4);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
    // PNG allows sides up to 2^31 - 1; the product overflows u32 on purpose.
    let too_big = (1..=i32::MAX as u32, 1..=i32::MAX as u32)
        .prop_filter("more pixels than the limit", |(width, height)| {
            u64::from(*width) * u64::from(*height) > MAX_ATTACHMENT_PIXELS
        });
    TestRunner::new(config(256))
        .run(&too_big, |(width, height)| {
            // Most claims reach the pixel check; for very long rows the
            // decoder's own allocation limit, set in `reencode`, refuses the
            // header first. Either way nothing was decoded.
            match reencode(&png_claiming(width, height)) {
                Err(PhotoError::TooManyPixels {
                    width: w,
                    height: h,
                }) => {
                    prop_assert_eq!((w, h), (width, height));
                }
                Err(PhotoError::Undecodable(reason)) => {
                    prop_assert!(reason.contains("Memory limit"), "{reason}");
                }
                other => prop_assert!(false, "{width}×{height} got {other:?}"),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_forged_header_is_read_as_written() {
    // Guards the test above: a forged header within the limit gets past the
    // pixel check and fails only for the missing pixels.
    match reencode(&png_claiming(100, 100)) {
        Err(PhotoError::Undecodable(_)) => {}
        other => panic!("expected an undecodable image, got {other:?}"),
    }
    // And a plausible camera-sized claim past the limit meets the pixel check.
    assert_eq!(
        reencode(&png_claiming(10_000, 5_000)),
        Err(PhotoError::TooManyPixels {
            width: 10_000,
            height: 5_000
        })
    );
}
