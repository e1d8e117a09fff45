//! Photos the shopper attaches to a complaint: choosing, shrinking, uploading,
//! previewing and removing them.
//!
//! A photo from a phone camera is often 12 megapixels and several megabytes;
//! shoppers on a slow connection would wait for bytes nobody needs. So each
//! chosen file is decoded by the browser itself (`createImageBitmap`, which
//! also reads HEIC where the browser can), drawn onto a canvas at most
//! [`MAX_LONG_SIDE`] pixels on its long side, and encoded as JPEG before it is
//! uploaded. The collector checks and re-encodes it again; its answer is final.
//!
//! The parent owns the list of uploaded photos (their ids go into the
//! complaint); this component owns only the photos still uploading or refused.

use std::cell::RefCell;
use std::rc::Rc;

use heard_shared::limits::{MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    Blob, CanvasRenderingContext2d, File, HtmlCanvasElement, HtmlInputElement, ImageBitmap, Url,
};
use yew::prelude::*;

use crate::api::{self, error_body};
use crate::i18n::Texts;

/// One uploaded photo, as the parent keeps it.
#[derive(Clone, PartialEq, Debug)]
pub struct Photo {
    /// The collector's attachment id, sent in the complaint.
    pub id: String,
    /// An object URL of the downscaled JPEG; revoked when the photo is removed.
    pub preview_url: String,
    /// The file name as the shopper chose it, shown beside the preview.
    pub name: String,
}

#[derive(Properties, PartialEq)]
pub struct PhotosProps {
    /// The collector's base URL, without a trailing slash.
    pub collector: AttrValue,
    pub site_key: AttrValue,
    /// The photos uploaded so far, in the order they were chosen.
    pub photos: Rc<Vec<Photo>>,
    /// Called with the whole new list whenever a photo is added or removed.
    pub on_change: Callback<Rc<Vec<Photo>>>,
}

/// The long side of an uploaded photo, in pixels: enough to read a receipt or
/// see a scratch, small enough to send quickly from a phone.
pub const MAX_LONG_SIDE: u32 = 1600;

/// The file input's id, unique within the widget's shadow root.
const INPUT_ID: &str = "heard-photo-input";

/// JPEG quality passed to `canvas.toBlob`: no visible loss at this size.
pub const JPEG_QUALITY: f64 = 0.85;

/// Why a photo could not be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadProblem {
    /// The browser could not decode it, or the collector says it is no image.
    NotAPhoto,
    /// Over the collector's byte or pixel limits.
    TooLarge,
    /// No answer (offline, timeout) or the collector is in trouble: worth retrying.
    Network,
    /// The collector refused it for another reason (e.g. too many uploads).
    Refused,
}

impl UploadProblem {
    /// Reads the upload endpoint's answer: `201` with the receipt; `413` too
    /// large; `415` not an image by its content; `422` too many pixels or
    /// undecodable; `429` and `5xx` worth retrying.
    pub fn interpret(status: u16, body: &str) -> Result<String, Self> {
        match status {
            // Only the id is needed; read by hand, not through serde.
            200..=299 => crate::json::object(body)
                .and_then(|receipt| receipt.text("id"))
                .ok_or(Self::Network),
            413 => Err(Self::TooLarge),
            415 => Err(Self::NotAPhoto),
            422 => {
                // The collector answers 422 both for decompression bombs and for
                // files it cannot decode; only its error code tells them apart.
                let code = error_body(body)
                    .map(|error| error.error.to_ascii_lowercase())
                    .unwrap_or_default();
                if code.contains("pixel") || code.contains("large") {
                    Err(Self::TooLarge)
                } else {
                    Err(Self::NotAPhoto)
                }
            }
            429 | 500..=599 => Err(Self::Network),
            _ => Err(Self::Refused),
        }
    }

    /// The catalog key of what the shopper reads beside the photo.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::NotAPhoto => "photos.error.not_a_photo",
            Self::TooLarge => "photos.error.too_large",
            Self::Network => "photos.error.network",
            Self::Refused => "photos.error.refused",
        }
    }
}

