//! The shopper's side of the follow-up loop, opened by their private link:
//! reply (with photos), mark resolved, reopen, answer the survey.
//!
//! Each action is a JSON endpoint under `/api/v1/receipts/{token}/…` and a
//! no-JavaScript form on a page of its own under `/r/{token}/…`. The forms
//! live on their own pages because the status page itself is served with
//! `Referrer-Policy: no-referrer`, under which browsers post forms with
//! `Origin: null`; these pages use `same-origin` (see
//! [`super::receipts::form_page`]). Every POST is same-origin checked, and a
//! form answers with a redirect back to the status page (POST/redirect/GET).
//!
//! A token that opens nothing — malformed, unknown, deleted, a reference —
//! is a plain 404 on every route, and changes nothing.

use std::fmt::Write;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use heard_shared::FieldError;
use heard_shared::attachment::ACCEPTED_IMAGE_TYPES;
use heard_shared::limits::MAX_ATTACHMENT_BYTES;
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::html::{document_with_direction, escape, private_page};
use super::json::JsonBody;
use super::receipts::{form_page, not_found, private_json};
use super::staff::check_same_origin;
use crate::domain::followup::{
    self, FollowUpError, MAX_REPLY_PHOTOS, MAX_SURVEY_COMMENT_CHARS, SurveyRequest,
};
use crate::domain::inbox::MAX_MESSAGE_CHARS;
use crate::domain::photos::PhotoError;
use crate::domain::receipts;
use crate::domain::token::ReceiptToken;
use crate::mail::words::{Page, fill};
use crate::store::{ComplaintRecord, ShopperRefusal};

/// A reply of 10,000 characters, percent-encoded by a form, fits.
pub const FOLLOW_UP_BODY_BYTES: usize = 128 * 1024;
/// The reply form: the text and at most five photos of the widget's size.
pub const REPLY_FORM_BYTES: usize = FOLLOW_UP_BODY_BYTES + MAX_REPLY_PHOTOS * MAX_ATTACHMENT_BYTES;

// --- the JSON API --------------------------------------------------------

#[derive(Deserialize)]
pub struct ReplyBody {
    #[serde(default)]
    body: String,
    #[serde(default)]
    attachments: Vec<String>,
}

/// `POST /api/v1/receipts/{token}/replies`: 201 and the complaint as it now is.
pub async fn reply(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ReplyBody>,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    let now = state.clock.now_millis();
    followup::reply(&state.store, &token, &body.body, body.attachments, now)
        .await
        .map_err(app_error)?;
    view(&state, &token, StatusCode::CREATED).await
}

/// `POST /api/v1/receipts/{token}/attachments`: a photo for a reply, with
/// the widget's rules (declared type accepted, content sniffed and
/// re-encoded, pixel count checked first).
pub async fn upload(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    check_same_origin(request.headers(), &state.public_origin)?;
    // A link that opens nothing is not found before the body is judged.
    if receipts::open(&state.store, &token).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let bytes = super::attachments::photo_bytes(request).await?;
    let receipt = followup::upload_photo(&state.store, &token, bytes, state.clock.now_millis())
        .await
        .map_err(app_error)?;
    Ok(private_json(
        StatusCode::CREATED,
        serde_json::json!(receipt),
    ))
}

/// `POST /api/v1/receipts/{token}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    followup::resolve(&state.store, &token, state.clock.now_millis())
        .await
        .map_err(app_error)?;
    view(&state, &token, StatusCode::OK).await
}

