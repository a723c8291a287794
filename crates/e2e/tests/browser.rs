//! The browser harness on its own: a tiny page served from here, driven
//! through headless Chromium with every helper. Needs `chromium` and
//! `chromium-driver` (Debian packages).

#![allow(clippy::expect_used, reason = "a test fails on its first surprise")]

use std::time::{Duration, Instant};

use axum::{Router, http::header, response::Html, routing::get};
use e2e::Browser;
use serde_json::json;

/// A form whose button only works through `/app.js`: until the script's
/// click handler runs, `out` stays empty.
const PAGE: &str = r#"<!doctype html>
<html><head><title>browser harness</title></head><body>
<select data-testid="size">
  <option value="small">Small</option>
  <option value="large">Large</option>
</select>
<input data-testid="name" value="typed over">
<button data-testid="go">Go</button>
<p data-testid="out"></p>
<script src="/app.js"></script>
</body></html>"#;

const APP: &str = r#"
const field = (testid) => document.querySelector(`[data-testid="${testid}"]`);
field("go").addEventListener("click", async () => {
  const answer = await (await fetch("/answer")).text();
  field("out").textContent = `${field("name").value} ordered ${field("size").value}: ${answer}`;
});
console.error("app.js says hello");
"#;

async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/app.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], APP) }),
        )
        .route("/answer", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

#[tokio::test]
async fn drives_a_page_with_every_helper() {
    let origin = serve().await;
    let started = Instant::now();
    let browser = Browser::start().await.expect("start the browser");
    eprintln!(
        "browser started and session open in {:?}",
        started.elapsed()
    );

    browser.goto(&format!("{origin}/")).await.expect("goto");
    assert_eq!(
        browser.text("out").await.expect("text"),
        Some(String::new())
    );
    assert_eq!(browser.text("absent").await.expect("text"), None);

    browser.select("size", "large").await.expect("select");
    browser.fill("name", "Ada").await.expect("fill");
    browser.click("go").await.expect("click");
    let out = browser
        .wait_for_text("out", Duration::from_secs(5))
        .await
        .expect("the click handler's text");
    assert_eq!(out, "Ada ordered large: ok");

    let missing = browser
        .wait_for_text("absent", Duration::from_millis(200))
        .await
        .expect_err("no such element");
    assert!(missing.to_string().contains("there was none"), "{missing}");

    let sum = browser
        .execute("return arguments[0] + 1;", vec![json!(41)])
        .await
        .expect("execute");
    assert_eq!(sum, json!(42));

    let dir = std::env::temp_dir().join(format!("e2e-browser-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let png = dir.join("page.png");
    browser.screenshot(&png).await.expect("screenshot");
    let bytes = std::fs::read(&png).expect("read the screenshot");
    std::fs::remove_dir_all(&dir).expect("remove the temp dir");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    let urls = browser.resource_urls().await.expect("resource URLs");
    assert_eq!(urls.first(), Some(&format!("{origin}/")), "{urls:?}");
    for path in ["/app.js", "/answer"] {
        assert!(
            urls.contains(&format!("{origin}{path}")),
            "{path}: {urls:?}"
        );
    }
    assert!(
        urls.iter()
            .all(|url| url.starts_with(&format!("{origin}/"))),
        "{urls:?}"
    );

    let errors = browser.console_errors().await.expect("console errors");
    assert!(
        errors
            .iter()
            .any(|error| error.contains("app.js says hello")),
        "{errors:?}"
    );

    browser.close().await.expect("close");
    eprintln!("whole test in {:?}", started.elapsed());
}