/// The size of a `width` × `height` image shrunk, keeping its proportions, so
/// that its long side is at most `max_long_side`. Never enlarges, never
/// returns a zero side.
pub fn fit_within(width: u32, height: u32, max_long_side: u32) -> (u32, u32) {
    let long_side = width.max(height);
    if long_side <= max_long_side || long_side == 0 {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| -> u32 {
        // Rounded integer arithmetic: exact for every u32 input, no floats.
        let scaled = (u64::from(side) * u64::from(max_long_side) + u64::from(long_side) / 2)
            / u64::from(long_side);
        u32::try_from(scaled).unwrap_or(max_long_side).max(1)
    };
    (scale(width), scale(height))
}

/// How many of `chosen` newly picked files fit beside the photos already
/// attached or uploading.
pub fn how_many_fit(already_taken: usize, chosen: usize) -> usize {
    chosen.min(MAX_ATTACHMENTS.saturating_sub(already_taken))
}

/// A photo that is uploading, or that failed and waits for the shopper to
/// remove it.
#[derive(Clone, Debug, PartialEq)]
struct PendingPhoto {
    key: u32,
    name: String,
    /// Present once the browser has shrunk the photo.
    preview_url: Option<String>,
    problem: Option<UploadProblem>,
}

#[derive(Default, PartialEq)]
struct PendingPhotos {
    photos: Vec<PendingPhoto>,
}

enum PendingAction {
    Start {
        key: u32,
        name: String,
    },
    Preview {
        key: u32,
        url: String,
    },
    Fail {
        key: u32,
        problem: UploadProblem,
    },
    /// Uploaded (the parent now has it) or dismissed by the shopper.
    Forget {
        key: u32,
    },
}

impl Reducible for PendingPhotos {
    type Action = PendingAction;

    fn reduce(self: Rc<Self>, action: PendingAction) -> Rc<Self> {
        let mut next = PendingPhotos {
            photos: self.photos.clone(),
        };
        match action {
            PendingAction::Start { key, name } => {
                next.photos.push(PendingPhoto {
                    key,
                    name,
                    preview_url: None,
                    problem: None,
                });
            }
            PendingAction::Preview { key, url } => {
                if let Some(photo) = next.photos.iter_mut().find(|photo| photo.key == key) {
                    photo.preview_url = Some(url);
                }
            }
            PendingAction::Fail { key, problem } => {
                if let Some(photo) = next.photos.iter_mut().find(|photo| photo.key == key) {
                    photo.problem = Some(problem);
                }
            }
            PendingAction::Forget { key } => next.photos.retain(|photo| photo.key != key),
        }
        Rc::new(next)
    }
}

/// The "Add photos" control and the list of previews.
#[function_component]
pub fn Photos(props: &PhotosProps) -> Html {
    // The dialog provides the shopper's language; English where it does not.
    let texts = use_context::<Texts>().unwrap_or_else(Texts::english);
    let max = MAX_ATTACHMENTS.to_string();
    let pending = use_reducer(PendingPhotos::default);
    // Uploads finish one after another, possibly before the parent has drawn
    // the previous change; each must add to the newest list, not to the list
    // this render saw, or photos would be lost.
    let latest = use_mut_ref(|| props.photos.clone());
    let seen = use_mut_ref(|| props.photos.clone());
    if !Rc::ptr_eq(&seen.borrow(), &props.photos) {
        *seen.borrow_mut() = props.photos.clone();
        *latest.borrow_mut() = props.photos.clone();
    }
    let note = use_state(|| None::<String>);
    let next_key = use_mut_ref(|| 0_u32);
    // Photos the shopper removed while they were still uploading: their
    // upload must not add them back when it finishes.
    let withdrawn = use_mut_ref(Vec::<u32>::new);

    // A removed photo takes its focused button with it; keyboard and screen
    // reader users continue from the "Add photos" control instead of being
    // dropped at the top of the dialog. Done after the render, because with
    // five photos the input is disabled until the list has shrunk.
    let input_ref = use_node_ref();
    let refocus = use_mut_ref(|| false);
    {
        let input_ref = input_ref.clone();
        let refocus = refocus.clone();
        use_effect(move || {
            if refocus.replace(false)
                && let Some(input) = input_ref.cast::<HtmlInputElement>()
            {
                let _ = input.focus();
            }
        });
    }

    // Previews of refused photos belong to this component alone: free them
    // when it goes away. (A photo still uploading keeps its preview; it goes
    // to the parent when the upload finishes.) The effect runs once, so it
    // reads the current list through a cell rather than its first snapshot.
    let refused_previews = use_mut_ref(Vec::<String>::new);
    *refused_previews.borrow_mut() = pending
        .photos
        .iter()
        .filter(|photo| photo.problem.is_some())
        .filter_map(|photo| photo.preview_url.clone())
        .collect();
    {
        let refused_previews = refused_previews.clone();
        use_effect_with((), move |_| {
            move || {
                for url in refused_previews.borrow().iter() {
                    revoke(Some(url));
                }
            }
        });
    }

    let uploading = pending
        .photos
        .iter()
        .filter(|photo| photo.problem.is_none())
        .count();
    let taken = props.photos.len() + uploading;
    let full = taken >= MAX_ATTACHMENTS;

    let onchange = {
        let texts = texts.clone();
        let pending = pending.clone();
        let note = note.clone();
        let latest = latest.clone();
        let next_key = next_key.clone();
        let withdrawn = withdrawn.clone();
        let collector = props.collector.clone();
        let site_key = props.site_key.clone();
        let on_change = props.on_change.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let files = chosen_files(&input);
            // Clearing lets the shopper pick the same file again after removing it.
            input.set_value("");
            let room = how_many_fit(taken, files.len());
            note.set((room < files.len()).then(|| {
                texts.format(
                    "photos.kept",
                    &[
                        ("max", &MAX_ATTACHMENTS.to_string()),
                        ("count", &room.to_string()),
                    ],
                )
            }));
            let mut batch = Vec::with_capacity(room);
            for file in files.into_iter().take(room) {
                let key = {
                    let mut next = next_key.borrow_mut();
                    *next += 1;
                    *next
                };
                pending.dispatch(PendingAction::Start {
                    key,
                    name: file.name(),
                });
                batch.push((key, file));
            }
            let upload = Upload {
                collector: collector.to_string(),
                site_key: site_key.to_string(),
                pending: pending.dispatcher(),
                withdrawn: withdrawn.clone(),
                latest: latest.clone(),
                on_change: on_change.clone(),
            };
            // One photo at a time: decoding several camera photos at once can
            // exhaust a phone's memory.
            spawn_local(async move {
                for (key, file) in batch {
                    upload.one(key, file).await;
                }
            });
        })
    };

    let uploaded = props.photos.iter().map(|photo| {
        let on_remove = {
            let latest = latest.clone();
            let on_change = props.on_change.clone();
            let id = photo.id.clone();
            let refocus = refocus.clone();
            Callback::from(move |_: MouseEvent| {
                *refocus.borrow_mut() = true;
                let mut photos = (**latest.borrow()).clone();
                if let Some(position) = photos.iter().position(|photo| photo.id == id) {
                    let removed = photos.remove(position);
                    revoke(Some(&removed.preview_url));
                    let photos = Rc::new(photos);
                    *latest.borrow_mut() = photos.clone();
                    on_change.emit(photos);
                }
            })
        };
        photo_item(
            &texts,
            &photo.id,
            "uploaded",
            &photo.name,
            Some(&photo.preview_url),
            html! {},
            on_remove,
        )
    });

    let waiting = pending.photos.iter().map(|photo| {
        let on_remove = {
            let pending = pending.clone();
            let key = photo.key;
            let url = photo.preview_url.clone();
            let refocus = refocus.clone();
            let withdrawn = withdrawn.clone();
            Callback::from(move |_: MouseEvent| {
                *refocus.borrow_mut() = true;
                withdrawn.borrow_mut().push(key);
                revoke(url.as_deref());
                pending.dispatch(PendingAction::Forget { key });
            })
        };
        let state = if photo.problem.is_some() {
            "failed"
        } else {
            "uploading"
        };
        let status = match photo.problem {
            None => html! { <p class="heard-photo-status" role="status">{ texts.get("photos.uploading") }</p> },
            Some(problem) => html! {
                <p class="heard-photo-status heard-error" role="alert">{ texts.get(problem.message_key()) }</p>
            },
        };
        photo_item(
            &texts,
            &format!("pending-{}", photo.key),
            state,
            &photo.name,
            photo.preview_url.as_deref(),
            status,
            on_remove,
        )
    });

    html! {
        <div class="heard-photos">
            // The real input stays in the page, focusable and operable with
            // the keyboard, but is drawn as the label, so the button speaks
            // the shopper's language instead of the browser's "Choose files /
            // No file chosen".
            <div class="heard-photos-add">
                <input
                    ref={input_ref}
                    id={INPUT_ID}
                    class="heard-visually-hidden"
                    type="file"
                    accept="image/*"
                    multiple=true
                    data-heard="photo-input"
                    disabled={full}
                    {onchange}
                />
                <label for={INPUT_ID} class="heard-button heard-secondary">
                    { texts.format("photos.add", &[("max", &max)]) }
                </label>
            </div>
            if full {
                <p class="heard-muted">{ texts.format("photos.full", &[("max", &max)]) }</p>
            }
            if let Some(text) = &*note {
                <p class="heard-muted" role="status">{ text }</p>
            }
            <ul class="heard-photo-list">
                { for uploaded }
                { for waiting }
            </ul>
        </div>
    }
}

