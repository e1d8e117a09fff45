//! Every limit the collector enforces, stated once.
//!
//! The API documentation in the README quotes these numbers; a test there keeps
//! them honest. Lengths are counted in Unicode scalar values (`char`s), so a
//! Chinese complaint gets as many characters as an English one.

/// Largest accepted JSON body of a complaint submission, in bytes.
pub const MAX_SUBMISSION_BYTES: usize = 64 * 1024;

/// "What happened": the one field every complaint needs.
pub const DESCRIPTION_MIN_CHARS: usize = 1;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;

/// "What would make this right", in the shopper's own words.
pub const REMEDY_MAX_CHARS: usize = 1_000;

/// Category identifiers as configured by the merchant.
pub const CATEGORY_ID_MAX_CHARS: usize = 64;

/// BCP 47 language tags, e.g. `en`, `zh-Hant-TW`.
pub const LANGUAGE_TAG_MAX_CHARS: usize = 35;

/// The page the complaint came from, filled in by the widget.
pub const PAGE_URL_MAX_CHARS: usize = 2_048;

/// The browser's user agent string, filled in by the widget.
pub const USER_AGENT_MAX_CHARS: usize = 512;

/// Optional contact details.
pub const CONTACT_NAME_MAX_CHARS: usize = 200;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PHONE_MAX_CHARS: usize = 40;

/// Answers to a category's guided questions.
pub const MAX_ANSWERS: usize = 20;
pub const ANSWER_KEY_MAX_CHARS: usize = 64;
pub const ANSWER_VALUE_MAX_CHARS: usize = 1_000;

/// Idempotency keys: printable ASCII, e.g. a UUID.
pub const IDEMPOTENCY_KEY_MIN_CHARS: usize = 8;
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 128;

/// Photos per complaint.
pub const MAX_ATTACHMENTS: usize = 5;
/// Largest accepted photo upload, in bytes (the widget downscales first).
pub const MAX_ATTACHMENT_BYTES: usize = 8 * 1024 * 1024;
/// Largest accepted photo, in pixels (width × height), against decompression bombs.
pub const MAX_ATTACHMENT_PIXELS: u64 = 40_000_000;
/// Attachment ids as the upload endpoint returns them.
pub const ATTACHMENT_ID_MAX_CHARS: usize = 64;

/// A callback request's time window.
pub const CALLBACK_WINDOW_MAX_CHARS: usize = 100;

/// Identity fields passed in by the merchant's page.
pub const IDENTITY_FIELD_MAX_CHARS: usize = 200;

/// The widget's hidden honeypot field: long enough for anything a form
/// filler writes into it, so the complaint is kept (as suspected spam).
pub const HONEYPOT_MAX_CHARS: usize = 1_000;

/// Below this form time, in milliseconds, a complaint is suspected spam:
/// no person chooses a category and writes a description this fast.
pub const MIN_FILL_MS: u32 = 2_500;

/// A proof-of-work challenge is valid this long after it was issued.
pub const CHALLENGE_LIFETIME_SECONDS: i64 = 2 * 60 * 60;

/// Largest `Heard-Proof` header accepted, in bytes.
pub const PROOF_HEADER_MAX_BYTES: usize = 256;
