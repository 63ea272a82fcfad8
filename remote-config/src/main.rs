//! lambda-wsgi-remote-config: the environment variables a function keeps in SSM Parameter Store
//! and Secrets Manager, printed as one JSON object for `bootstrap` to apply before the app is
//! imported.
//!
//! A separate program so that the AWS SDK (the credential chain, two service clients, TLS) costs
//! nothing, in binary size or cold start, to functions that do not use it: `bootstrap` runs it
//! only when WSGI_CONFIG_SSM_PATH or WSGI_CONFIG_SECRET_ID is set. Credentials and region come
//! from aws-config's standard chain, as in any Lambda function (AWS_ENDPOINT_URL too, which is
//! how the tests point it at a local moto server).
//!
//! Exit 0 with the JSON on stdout, or 1 with a message naming the parameter path or the secret
//! on stderr (bootstrap turns it into an init error).

use std::process::ExitCode;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde_json::{Map, Value};

/// Every parameter under this path (recursively), named by what follows the path.
const SSM_PATH: &str = "WSGI_CONFIG_SSM_PATH";
/// A secret whose value is a JSON object: one variable per key.
const SECRET_ID: &str = "WSGI_CONFIG_SECRET_ID";

#[derive(Debug, thiserror::Error)]
enum RemoteConfigError {
    #[error("{SSM_PATH}={path}: {reason}")]
    Parameters { path: String, reason: String },
    #[error("{SECRET_ID}={secret}: {reason}")]
    Secret { secret: String, reason: String },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let setting = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    match load(setting(SSM_PATH), setting(SECRET_ID)).await {
        Ok(variables) => {
            println!("{}", Value::Object(variables));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn load(ssm_path: Option<String>, secret_id: Option<String>) -> Result<Map<String, Value>, RemoteConfigError> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    let mut variables = Map::new();
    if let Some(path) = ssm_path {
        let client = aws_sdk_ssm::Client::new(&config);
        parameters(&client, &path, &mut variables).await?;
    }
    if let Some(secret) = secret_id {
        let client = aws_sdk_secretsmanager::Client::new(&config);
        secret_variables(&client, &secret, &mut variables).await?;
    }
    Ok(variables)
}

/// The client the SDK builds by default (aws-smithy-runtime's `default_https_client`: its
/// connector settings, its sleep, and the proxy from HTTP_PROXY / HTTPS_PROXY / NO_PROXY, as
/// behavior version 2025-08-07 and later do), with rustls over ring instead of aws-lc-rs (see
/// Cargo.toml for why), trusting the system's certificate store.
fn https_client() -> aws_sdk_ssm::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// GetParametersByPath, recursive and decrypted; `/app/prod/DATABASE_URL` under `/app/prod`
/// becomes DATABASE_URL, `/app/prod/db/HOST` becomes db_HOST.
async fn parameters(
    client: &aws_sdk_ssm::Client,
    path: &str,
    variables: &mut Map<String, Value>,
) -> Result<(), RemoteConfigError> {
    let failed = |reason: String| RemoteConfigError::Parameters {
        path: path.to_owned(),
        reason,
    };
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let mut pages = client
        .get_parameters_by_path()
        .path(path)
        .recursive(true)
        .with_decryption(true)
        .into_paginator()
        .send();
    let mut found = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| failed(describe(&err)))?;
        for parameter in page.parameters() {
            let (Some(name), Some(value)) = (parameter.name(), parameter.value()) else {
                continue;
            };
            let key = name.strip_prefix(&prefix).unwrap_or(name).replace('/', "_");
            variables.insert(key, Value::String(value.to_owned()));
            found += 1;
        }
    }
    if found == 0 {
        // An empty path is almost always a typo or a missing deployment step; starting the app
        // without its settings would fail later, further from the cause.
        return Err(failed(
            "no parameters under this path (is the path right, with its leading /?)".to_owned(),
        ));
    }
    Ok(())
}

/// GetSecretValue; the secret string must be a JSON object. Strings are taken as they are,
/// other values as their JSON text.
async fn secret_variables(
    client: &aws_sdk_secretsmanager::Client,
    secret: &str,
    variables: &mut Map<String, Value>,
) -> Result<(), RemoteConfigError> {
    let failed = |reason: String| RemoteConfigError::Secret {
        secret: secret.to_owned(),
        reason,
    };
    let output = client
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|err| failed(describe(&err)))?;
    let text = output
        .secret_string()
        .ok_or_else(|| failed("the secret has no string value (a binary secret cannot hold variables)".to_owned()))?;
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err(failed(
            "the secret's value is not a JSON object such as {\"DATABASE_URL\": \"...\"}".to_owned(),
        ));
    };
    for (key, value) in object {
        let value = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        variables.insert(key, Value::String(value));
    }
    Ok(())
}

/// The service's error code and message (AccessDeniedException: ...); for an error body the
/// SDK could not parse, the HTTP status and the start of the body; else the whole chain.
fn describe<E>(err: &aws_sdk_ssm::error::SdkError<E, aws_sdk_ssm::config::http::HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => match err.raw_response() {
            Some(raw) => {
                let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                let body: String = body
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(300)
                    .collect();
                format!("HTTP {}: {body}", raw.status().as_u16())
            }
            None => DisplayErrorContext(err).to_string(),
        },
    }
}
