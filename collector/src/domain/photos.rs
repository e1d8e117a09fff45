//! Checking and re-encoding photos a shopper uploads.
//!
//! **A photo is judged by its content, never its name or declared type**, and
//! is always decoded and encoded again: that drops every kind of metadata (GPS
//! position, camera serials), neutralises polyglot files, and means what staff
//! later download is an image this code produced.

use std::io::Cursor;

use heard_shared::limits::MAX_ATTACHMENT_PIXELS;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Photos are stored at most this large on their long side; the widget
/// already sends smaller ones, this bounds what other clients can store.
pub const MAX_STORED_SIDE: u32 = 2560;

/// JPEG quality for stored photos: visually lossless for complaint evidence.
const JPEG_QUALITY: u8 = 85;

/// A photo ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPhoto {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    #[error("this file is not a JPEG, PNG or WebP image")]
    NotAPhoto,
    #[error(
        "the image is {width}×{height} pixels, more than the limit of {MAX_ATTACHMENT_PIXELS} pixels"
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("the image could not be read: {0}")]
    Undecodable(String),
}

/// The image format by its first bytes; only the three formats we accept.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Checks a photo and re-encodes it: the pixel count is checked from the
/// header before any pixel is decoded (a small file can claim a huge image),
/// the camera's orientation is applied, and the result is a fresh JPEG (or
/// PNG, when the photo has transparency).
pub fn reencode(bytes: &[u8]) -> Result<StoredPhoto, PhotoError> {
    let format = sniff(bytes).ok_or(PhotoError::NotAPhoto)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_ATTACHMENT_PIXELS {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    if image.width().max(image.height()) > MAX_STORED_SIDE {
        image = image.resize(MAX_STORED_SIDE, MAX_STORED_SIDE, FilterType::Triangle);
    }
    encode(image)
}

fn encode(image: DynamicImage) -> Result<StoredPhoto, PhotoError> {
    let (width, height) = (image.width(), image.height());
    let mut data = Vec::new();
    let content_type = if image.color().has_alpha() {
        image
            .write_with_encoder(PngEncoder::new(&mut data))
            .map_err(undecodable)?;
        "image/png"
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut data, JPEG_QUALITY))
            .map_err(undecodable)?;
        "image/jpeg"
    };
    Ok(StoredPhoto {
        content_type,
        width,
        height,
        data,
    })
}

fn undecodable(error: image::ImageError) -> PhotoError {
    PhotoError::Undecodable(error.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use image::{ImageBuffer, Rgb, Rgba};

    use super::*;

    /// A real JPEG of the given size.
    pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = ImageBuffer::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut data = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut data, 90))
            .unwrap();
        data
    }

    fn png_with_alpha(width: u32, height: u32) -> Vec<u8> {
        let image = ImageBuffer::from_fn(width, height, |x, _| Rgba([10, 20, 30, (x % 256) as u8]));
        let mut data = Vec::new();
        DynamicImage::ImageRgba8(image)
            .write_with_encoder(PngEncoder::new(&mut data))
            .unwrap();
        data
    }

    #[test]
    fn a_jpeg_is_re_encoded_and_keeps_its_size() {
        let photo = reencode(&jpeg(64, 48)).unwrap();
        assert_eq!(photo.content_type, "image/jpeg");
        assert_eq!((photo.width, photo.height), (64, 48));
        assert_eq!(sniff(&photo.data), Some(ImageFormat::Jpeg));
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let photo = reencode(&png_with_alpha(20, 10)).unwrap();
        assert_eq!(photo.content_type, "image/png");
        assert_eq!(sniff(&photo.data), Some(ImageFormat::Png));
    }

    #[test]
    fn metadata_does_not_survive() {
        // A JPEG with an APP1 (EXIF) segment carrying a marker string.
        let mut with_exif = jpeg(16, 16);
        let marker = b"Exif\0\0GPS-SECRET-PLACE";
        let mut segment = vec![0xFF, 0xE1];
        segment.extend_from_slice(&((marker.len() + 2) as u16).to_be_bytes());
        segment.extend_from_slice(marker);
        with_exif.splice(2..2, segment);
        assert!(
            with_exif
                .windows(16)
                .any(|window| window == b"GPS-SECRET-PLACE")
        );
        let photo = reencode(&with_exif).unwrap();
        assert!(
            !photo
                .data
                .windows(16)
                .any(|window| window == b"GPS-SECRET-PLACE")
        );
    }

    #[test]
    fn large_photos_are_scaled_down() {
        let photo = reencode(&jpeg(MAX_STORED_SIDE + 400, 100)).unwrap();
        assert_eq!(photo.width, MAX_STORED_SIDE);
    }

    #[test]
    fn non_images_and_disguised_files_are_refused() {
        for bytes in [
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".as_slice(),
            b"<html><script>alert(1)</script></html>",
            b"GIF89a......",
            b"",
        ] {
            assert_eq!(reencode(bytes), Err(PhotoError::NotAPhoto));
        }
        // Right magic bytes, nothing behind them.
        assert!(matches!(
            reencode(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Err(PhotoError::Undecodable(_))
        ));
    }

    #[test]
    fn a_pixel_flood_is_refused_before_decoding() {
        // A valid PNG header claiming 50000×50000 pixels, with no pixel data.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        // An empty IDAT: the decoder reads headers up to the first image data.
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(b"IDAT");
        png.extend_from_slice(&crc32(b"IDAT").to_be_bytes());
        assert_eq!(
            reencode(&png),
            Err(PhotoError::TooManyPixels {
                width: 50_000,
                height: 50_000
            })
        );
    }

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
}