/// `POST /api/v1/receipts/{token}/reopen`.
pub async fn reopen(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    followup::reopen(
        &state.store,
        &token,
        state.reopen_window_ms,
        state.clock.now_millis(),
    )
    .await
    .map_err(app_error)?;
    view(&state, &token, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct SurveyBody {
    satisfaction: Option<i64>,
    quick_enough: Option<bool>,
    would_return: Option<bool>,
    comment: Option<String>,
}

/// `POST /api/v1/receipts/{token}/survey`: stores (or replaces) the answer.
pub async fn survey(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SurveyBody>,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    let request = SurveyRequest {
        satisfaction: body.satisfaction,
        quick_enough: body.quick_enough,
        would_return: body.would_return,
        comment: body.comment,
    };
    followup::survey(&state.store, &token, request, state.clock.now_millis())
        .await
        .map_err(app_error)?;
    view(&state, &token, StatusCode::OK).await
}

async fn view(state: &AppState, token: &str, status: StatusCode) -> Result<Response, AppError> {
    let (complaint, follow_up) = followup::open(&state.store, token)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(private_json(
        status,
        receipts::follow_up_view(
            &complaint,
            &follow_up,
            state.reopen_window_ms,
            state.clock.now_millis(),
        ),
    ))
}

fn app_error(error: FollowUpError) -> AppError {
    match error {
        FollowUpError::Invalid(fields) => AppError::Invalid(fields),
        FollowUpError::NotFound => AppError::NotFound,
        FollowUpError::Refused(refusal) => AppError::StatusConflict(refusal_text(refusal).into()),
        FollowUpError::Photo(problem) => AppError::Photo(problem),
        FollowUpError::Store(error) => error.into(),
    }
}

fn refusal_text(refusal: ShopperRefusal) -> &'static str {
    match refusal {
        ShopperRefusal::Closed => "This complaint is closed, so nothing more can be added to it.",
        ShopperRefusal::NotOpen => "This complaint is already resolved.",
        ShopperRefusal::NotResolved => "This can be done only once the complaint is resolved.",
        ShopperRefusal::WindowOver => {
            "It is too long since this complaint was resolved to reopen it. \
             Please send a new complaint instead."
        }
        ShopperRefusal::UnknownAttachment(_) => {
            "A photo is unknown or already used. Upload it again."
        }
    }
}

// --- the no-JavaScript pages ----------------------------------------------

/// Which form a page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Reply,
    Resolve,
    Reopen,
    Survey,
}

impl FormKind {
    fn path(self) -> &'static str {
        match self {
            FormKind::Reply => "reply",
            FormKind::Resolve => "resolve",
            FormKind::Reopen => "reopen",
            FormKind::Survey => "survey",
        }
    }
}

/// What the shopper typed, kept when a form is shown again with an error.
#[derive(Debug, Default, Deserialize)]
pub struct FormFields {
    #[serde(default)]
    body: String,
    #[serde(default)]
    satisfaction: String,
    #[serde(default)]
    quick_enough: String,
    #[serde(default)]
    would_return: String,
    #[serde(default)]
    comment: String,
}

pub async fn reply_page(state: State<AppState>, token: Path<String>) -> Result<Response, AppError> {
    form_get(state, token, FormKind::Reply).await
}

pub async fn resolve_page(
    state: State<AppState>,
    token: Path<String>,
) -> Result<Response, AppError> {
    form_get(state, token, FormKind::Resolve).await
}

pub async fn reopen_page(
    state: State<AppState>,
    token: Path<String>,
) -> Result<Response, AppError> {
    form_get(state, token, FormKind::Reopen).await
}

pub async fn survey_page(
    state: State<AppState>,
    token: Path<String>,
) -> Result<Response, AppError> {
    form_get(state, token, FormKind::Survey).await
}

/// `POST /r/{token}/reply`: the page's form posts `multipart/form-data`
/// (text and up to [`MAX_REPLY_PHOTOS`] photos); a plain urlencoded post
/// (text only) is accepted too.
pub async fn reply_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    check_same_origin(request.headers(), &state.public_origin)?;
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if !multipart {
        let axum::extract::Form(fields) =
            axum::extract::Form::<FormFields>::from_request(request, &state)
                .await
                .map_err(|rejection| AppError::MalformedBody(rejection.body_text()))?;
        let now = state.clock.now_millis();
        let result = followup::reply(&state.store, &token, &fields.body, Vec::new(), now).await;
        return answer(&state, &token, FormKind::Reply, &fields, result).await;
    }
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|rejection| AppError::MalformedBody(rejection.body_text()))?;
    let mut fields = FormFields::default();
    let mut photos: Vec<Vec<u8>> = Vec::new();
    let mut not_a_photo = false;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("body") => fields.body = field.text().await.map_err(multipart_error)?,
            Some("photos") => {
                // A file input left empty still sends a nameless, empty part.
                let declared = field
                    .content_type()
                    .map(|declared| declared.to_ascii_lowercase());
                let named = field.file_name().is_some_and(|name| !name.is_empty());
                let bytes = field.bytes().await.map_err(multipart_error)?;
                if !named && bytes.is_empty() {
                    continue;
                }
                if !declared
                    .is_some_and(|declared| ACCEPTED_IMAGE_TYPES.contains(&declared.as_str()))
                {
                    not_a_photo = true;
                }
                photos.push(bytes.to_vec());
            }
            _ => {}
        }
    }
    // Nothing is stored for a link that opens nothing or a reply that fails
    // its checks.
    let Some((complaint, _)) = followup::open(&state.store, &token).await? else {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    };
    let page = Page::for_language(&complaint.language);
    let photo_problem = |key: &str| {
        Err(FollowUpError::Invalid(vec![FieldError::new(
            "photos",
            "photo",
            page.widget_words(key),
        )]))
    };
    let result = if photos.len() > MAX_REPLY_PHOTOS {
        photo_problem("photos.full")
    } else if not_a_photo {
        photo_problem("photos.error.not_a_photo")
    } else if let Err(error) = followup::check_reply(&fields.body, photos.len()) {
        Err(error)
    } else {
        let now = state.clock.now_millis();
        let mut ids = Vec::with_capacity(photos.len());
        let mut refused = None;
        for photo in photos {
            match followup::upload_photo(&state.store, &token, photo, now).await {
                Ok(receipt) => ids.push(receipt.id),
                Err(FollowUpError::Photo(problem)) => {
                    refused = Some(match problem {
                        PhotoError::NotAPhoto => "photos.error.not_a_photo",
                        PhotoError::TooManyPixels { .. } => "photos.error.too_large",
                        _ => "photos.error.refused",
                    });
                    break;
                }
                Err(other) => return Err(app_error(other)),
            }
        }
        match refused {
            // Photos already stored stay unclaimed; the janitor removes them.
            Some(key) => photo_problem(key),
            None => followup::reply(&state.store, &token, &fields.body, ids, now).await,
        }
    };
    answer(&state, &token, FormKind::Reply, &fields, result).await
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> AppError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge {
            limit: REPLY_FORM_BYTES,
        }
    } else {
        AppError::MalformedBody(error.body_text())
    }
}

