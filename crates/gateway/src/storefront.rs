//! The shop page of `web/`: `GET /` and its files under `/assets/`.
//!
//! The page is a template with one marker, where each answer writes the
//! context of its own `GET /` SERVER span as `<meta name="traceparent">`:
//! the page's document-load spans join that trace. The files are served
//! outside the trace middleware: a trace per script and stylesheet would
//! bury the checkouts. Their names carry a hash of their content, so
//! browsers may keep them for a year; the page itself is never cached.

use std::{fs, path::Path, sync::Arc};

use axum::{
    Router,
    handler::HandlerWithoutStateExt,
    http::{HeaderName, HeaderValue, Response, header},
    response::{Html, IntoResponse},
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};
use url::Url;

/// Where the built page asks for the gateway's facts.
const META_MARKER: &str = "<!-- gateway:meta -->";

/// Scripts, styles and requests from this origin only, nothing inline, no
/// frames around the page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// For files whose name changes with their content.
const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

/// The page's template, or why there is none.
#[derive(Clone)]
pub struct Storefront {
    page: Result<Arc<str>, Arc<str>>,
    grafana_url: Url,
}

impl Storefront {
    /// Reads `dir/index.html` once. A gateway without a built storefront
    /// still serves its API; `GET /` then says what to run.
    pub fn load(dir: &Path, grafana_url: Url) -> Self {
        let index = dir.join("index.html");
        let page = fs::read_to_string(&index).map(Arc::from).map_err(|error| {
            tracing::warn!(
                file.path = %index.display(),
                exception.message = %error,
                "no storefront: run `npm ci && npm run build` in web/, or set STOREFRONT_DIR"
            );
            Arc::from(format!("{} could not be read: {error}.", index.display()))
        });
        Self { page, grafana_url }
    }

    /// The page for one request, whose span context is `traceparent`.
    pub fn page(&self, traceparent: Option<&str>) -> impl IntoResponse + use<> {
        let page = match &self.page {
            Ok(template) => template.replacen(META_MARKER, &self.meta(traceparent), 1),
            Err(reason) => {
                return platform::problem::Problem::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "storefront-not-built",
                    "Storefront not built",
                    format!("{reason} Run `npm ci && npm run build` in web/."),
                )
                .into_response();
            }
        };
        let mut response = Html(page).into_response();
        let headers = response.headers_mut();
        for (name, value) in security_headers() {
            headers.insert(name, HeaderValue::from_static(value));
        }
        // The page carries its own request's trace context.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn meta(&self, traceparent: Option<&str>) -> String {
        let grafana = format!(
            r#"<meta name="grafana-url" content="{}">"#,
            escape(self.grafana_url.as_str())
        );
        match traceparent {
            Some(traceparent) => format!(
                "{grafana}\n  <meta name=\"traceparent\" content=\"{}\">",
                escape(traceparent)
            ),
            None => grafana,
        }
    }
}

/// `/assets/`: the hashed files, with the page's security headers and a
/// year of caching for the ones found.
pub fn assets<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    let files = ServeDir::new(dir.join("assets"))
        .not_found_service(platform::problem::not_found.into_service());
    let mut assets =
        Router::new()
            .nest_service("/assets", files)
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                |response: &Response<_>| {
                    response
                        .status()
                        .is_success()
                        .then_some(HeaderValue::from_static(CACHE_FOREVER))
                },
            ));
    for (name, value) in security_headers() {
        assets = assets.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    assets
}

fn security_headers() -> [(HeaderName, &'static str); 3] {
    [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ]
}

/// Text for an HTML attribute value.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storefront(template: &str, grafana: &str) -> Storefront {
        Storefront {
            page: Ok(Arc::from(template)),
            grafana_url: Url::parse(grafana).expect("a URL"),
        }
    }

    #[test]
    fn the_marker_becomes_the_requests_context_and_grafanas_address() {
        let storefront = storefront(
            "<head>\n  <!-- gateway:meta -->\n</head>",
            "http://grafana.example:3000/",
        );
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            storefront.meta(Some(traceparent)),
            "<meta name=\"grafana-url\" content=\"http://grafana.example:3000/\">\n  \
             <meta name=\"traceparent\" content=\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\">"
        );
        assert!(!storefront.meta(None).contains("traceparent"));
    }

    #[test]
    fn attribute_values_are_escaped() {
        assert_eq!(escape(r#"a"b<c>&'"#), "a&quot;b&lt;c&gt;&amp;&#39;");
    }
}
