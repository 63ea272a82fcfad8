//! Remote configuration at init: environment variables from SSM Parameter Store and Secrets
//! Manager, loaded before the app is imported.
//!
//! The AWS side lives in a separate program, `lambda-wsgi-remote-config` (remote-config/), run
//! only when WSGI_CONFIG_SSM_PATH or WSGI_CONFIG_SECRET_ID is set: functions that do not use it
//! pay nothing, in binary size or at cold start. It prints one JSON object of variables, or
//! fails with a message naming the parameter path or the secret.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::InitError;

/// The program's name; the layer ships it in `lambda-wsgi-bin/`.
pub const HELPER_NAME: &str = "lambda-wsgi-remote-config";

/// Where the layer puts the helper on Lambda (/opt is where layers are unpacked).
const LAYER_HELPER: &str = "/opt/lambda-wsgi-bin/lambda-wsgi-remote-config";

/// Where the helper is: the configured path, else beside this executable (`bootstrap` built
/// from source), else the layer's (a Python that loaded the extension: handler mode with the
/// layer, whose wrapper is not on the way to set WSGI_REMOTE_CONFIG_HELPER).
pub fn helper_path(configured: Option<&Path>) -> PathBuf {
    if let Some(path) = configured {
        return path.to_path_buf();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(HELPER_NAME)));
    match beside {
        Some(path) if path.exists() => path,
        _ if Path::new(LAYER_HELPER).exists() => PathBuf::from(LAYER_HELPER),
        Some(path) => path,
        None => PathBuf::from(HELPER_NAME),
    }
}

/// Runs the helper (it inherits this process's environment: the settings, the credentials,
/// the region) and returns the variables it loaded, in order.
pub fn load(helper: &Path) -> Result<Vec<(String, String)>, InitError> {
    let output = Command::new(helper)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| InitError::RemoteConfig(format!("cannot run {}: {err}", helper.display())))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(InitError::RemoteConfig(if message.is_empty() {
            format!("{} failed ({})", helper.display(), output.status)
        } else {
            message
        }));
    }
    parse(&output.stdout)
}

fn parse(stdout: &[u8]) -> Result<Vec<(String, String)>, InitError> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(stdout).map_err(|err| {
        InitError::RemoteConfig(format!(
            "{HELPER_NAME} printed something that is not a JSON object: {err}"
        ))
    })?;
    Ok(object
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (name, value)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_object_becomes_ordered_variables() {
        let vars = parse(br#"{"DATABASE_URL": "postgres://db", "RETRIES": 3}"#).expect("valid");
        assert_eq!(
            vars,
            vec![
                ("DATABASE_URL".to_owned(), "postgres://db".to_owned()),
                ("RETRIES".to_owned(), "3".to_owned())
            ]
        );
        assert!(parse(b"[1]").is_err());
    }

    #[test]
    fn a_helper_that_fails_is_an_init_error_with_its_message() {
        let err = load(Path::new("/bin/false")).expect_err("fails");
        assert_eq!(err.error_type(), "Runtime.RemoteConfigError");
        let err = load(Path::new("/nonexistent/helper")).expect_err("missing");
        assert!(err.to_string().contains("cannot run /nonexistent/helper"), "{err}");
    }
}