pub async fn resolve_form(
    state: State<AppState>,
    token: Path<String>,
    headers: HeaderMap,
    form: axum::extract::Form<FormFields>,
) -> Result<Response, AppError> {
    form_post(state, token, headers, form, FormKind::Resolve).await
}

pub async fn reopen_form(
    state: State<AppState>,
    token: Path<String>,
    headers: HeaderMap,
    form: axum::extract::Form<FormFields>,
) -> Result<Response, AppError> {
    form_post(state, token, headers, form, FormKind::Reopen).await
}

pub async fn survey_form(
    state: State<AppState>,
    token: Path<String>,
    headers: HeaderMap,
    form: axum::extract::Form<FormFields>,
) -> Result<Response, AppError> {
    form_post(state, token, headers, form, FormKind::Survey).await
}

async fn form_get(
    State(state): State<AppState>,
    Path(token): Path<String>,
    kind: FormKind,
) -> Result<Response, AppError> {
    let Some((complaint, follow_up)) = followup::open(&state.store, &token).await? else {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    };
    let mut fields = FormFields::default();
    if kind == FormKind::Survey
        && let Some(survey) = &follow_up.survey
    {
        fields.satisfaction = survey.satisfaction.to_string();
        fields.quick_enough = yes_no(survey.quick_enough).to_owned();
        fields.would_return = yes_no(survey.would_return).to_owned();
        fields.comment = survey.comment.clone().unwrap_or_default();
    }
    Ok(form_page(
        StatusCode::OK,
        render_form(&complaint, &token, kind, &fields, None),
    ))
}

async fn form_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    axum::extract::Form(fields): axum::extract::Form<FormFields>,
    kind: FormKind,
) -> Result<Response, AppError> {
    check_same_origin(&headers, &state.public_origin)?;
    let now = state.clock.now_millis();
    let store = &state.store;
    let result = match kind {
        FormKind::Reply => followup::reply(store, &token, &fields.body, Vec::new(), now).await,
        FormKind::Resolve => followup::resolve(store, &token, now).await,
        FormKind::Reopen => followup::reopen(store, &token, state.reopen_window_ms, now).await,
        FormKind::Survey => {
            let request = SurveyRequest {
                satisfaction: fields.satisfaction.trim().parse().ok(),
                quick_enough: parse_yes_no(&fields.quick_enough),
                would_return: parse_yes_no(&fields.would_return),
                comment: Some(fields.comment.clone()),
            };
            followup::survey(store, &token, request, now).await
        }
    };
    answer(&state, &token, kind, &fields, result).await
}