/// One row of the list. `state` (`uploaded`, `uploading` or `failed`) is
/// exposed as `data-state` for styling and for the browser tests.
fn photo_item(
    texts: &Texts,
    key: &str,
    state: &'static str,
    name: &str,
    preview_url: Option<&str>,
    status: Html,
    on_remove: Callback<MouseEvent>,
) -> Html {
    html! {
        <li class="heard-photo" data-heard="photo" data-state={state} key={key.to_owned()}>
            if let Some(url) = preview_url {
                // The name beside it says what it is; the image adds nothing for
                // a screen reader.
                <img class="heard-photo-preview" src={url.to_owned()} alt="" />
            } else {
                <span class="heard-photo-preview" aria-hidden="true"></span>
            }
            <span class="heard-photo-name">{ name }</span>
            { status }
            <button
                type="button"
                class="heard-button heard-secondary heard-photo-remove"
                data-heard="photo-remove"
                aria-label={texts.format("photos.remove.label", &[("name", name)])}
                onclick={on_remove}
            >
                { texts.get("photos.remove") }
            </button>
        </li>
    }
}

/// Everything one upload task needs once the event handler has returned.
struct Upload {
    collector: String,
    site_key: String,
    pending: UseReducerDispatcher<PendingPhotos>,
    withdrawn: Rc<RefCell<Vec<u32>>>,
    latest: Rc<RefCell<Rc<Vec<Photo>>>>,
    on_change: Callback<Rc<Vec<Photo>>>,
}

