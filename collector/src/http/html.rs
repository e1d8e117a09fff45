//! Server-rendered HTML: escaping and the page frame.
//!
//! **Every piece of text that came from a shopper or a merchant goes through
//! [`escape`]** before it is placed in a page.

use std::fmt::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes text for use in HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 8);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The content security policy of every page the collector renders: no
/// scripts at all, styles and images from the collector only.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A complete HTML document around `body`, which must already be escaped.
pub fn document(language: &str, title: &str, body: &str) -> String {
    framed(language, "", title, body)
}

/// [`document`] for text that runs in `direction` (`ltr` or `rtl`).
pub fn document_with_direction(language: &str, direction: &str, title: &str, body: &str) -> String {
    framed(
        language,
        &format!(" dir=\"{}\"", escape(direction)),
        title,
        body,
    )
}

fn framed(language: &str, direction: &str, title: &str, body: &str) -> String {
    let mut page = String::with_capacity(body.len() + 512);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"{language}\"{direction}>\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, nofollow\">\n<title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/receipt.css\">\n</head>\n<body>\n{body}</body>\n</html>\n",
        language = escape(language),
        title = escape(title),
    );
    page
}

/// A private page: never cached, never indexed, never leaks its address.
pub fn private_page(status: StatusCode, html: String) -> Response {
    private_html(status, html, "no-referrer", PAGE_POLICY)
}

/// An HTML page that is never cached or indexed, with the `Referrer-Policy`
/// and `Content-Security-Policy` given: the frame of every private page.
pub fn private_html(
    status: StatusCode,
    html: String,
    referrer_policy: &'static str,
    content_security_policy: &'static str,
) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(referrer_policy),
    );
    headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(content_security_policy),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("中文 ok"), "中文 ok");
    }
}
