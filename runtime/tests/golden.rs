//! One test per event fixture, no Python: parse -> environ -> render, compared with golden files.
//!
//! For `fixtures/<source>/<case>.json` the goldens beside it are:
//! - `<case>.environ.json`: the environ's string variables plus `wsgi.input` (bytes-as-unicode);
//! - `<case>.response.json`: the response to that request from the echo app
//!   (`tests/apps/echo.py`), rendered in the source's shape;
//! - `<case>.error.json` instead, for events that must be refused (errorType, errorMessage).
//!
//! The end-to-end tests send the same fixtures through the emulator to the real `bootstrap` and
//! compare with the same files. `BLESS=1 cargo test --test golden` rewrites the goldens; review
//! the diff before committing.

use std::path::{Path, PathBuf};

use lambda_wsgi::config::Config;
use lambda_wsgi::environ::{self, Environ};
use lambda_wsgi::error::EventError;
use lambda_wsgi::event;
use lambda_wsgi::response::{self, AppResponse};
use serde_json::{Value, json};

/// The echo app's fixed headers: a repeated header and two cookies exercise every shape.
const ECHO_HEADERS: [(&str, &str); 5] = [
    ("Content-Type", "application/json"),
    ("Set-Cookie", "a=1; Path=/"),
    ("Set-Cookie", "b=2; Path=/"),
    ("X-Echo", "one"),
    ("X-Echo", "two"),
];

fn echo_response(environ: &Environ) -> AppResponse {
    AppResponse {
        status: 200,
        reason: "OK".to_owned(),
        headers: ECHO_HEADERS
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: serde_json::to_vec(&environ.to_golden()).expect("BUG: a string map serializes"),
    }
}

fn config() -> Config {
    Config::from_lookup(|name| (name == "WSGI_APP").then(|| "echo:app".to_owned())).expect("BUG: valid config")
}

fn check_fixture(path: &Path, event: String) -> datatest_stable::Result<()> {
    let config = config();
    match event::parse(&event) {
        Ok((source, request)) => {
            let environ = environ::build(&request, &config).map_err(|e| format!("no mount for {}", e.path))?;
            check_remote_user(path, &environ)?;
            check_golden(path, "environ", &serde_json::to_value(environ.to_golden())?)?;
            let is_head = request.method.eq_ignore_ascii_case("HEAD");
            let rendered = response::render(source, echo_response(&environ), is_head, &config.text_mime_types);
            check_golden(path, "response", &serde_json::to_value(rendered)?)
        }
        Err(EventError::BadBody { origin, .. }) => {
            let answer = AppResponse::plain(
                400,
                "Bad Request",
                "Bad Request: the request body is not valid base64\n",
            );
            let rendered = response::render(origin, answer, false, &config.text_mime_types);
            check_golden(path, "response", &serde_json::to_value(rendered)?)
        }
        Err(err) => check_golden(
            path,
            "error",
            &json!({"errorType": err.error_type(), "errorMessage": err.to_string()}),
        ),
    }
}

/// REMOTE_USER against `fixtures/remote-user.json`, the hand-written table of who each fixture's
/// caller is (absent from the table: no REMOTE_USER at all).
fn check_remote_user(fixture: &Path, environ: &Environ) -> datatest_stable::Result<()> {
    let table_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote-user.json");
    let table: Value = serde_json::from_str(&std::fs::read_to_string(table_path)?)?;
    let mut parts = fixture.iter().rev().take(2).map(|p| p.to_string_lossy().into_owned());
    let (case, source) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let expected = table.get(format!("{source}/{case}")).and_then(Value::as_str);
    let actual = environ.get("REMOTE_USER");
    if expected != actual {
        return Err(format!("{source}/{case}: REMOTE_USER is {actual:?}, remote-user.json says {expected:?}").into());
    }
    Ok(())
}

fn golden_path(fixture: &Path, kind: &str) -> PathBuf {
    fixture.with_extension(format!("{kind}.json"))
}

fn check_golden(fixture: &Path, kind: &str, actual: &Value) -> datatest_stable::Result<()> {
    let golden = golden_path(fixture, kind);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden, serde_json::to_string_pretty(actual)? + "\n")?;
        return Ok(());
    }
    let expected: Value = match std::fs::read_to_string(&golden) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(e) => return Err(format!("{}: {e} (run with BLESS=1 to create it)", golden.display()).into()),
    };
    if &expected != actual {
        return Err(format!(
            "{} differs.\nexpected: {}\nactual:   {}",
            golden.display(),
            serde_json::to_string_pretty(&expected)?,
            serde_json::to_string_pretty(actual)?
        )
        .into());
    }
    Ok(())
}

datatest_stable::harness! {
    // Event files only: `<case>.json`, not the `<case>.<kind>.json` goldens beside them.
    { test = check_fixture, root = "tests/fixtures", pattern = r"^[^/]+/[^./]+\.json$" },
}