impl Upload {
    async fn one(&self, key: u32, file: File) {
        if self.is_withdrawn(key) {
            return;
        }
        let blob = match shrink_to_jpeg(&file).await {
            Ok(blob) => blob,
            Err(problem) => {
                self.pending.dispatch(PendingAction::Fail { key, problem });
                return;
            }
        };
        let Ok(preview_url) = Url::create_object_url_with_blob(&blob) else {
            self.pending.dispatch(PendingAction::Fail {
                key,
                problem: UploadProblem::NotAPhoto,
            });
            return;
        };
        self.pending.dispatch(PendingAction::Preview {
            key,
            url: preview_url.clone(),
        });
        let result = match blob_bytes(&blob).await {
            Some(bytes) if bytes.len() > MAX_ATTACHMENT_BYTES => Err(UploadProblem::TooLarge),
            Some(bytes) => {
                api::upload_attachment(&self.collector, &self.site_key, bytes, "image/jpeg").await
            }
            None => Err(UploadProblem::NotAPhoto),
        };
        if self.is_withdrawn(key) {
            // Removed while uploading. The collector drops photos no
            // complaint claims, so the uploaded copy is not kept.
            revoke(Some(&preview_url));
            return;
        }
        match result {
            Ok(id) => {
                let mut photos = (**self.latest.borrow()).clone();
                photos.push(Photo {
                    id,
                    preview_url,
                    name: file.name(),
                });
                let photos = Rc::new(photos);
                *self.latest.borrow_mut() = photos.clone();
                self.pending.dispatch(PendingAction::Forget { key });
                self.on_change.emit(photos);
            }
            Err(problem) => self.pending.dispatch(PendingAction::Fail { key, problem }),
        }
    }