/// A form's outcome: back to the status page, or the form again with its
/// problems (and what the shopper typed).
async fn answer(
    state: &AppState,
    token: &str,
    kind: FormKind,
    fields: &FormFields,
    result: Result<(), FollowUpError>,
) -> Result<Response, AppError> {
    let problem = match result {
        Ok(()) => {
            // A token that opened a complaint is well-formed URL-safe base64,
            // so it is safe in a Location header.
            let Some(token) = ReceiptToken::parse(token) else {
                return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
            };
            let anchor = match kind {
                FormKind::Survey => "#survey",
                _ => "#history",
            };
            return Ok(Redirect::to(&format!("/r/{}{anchor}", token.encode())).into_response());
        }
        Err(FollowUpError::NotFound) => {
            return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
        }
        Err(FollowUpError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Err(FollowUpError::Refused(refusal)) => (
            StatusCode::CONFLICT,
            vec![FieldError::new(
                "",
                refusal_code(refusal),
                refusal_text(refusal),
            )],
        ),
        Err(other) => return Err(app_error(other)),
    };
    let Some(complaint) = receipts::open(&state.store, token).await? else {
        return Ok(private_page(StatusCode::NOT_FOUND, not_found()));
    };
    let (status, errors) = problem;
    Ok(form_page(
        status,
        render_form(&complaint, token, kind, fields, Some(&errors)),
    ))
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn parse_yes_no(text: &str) -> Option<bool> {
    match text.trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// A refusal's code, which the form pages translate.
fn refusal_code(refusal: ShopperRefusal) -> &'static str {
    match refusal {
        ShopperRefusal::Closed => "closed",
        ShopperRefusal::NotOpen => "not_open",
        ShopperRefusal::NotResolved => "not_resolved",
        ShopperRefusal::WindowOver => "window_over",
        ShopperRefusal::UnknownAttachment(_) => "unknown_attachment",
    }
}

/// The problems of a refused form in the page's language; each is said once.
fn problems(page: &Page, errors: &[FieldError]) -> Vec<String> {
    let words = page.words;
    let mut said: Vec<String> = Vec::new();
    for error in errors {
        let text = match (error.field.as_str(), error.code.as_str()) {
            ("body", "too_long") => fill(
                &words.error_reply_too_long,
                &[("count", &MAX_MESSAGE_CHARS.to_string())],
            ),
            ("body", _) => words.error_reply_empty.clone(),
            ("comment", _) => fill(
                &words.error_comment_too_long,
                &[("count", &MAX_SURVEY_COMMENT_CHARS.to_string())],
            ),
            ("satisfaction" | "quick_enough" | "would_return", _) => {
                words.error_survey_incomplete.clone()
            }
            (_, "closed") => words.refused_closed.clone(),
            (_, "not_open") => words.refused_not_open.clone(),
            (_, "not_resolved") => words.refused_not_resolved.clone(),
            (_, "window_over") => words.refused_window_over.clone(),
            _ => error.message.clone(),
        };
        if !said.contains(&text) {
            said.push(text);
        }
    }
    said
}

fn render_form(
    complaint: &ComplaintRecord,
    token: &str,
    kind: FormKind,
    fields: &FormFields,
    errors: Option<&[FieldError]>,
) -> String {
    let page = Page::for_language(&complaint.language);
    let words = page.words;
    let token = escape(token);
    let mut body = String::with_capacity(4096);
    let (title, lead) = match kind {
        FormKind::Reply => (&words.reply_title, &words.reply_lead),
        FormKind::Resolve => (&words.resolve_title, &words.resolve_lead),
        FormKind::Reopen => (&words.reopen_title, &words.reopen_lead),
        FormKind::Survey => (&words.survey_heading, &words.survey_lead),
    };
    let _ = write!(
        body,
        "<main class=\"receipt\">\n<p class=\"site\">{site}</p>\n<h1>{title}</h1>\n\
         <p class=\"lead\">{lead} <span class=\"keep\">{complaint}</span></p>\n",
        site = escape(&complaint.site_name),
        title = escape(title),
        lead = escape(lead),
        complaint = fill(
            &escape(&words.complaint),
            &[("reference", &escape(&complaint.reference))]
        ),
    );
    if let Some(errors) = errors {
        body.push_str(
            "<div class=\"notice error\" role=\"alert\" data-heard=\"form-error\"><ul>\n",
        );
        for problem in problems(&page, errors) {
            let _ = writeln!(body, "<li>{}</li>", escape(&problem));
        }
        body.push_str("</ul></div>\n");
    }
    let _ = writeln!(
        body,
        "<form method=\"post\" action=\"/r/{token}/{path}\" class=\"stacked\" data-heard=\"{path}-form\"{enctype}>",
        path = kind.path(),
        enctype = if kind == FormKind::Reply {
            " enctype=\"multipart/form-data\""
        } else {
            ""
        },
    );
    match kind {
        FormKind::Reply => {
            let _ = write!(
                body,
                "<label for=\"body\">{label}</label>\n\
                 <textarea id=\"body\" name=\"body\" rows=\"8\" required maxlength=\"{MAX_MESSAGE_CHARS}\" \
                 aria-describedby=\"body-hint\">{text}</textarea>\n\
                 <p class=\"hint\" id=\"body-hint\">{hint}</p>\n\
                 <label for=\"photos\">{photos}</label>\n\
                 <input id=\"photos\" name=\"photos\" type=\"file\" multiple \
                 accept=\"{accept}\" aria-describedby=\"photos-hint\" data-heard=\"reply-photos\">\n\
                 <p class=\"hint\" id=\"photos-hint\">{photos_hint}</p>\n\
                 <button type=\"submit\" data-heard=\"send-reply\">{send}</button>\n",
                photos = escape(&fill(
                    page.widget_words("photos.add"),
                    &[("max", &MAX_REPLY_PHOTOS.to_string())]
                )),
                accept = ACCEPTED_IMAGE_TYPES.join(","),
                photos_hint = escape(page.widget_words("photos.hint")),
                label = escape(&words.reply_label),
                text = escape(&fields.body),
                hint = escape(&fill(
                    &words.reply_hint,
                    &[("count", &MAX_MESSAGE_CHARS.to_string())]
                )),
                send = escape(&words.reply_send),
            );
        }
        FormKind::Resolve => {
            let _ = writeln!(
                body,
                "<button type=\"submit\" data-heard=\"confirm-resolve\">{}</button>",
                escape(&words.resolve_confirm)
            );
        }
        FormKind::Reopen => {
            let _ = writeln!(
                body,
                "<button type=\"submit\" data-heard=\"confirm-reopen\">{}</button>",
                escape(&words.reopen_confirm)
            );
        }
        FormKind::Survey => {
            let _ = writeln!(
                body,
                "<fieldset>\n<legend>{}</legend>",
                escape(&words.survey_q_satisfaction)
            );
            for value in 1..=5 {
                let label = match value {
                    1 => format!("1 — {}", words.survey_very_unhappy),
                    5 => format!("5 — {}", words.survey_very_happy),
                    other => other.to_string(),
                };
                let _ = writeln!(
                    body,
                    "<label class=\"choice\"><input type=\"radio\" name=\"satisfaction\" value=\"{value}\"{checked} required> {label}</label>",
                    checked = checked(fields.satisfaction.trim() == value.to_string()),
                    label = escape(&label),
                );
            }
            body.push_str("</fieldset>\n");
            for (name, question, current) in [
                (
                    "quick_enough",
                    &words.survey_q_quick,
                    fields.quick_enough.trim(),
                ),
                (
                    "would_return",
                    &words.survey_q_again,
                    fields.would_return.trim(),
                ),
            ] {
                let _ = write!(
                    body,
                    "<fieldset>\n<legend>{question}</legend>\n\
                     <label class=\"choice\"><input type=\"radio\" name=\"{name}\" value=\"yes\"{yes_checked} required> {yes}</label>\n\
                     <label class=\"choice\"><input type=\"radio\" name=\"{name}\" value=\"no\"{no_checked}> {no}</label>\n\
                     </fieldset>\n",
                    question = escape(question),
                    yes_checked = checked(current == "yes"),
                    no_checked = checked(current == "no"),
                    yes = escape(&words.yes),
                    no = escape(&words.no),
                );
            }
            let _ = write!(
                body,
                "<label for=\"comment\">{label}</label>\n\
                 <textarea id=\"comment\" name=\"comment\" rows=\"4\" maxlength=\"{MAX_SURVEY_COMMENT_CHARS}\">{comment}</textarea>\n\
                 <button type=\"submit\" data-heard=\"send-survey\">{send}</button>\n",
                label = escape(&words.survey_q_comment),
                comment = escape(&fields.comment),
                send = escape(&words.survey_send),
            );
        }
    }
    let _ = writeln!(
        body,
        "</form>\n<p><a href=\"/r/{token}\">{}</a></p>\n</main>",
        escape(&words.back)
    );
    document_with_direction(
        page.language,
        page.direction(),
        &format!("{title} — {}", complaint.reference),
        &body,
    )
}

fn checked(yes: bool) -> &'static str {
    if yes { " checked" } else { "" }
}