    fn is_withdrawn(&self, key: u32) -> bool {
        self.withdrawn.borrow().contains(&key)
    }
}

fn chosen_files(input: &HtmlInputElement) -> Vec<File> {
    let Some(list) = input.files() else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|index| list.get(index))
        .collect()
}

fn revoke(url: Option<&str>) {
    if let Some(url) = url {
        // Failing to revoke only keeps a little memory until the page closes.
        let _ = Url::revoke_object_url(url);
    }
}

/// Decodes `file` with the browser, shrinks it and encodes it as JPEG.
async fn shrink_to_jpeg(file: &File) -> Result<Blob, UploadProblem> {
    let bitmap = decode(file).await.ok_or(UploadProblem::NotAPhoto)?;
    let (width, height) = fit_within(bitmap.width(), bitmap.height(), MAX_LONG_SIDE);
    let drawn = draw(&bitmap, width, height);
    // The decoded pixels can take tens of megabytes; free them now rather
    // than at the next garbage collection.
    bitmap.close();
    let canvas = drawn.ok_or(UploadProblem::NotAPhoto)?;
    encode_jpeg(&canvas).await.ok_or(UploadProblem::NotAPhoto)
}

async fn decode(file: &File) -> Option<ImageBitmap> {
    let promise = web_sys::window()?
        .create_image_bitmap_with_blob(file)
        .ok()?;
    JsFuture::from(promise).await.ok()?.dyn_into().ok()
}

fn draw(bitmap: &ImageBitmap, width: u32, height: u32) -> Option<HtmlCanvasElement> {
    let document = web_sys::window()?.document()?;
    let canvas: HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(width);
    canvas.set_height(height);
    let context: CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    // JPEG has no transparency: a transparent PNG would turn black without a
    // white background under it.
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, f64::from(width), f64::from(height));
    context
        .draw_image_with_image_bitmap_and_dw_and_dh(
            bitmap,
            0.0,
            0.0,
            f64::from(width),
            f64::from(height),
        )
        .ok()?;
    Some(canvas)
}

/// `canvas.toBlob` as a future; `None` when the browser gives no blob (for
/// example a canvas too large for its memory).
async fn encode_jpeg(canvas: &HtmlCanvasElement) -> Option<Blob> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let on_blob = Closure::once_into_js(move |blob: JsValue| {
            let _ = resolve.call1(&JsValue::NULL, &blob);
        });
        if let Err(error) = canvas.to_blob_with_type_and_encoder_options(
            on_blob.unchecked_ref(),
            "image/jpeg",
            &JsValue::from_f64(JPEG_QUALITY),
        ) {
            let _ = reject.call1(&JsValue::NULL, &error);
        }
    });
    JsFuture::from(promise).await.ok()?.dyn_into().ok()
}

async fn blob_bytes(blob: &Blob) -> Option<Vec<u8>> {
    let buffer = JsFuture::from(blob.array_buffer()).await.ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str) -> String {
        format!(r#"{{"error":"{code}","message":"Not this one."}}"#)
    }

    #[test]
    fn large_photos_shrink_to_the_long_side_keeping_proportions() {
        assert_eq!(fit_within(4032, 3024, 1600), (1600, 1200));
        assert_eq!(fit_within(3024, 4032, 1600), (1200, 1600));
        assert_eq!(fit_within(5000, 5000, 1600), (1600, 1600));
        // Rounded, not truncated: 1600 × 1000 / 3000 = 533.33…
        assert_eq!(fit_within(3000, 1000, 1600), (1600, 533));
        assert_eq!(fit_within(3000, 1999, 1600), (1600, 1066));
    }

    #[test]
    fn small_photos_are_never_enlarged() {
        assert_eq!(fit_within(800, 600, 1600), (800, 600));
        assert_eq!(fit_within(1600, 10, 1600), (1600, 10));
    }

    #[test]
    fn extreme_shapes_keep_at_least_one_pixel() {
        assert_eq!(fit_within(100_000, 1, 1600), (1600, 1));
        assert_eq!(fit_within(0, 0, 1600), (1, 1));
        assert_eq!(fit_within(u32::MAX, u32::MAX, 1600), (1600, 1600));
    }

    #[test]
    fn no_more_than_the_limit_is_kept() {
        assert_eq!(how_many_fit(0, 3), 3);
        assert_eq!(how_many_fit(3, 3), MAX_ATTACHMENTS - 3);
        assert_eq!(how_many_fit(MAX_ATTACHMENTS, 1), 0);
        assert_eq!(how_many_fit(MAX_ATTACHMENTS + 1, 1), 0);
    }

    #[test]
    fn an_accepted_upload_gives_its_receipt() {
        let receipt = UploadProblem::interpret(
            201,
            r#"{"id":"a1b2","content_type":"image/jpeg","width":1600,"height":1200,"bytes":312000}"#,
        );
        assert_eq!(receipt, Ok("a1b2".to_owned()));
    }

    #[test]
    fn collector_refusals_map_to_what_the_shopper_can_do() {
        let any = refusal("whatever");
        assert_eq!(
            UploadProblem::interpret(413, &any),
            Err(UploadProblem::TooLarge)
        );
        assert_eq!(
            UploadProblem::interpret(415, &any),
            Err(UploadProblem::NotAPhoto)
        );
        assert_eq!(
            UploadProblem::interpret(422, &refusal("too_many_pixels")),
            Err(UploadProblem::TooLarge)
        );
        assert_eq!(
            UploadProblem::interpret(422, &refusal("undecodable_image")),
            Err(UploadProblem::NotAPhoto)
        );
        assert_eq!(
            UploadProblem::interpret(404, &refusal("unknown_site")),
            Err(UploadProblem::Refused)
        );
        // A proxy's page with a client status is judged by the status alone.
        assert_eq!(
            UploadProblem::interpret(413, "<html>Request Entity Too Large</html>"),
            Err(UploadProblem::TooLarge)
        );
    }

    #[test]
    fn server_trouble_is_worth_retrying() {
        for status in [429, 500, 502, 503] {
            assert_eq!(
                UploadProblem::interpret(status, "<html>Bad gateway</html>"),
                Err(UploadProblem::Network)
            );
        }
        assert_eq!(
            UploadProblem::interpret(201, "<html>captive portal</html>"),
            Err(UploadProblem::Network)
        );
    }

    #[test]
    fn every_text_the_photos_show_is_in_the_english_catalog() {
        let english = Texts::english();
        let problems = [
            UploadProblem::NotAPhoto,
            UploadProblem::TooLarge,
            UploadProblem::Network,
            UploadProblem::Refused,
        ];
        let keys = problems.map(UploadProblem::message_key).into_iter().chain([
            "photos.add",
            "photos.uploading",
            "photos.remove",
            "photos.remove.label",
            "photos.full",
            "photos.kept",
        ]);
        for key in keys {
            assert!(english.lookup(key).is_some(), "en.json lacks {key}");
        }
    }
}
