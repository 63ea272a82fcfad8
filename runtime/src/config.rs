//! Every setting of the runtime, read once at init from an injected lookup.
//!
//! Nothing else in the crate reads the process environment: tests pass a map, and the README's
//! configuration table lists exactly the names below.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::InitError;
use crate::mounts::{self, Mounts};

/// `module:attr` of the WSGI application, e.g. `app:app` or `mysite.wsgi:application`.
pub const WSGI_APP: &str = "WSGI_APP";
/// Several applications under URL prefixes, instead of `WSGI_APP`: a table of
/// `PREFIX = module:attr [+ module:factory ...]` entries, one per line or `;`-separated.
pub const WSGI_MOUNTS: &str = "WSGI_MOUNTS";
/// The mount table from a file instead (a path relative to the task root), for long tables.
pub const WSGI_MOUNTS_FILE: &str = "WSGI_MOUNTS_FILE";
/// `module:factory` middleware, comma-separated, each called once at init with the app (every
/// mount's, after the mount's own) and its result served instead.
pub const WSGI_MIDDLEWARE: &str = "WSGI_MIDDLEWARE";
/// Lambda's handler setting, used when `WSGI_APP` is unset (`module.attr` or `module:attr`).
pub const HANDLER: &str = "_HANDLER";
/// A path prefix (custom-domain base path mapping, e.g. `/api`) moved from PATH_INFO to SCRIPT_NAME.
pub const WSGI_BASE_PATH: &str = "WSGI_BASE_PATH";
/// Extra response media types sent as text instead of base64 (comma-separated, `type/*` allowed).
pub const WSGI_TEXT_MIME_TYPES: &str = "WSGI_TEXT_MIME_TYPES";
/// `respond` (an exception becomes a 500 response) or `raise` (it becomes a Lambda invocation error).
pub const WSGI_ERROR_MODE: &str = "WSGI_ERROR_MODE";
/// `buffered` (default) or `response_stream`: the function's invoke mode (Function URL
/// InvokeMode RESPONSE_STREAM, or a REST API streaming integration).
pub const WSGI_INVOKE_MODE: &str = "WSGI_INVOKE_MODE";
/// `module:function` called as `handler(event, context)` for events that are not HTTP requests
/// (SQS, S3, EventBridge, schedules, direct invocations).
pub const WSGI_EVENT_HANDLER: &str = "WSGI_EVENT_HANDLER";
/// `true` lets a direct invocation `{"manage": [...]}` run a Django management command or a
/// Flask CLI command. Off by default.
pub const WSGI_MANAGE_COMMANDS: &str = "WSGI_MANAGE_COMMANDS";
/// A path (`/health`) the app is asked for once before the SnapStart snapshot or the Managed
/// Instances fork, so that what the first request builds is in the snapshot or shared by every
/// worker instead of built again in each.
pub const WSGI_WARMUP_PATH: &str = "WSGI_WARMUP_PATH";
/// An SSM Parameter Store path whose parameters become environment variables at init.
pub const WSGI_CONFIG_SSM_PATH: &str = "WSGI_CONFIG_SSM_PATH";
/// A Secrets Manager secret (a JSON object) whose keys become environment variables at init.
pub const WSGI_CONFIG_SECRET_ID: &str = "WSGI_CONFIG_SECRET_ID";
/// Where `lambda-wsgi-remote-config` is, if not beside `bootstrap`.
pub const WSGI_REMOTE_CONFIG_HELPER: &str = "WSGI_REMOTE_CONFIG_HELPER";
/// Set by Lambda's logging configuration: `Text` (default) or `JSON`.
pub const AWS_LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Set by Lambda's logging configuration: the lowest level the app's `logging` records keep.
pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The largest buffered response JSON to hand to Lambda, in bytes (default: Lambda's 6 MB).
pub const WSGI_MAX_RESPONSE_BYTES: &str = "WSGI_MAX_RESPONSE_BYTES";
/// How long before the invocation deadline a still-running app is interrupted (ms; 0 = never).
pub const WSGI_DEADLINE_MARGIN_MS: &str = "WSGI_DEADLINE_MARGIN_MS";
/// Lambda's code directory; first on sys.path.
pub const LAMBDA_TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
/// An active virtual environment whose site-packages join sys.path (local runs).
pub const VIRTUAL_ENV: &str = "VIRTUAL_ENV";

/// `host:port` of the Lambda Runtime API; set by Lambda (and by the emulator, `cargo lambda watch`).
pub const AWS_LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
/// `on-demand`, `provisioned-concurrency` or `snap-start` (SnapStart: the runtime runs the snapshot
/// lifecycle before serving).
pub const AWS_LAMBDA_INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
/// Lambda Managed Instances: how many invocations one environment serves at once.
pub const AWS_LAMBDA_MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";
/// The function's name, version, memory and log destination, for `lambda.context`.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// See [`AWS_LAMBDA_FUNCTION_NAME`].
pub const AWS_LAMBDA_FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
/// See [`AWS_LAMBDA_FUNCTION_NAME`].
pub const AWS_LAMBDA_FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// See [`AWS_LAMBDA_FUNCTION_NAME`].
pub const AWS_LAMBDA_LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";
/// See [`AWS_LAMBDA_FUNCTION_NAME`].
pub const AWS_LAMBDA_LOG_STREAM_NAME: &str = "AWS_LAMBDA_LOG_STREAM_NAME";

/// Where the Runtime API is: the `host:port` to connect to, and a path prefix. Lambda sets a
/// bare `host:port`; cargo-lambda serves several functions' Runtime APIs from one server and sets
/// `http://[::]:9000/.rt/<function>`, as lambda_runtime's client accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApiAddress {
    /// `host:port` (an IPv6 host in brackets).
    pub authority: String,
    /// Prepended to every request path; empty, or `/` and segments without a trailing `/`.
    pub base_path: String,
}

impl std::fmt::Display for RuntimeApiAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.authority, self.base_path)
    }
}

/// The Runtime API address, read on its own before anything else: without it not even an init
/// error can be reported, so its absence is said plainly on stderr.
pub fn runtime_api_address(lookup: impl Fn(&str) -> Option<String>) -> Result<RuntimeApiAddress, InitError> {
    let value = lookup(AWS_LAMBDA_RUNTIME_API).unwrap_or_default();
    let value = value.trim();
    if value.is_empty() {
        return Err(InitError::Config(format!(
            "{AWS_LAMBDA_RUNTIME_API} is not set: bootstrap is started by Lambda, `lambda-wsgi-emulator` or \
             `cargo lambda watch`, which set it to the Runtime API's host:port"
        )));
    }
    let without_scheme = value.strip_prefix("http://").unwrap_or(value);
    let (authority, path) = match without_scheme.find('/') {
        Some(slash) => without_scheme.split_at(slash),
        None => (without_scheme, ""),
    };
    let valid_host = |host: &str| {
        !host.is_empty()
            && match host.strip_prefix('[') {
                Some(v6) => v6
                    .strip_suffix(']')
                    .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
                None => !host.contains([':', '[', ']', '@']),
            }
    };
    let valid = !without_scheme.contains("://")
        && authority
            .rsplit_once(':')
            .is_some_and(|(host, port)| valid_host(host) && port.parse::<u16>().is_ok())
        && !path.contains(['?', '#', ' ']);
    if valid {
        Ok(RuntimeApiAddress {
            authority: authority.to_owned(),
            base_path: path.trim_end_matches('/').to_owned(),
        })
    } else {
        Err(InitError::Config(format!(
            "{AWS_LAMBDA_RUNTIME_API}={value} is not host:port (for example 127.0.0.1:9001, or \
             http://[::1]:9000/.rt/function with a path)"
        )))
    }
}

/// How Lambda started this environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initialization {
    /// On demand or provisioned concurrency: serve as soon as the app is imported.
    OnDemand,
    /// SnapStart: after init, run the before-snapshot hooks, wait for the restore, reconnect and
    /// run the after-restore hooks, then serve.
    SnapStart,
}

/// What Lambda tells the runtime about the function and the environment (not WSGI settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Where the Runtime API is.
    pub runtime_api: RuntimeApiAddress,
    /// SnapStart or not.
    pub initialization: Initialization,
    /// Invocations served at once (Managed Instances); 1 everywhere else.
    pub max_concurrency: usize,
    /// The function's identity, for `lambda.context`.
    pub function: FunctionInfo,
}

/// The parts of `lambda.context` that are the same for every invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Function name.
    pub name: String,
    /// Function version (`$LATEST` or a number).
    pub version: String,
    /// Configured memory in MB.
    pub memory_mb: i32,
    /// CloudWatch log group.
    pub log_group: String,
    /// CloudWatch log stream.
    pub log_stream: String,
}

/// The most workers one environment runs (Lambda's own cap on
/// PerExecutionEnvironmentMaxConcurrency is far below it).
const MAX_CONCURRENCY_LIMIT: usize = 1024;

impl Platform {
    /// Reads Lambda's variables through `lookup`. Absent metadata (a local run) is left empty;
    /// a value that is present but wrong is an error naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let text = |name: &str| lookup(name).unwrap_or_default().trim().to_owned();
        let initialization = match text(AWS_LAMBDA_INITIALIZATION_TYPE).to_ascii_lowercase().as_str() {
            "snap-start" => Initialization::SnapStart,
            "" | "on-demand" | "provisioned-concurrency" => Initialization::OnDemand,
            other => {
                return Err(InitError::Config(format!(
                    "{AWS_LAMBDA_INITIALIZATION_TYPE}={other} is not one of: on-demand, provisioned-concurrency, snap-start"
                )));
            }
        };
        let max_concurrency = match text(AWS_LAMBDA_MAX_CONCURRENCY).as_str() {
            "" => 1,
            value => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_CONCURRENCY_LIMIT).contains(&n) => n,
                _ => {
                    return Err(InitError::Config(format!(
                        "{AWS_LAMBDA_MAX_CONCURRENCY}={value} must be a number of invocations from 1 to {MAX_CONCURRENCY_LIMIT}"
                    )));
                }
            },
        };
        Ok(Platform {
            runtime_api: runtime_api_address(&lookup)?,
            initialization,
            max_concurrency,
            function: FunctionInfo::from_lookup(&lookup)?,
        })
    }
}

impl FunctionInfo {
    /// The function's identity from Lambda's variables; absent ones (a local run) are empty.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let text = |name: &str| lookup(name).unwrap_or_default().trim().to_owned();
        let memory = text(AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
        let memory_mb = match memory.as_str() {
            "" => 0,
            value => value.parse::<i32>().map_err(|_| {
                InitError::Config(format!(
                    "{AWS_LAMBDA_FUNCTION_MEMORY_SIZE}={value} is not a number of megabytes"
                ))
            })?,
        };
        Ok(FunctionInfo {
            name: text(AWS_LAMBDA_FUNCTION_NAME),
            version: text(AWS_LAMBDA_FUNCTION_VERSION),
            memory_mb,
            log_group: text(AWS_LAMBDA_LOG_GROUP_NAME),
            log_stream: text(AWS_LAMBDA_LOG_STREAM_NAME),
        })
    }
}

/// What happens when the application raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorMode {
    /// A 500 response with a short body; the traceback goes to the log. The default.
    Respond,
    /// A Lambda invocation error (errorType = the exception class), for Lambda's error metrics
    /// and retries. The front door then answers 502.
    Raise,
}

/// How responses travel back to Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// One JSON document in the event source's response shape, after the app finished. The default.
    Buffered,
    /// The HTTP integration stream: a JSON prelude (status, headers, cookies), eight NUL bytes,
    /// then the body as the app produces it.
    ResponseStream,
}

/// The parsed settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The applications and where each is mounted: `WSGI_MOUNTS`' table, or the one app of
    /// `WSGI_APP` (or the handler) at `/`.
    pub apps: Mounts,
    /// WSGI_MIDDLEWARE: `module:factory` specs applied around every app, after its mount's own.
    pub middleware: Vec<String>,
    /// Normalized base path (`/api`), or empty.
    pub base_path: String,
    /// Extra text media types, lowercased; entries ending in `/*` match a whole type.
    pub text_mime_types: Vec<String>,
    /// What an app exception becomes.
    pub error_mode: ErrorMode,
    /// Buffered or streamed responses.
    pub invoke_mode: InvokeMode,
    /// Largest buffered response JSON; ALB's own 1 MB cap applies on top.
    pub max_response_bytes: usize,
    /// How long before the deadline the app is interrupted; zero disables the guard.
    pub deadline_margin: Duration,
    /// Directory holding the function code.
    pub task_root: PathBuf,
    /// Virtual environment root, if one is active.
    pub virtual_env: Option<PathBuf>,
    /// The handler for events that are not HTTP requests, as (module, attribute).
    pub event_handler: Option<(String, String)>,
    /// Whether `{"manage": [...]}` direct invocations may run commands.
    pub manage_commands: bool,
    /// WSGI_WARMUP_PATH: path and query of the warm-up request, if any.
    pub warmup_path: Option<String>,
    /// How the app's `logging` records are written, as the managed Python runtime writes them.
    pub log_format: LogFormat,
    /// `AWS_LAMBDA_LOG_LEVEL`, upper-cased (`TRACE` is `DEBUG` in Python).
    pub log_level: Option<String>,
    /// Set when WSGI_CONFIG_SSM_PATH or WSGI_CONFIG_SECRET_ID is: the helper to run at init
    /// (WSGI_REMOTE_CONFIG_HELPER, or None for the one beside `bootstrap`).
    pub remote_config: Option<Option<PathBuf>>,
}

/// Lambda's log format setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `[LEVEL]\ttimestamp\trequestId\tmessage` lines.
    Text,
    /// One JSON object per record.
    Json,
}

impl Config {
    /// Reads every setting through `lookup` (in production, the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let task_root = non_empty(LAMBDA_TASK_ROOT).map_or_else(|| PathBuf::from("."), PathBuf::from);
        let apps = parse_apps(&non_empty, &task_root)?;
        Ok(Config {
            apps,
            middleware: parse_middleware(non_empty(WSGI_MIDDLEWARE).as_deref())?,
            base_path: parse_base_path(non_empty(WSGI_BASE_PATH).as_deref())?,
            text_mime_types: parse_mime_types(non_empty(WSGI_TEXT_MIME_TYPES).as_deref())?,
            error_mode: parse_error_mode(non_empty(WSGI_ERROR_MODE).as_deref())?,
            invoke_mode: parse_invoke_mode(non_empty(WSGI_INVOKE_MODE).as_deref())?,
            max_response_bytes: parse_max_response_bytes(non_empty(WSGI_MAX_RESPONSE_BYTES).as_deref())?,
            deadline_margin: parse_deadline_margin(non_empty(WSGI_DEADLINE_MARGIN_MS).as_deref())?,
            task_root,
            virtual_env: non_empty(VIRTUAL_ENV).map(PathBuf::from),
            event_handler: non_empty(WSGI_EVENT_HANDLER)
                .map(|spec| parse_app_spec(WSGI_EVENT_HANDLER, &spec, false))
                .transpose()?,
            manage_commands: parse_flag(WSGI_MANAGE_COMMANDS, non_empty(WSGI_MANAGE_COMMANDS).as_deref())?,
            warmup_path: parse_warmup_path(non_empty(WSGI_WARMUP_PATH).as_deref())?,
            log_format: match non_empty(AWS_LAMBDA_LOG_FORMAT) {
                Some(format) if format.eq_ignore_ascii_case("json") => LogFormat::Json,
                _ => LogFormat::Text,
            },
            remote_config: (non_empty(WSGI_CONFIG_SSM_PATH).is_some() || non_empty(WSGI_CONFIG_SECRET_ID).is_some())
                .then(|| non_empty(WSGI_REMOTE_CONFIG_HELPER).map(PathBuf::from)),
            log_level: non_empty(AWS_LAMBDA_LOG_LEVEL).map(|level| match level.to_ascii_uppercase().as_str() {
                "TRACE" => "DEBUG".to_owned(),
                "FATAL" => "CRITICAL".to_owned(),
                other => other.to_owned(),
            }),
        })
    }

    /// The applications as the user wrote them, for messages: `app:app`, or
    /// `/ -> site:app, /api -> api:app` for a table.
    pub fn app_spec(&self) -> String {
        match self.apps.mounts() {
            [only] if only.prefix == "/" && only.middleware.is_empty() => only.app.clone(),
            mounts => mounts
                .iter()
                .map(|mount| format!("{} -> {}", mount.prefix, mount.app))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The mount table from WSGI_MOUNTS or WSGI_MOUNTS_FILE, else the one app of WSGI_APP or the
/// handler at `/`. Setting a table and WSGI_APP both is refused: which one would serve is not
/// obvious. The handler (`_HANDLER`) is ignored beside a table: under handler mode it names
/// lambda_wsgi.handler, not an app.
fn parse_apps(non_empty: &impl Fn(&str) -> Option<String>, task_root: &std::path::Path) -> Result<Mounts, InitError> {
    let table = match (non_empty(WSGI_MOUNTS), non_empty(WSGI_MOUNTS_FILE)) {
        (Some(_), Some(_)) => {
            return Err(InitError::Config(format!(
                "{WSGI_MOUNTS} and {WSGI_MOUNTS_FILE} are both set: set one (the table, or the file that holds it)"
            )));
        }
        (Some(text), None) => Some((text, WSGI_MOUNTS.to_owned())),
        (None, Some(file)) => {
            let path = task_root.join(file.trim());
            let text = std::fs::read_to_string(&path).map_err(|err| {
                InitError::Config(format!(
                    "{WSGI_MOUNTS_FILE}={}: cannot read {}: {err}",
                    file.trim(),
                    path.display()
                ))
            })?;
            Some((text, format!("{WSGI_MOUNTS_FILE} {}", path.display())))
        }
        (None, None) => None,
    };
    if let Some((text, origin)) = table {
        if let Some(app) = non_empty(WSGI_APP) {
            return Err(InitError::Config(format!(
                "{WSGI_APP}={} and a mount table ({origin}) are both set: mount the app in the table (/ = {}) and unset {WSGI_APP}",
                app.trim(),
                app.trim()
            )));
        }
        return Mounts::parse(&text, &origin).map_err(|err| InitError::Config(err.to_string()));
    }
    let (module, attr) = match (non_empty(WSGI_APP), non_empty(HANDLER)) {
        (Some(app), _) => parse_app_spec(WSGI_APP, &app, false)?,
        (None, Some(handler)) => parse_app_spec(HANDLER, &handler, true)?,
        (None, None) => {
            return Err(InitError::MalformedHandler(format!(
                "no WSGI application configured: set {WSGI_APP}=module:attr (e.g. app:app), a mount table ({WSGI_MOUNTS}) or the function's handler"
            )));
        }
    };
    Ok(Mounts::single(format!("{module}:{attr}")))
}

/// WSGI_MIDDLEWARE: comma-separated `module:factory` specs, in the order they wrap (the first
/// is innermost, next to the app).
fn parse_middleware(value: Option<&str>) -> Result<Vec<String>, InitError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    value
        .split(',')
        .map(str::trim)
        .filter(|spec| !spec.is_empty())
        .map(|spec| {
            mounts::check_spec(spec).map(|()| spec.to_owned()).map_err(|reason| {
                InitError::Config(format!(
                    "{WSGI_MIDDLEWARE}: {reason} (write module:factory, comma-separated)"
                ))
            })
        })
        .collect()
}

/// `module:attr`; `_HANDLER` may also use Lambda's `module.attr` form.
fn parse_app_spec(name: &str, value: &str, allow_dot_form: bool) -> Result<(String, String), InitError> {
    let value = value.trim();
    let split = value
        .split_once(':')
        .or_else(|| if allow_dot_form { value.rsplit_once('.') } else { None });
    let is_dotted_name = |s: &str| !s.is_empty() && s.split('.').all(|part| !part.is_empty() && is_identifier(part));
    match split {
        Some((module, attr)) if is_dotted_name(module) && is_dotted_name(attr) => {
            Ok((module.to_owned(), attr.to_owned()))
        }
        _ => Err(InitError::MalformedHandler(format!(
            "{name}={value} is not module:attr (for example app:app or mysite.wsgi:application)"
        ))),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn parse_base_path(value: Option<&str>) -> Result<String, InitError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(String::new());
    };
    let trimmed = value.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') || trimmed.contains(['?', '#', ' ']) {
        return Err(InitError::Config(format!(
            "{WSGI_BASE_PATH}={value} must be a URL path starting with '/', like /api"
        )));
    }
    Ok(trimmed.to_owned())
}

fn parse_mime_types(value: Option<&str>) -> Result<Vec<String>, InitError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('/') {
            Some((kind, sub)) if !kind.is_empty() && !sub.is_empty() && !entry.contains(';') => {
                Ok(entry.to_ascii_lowercase())
            }
            _ => Err(InitError::Config(format!(
                "{WSGI_TEXT_MIME_TYPES} entry '{entry}' is not a media type like application/x-ndjson or font/*"
            ))),
        })
        .collect()
}

/// Lambda's cap on a buffered (non-streamed) response payload: 6 MB.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6_291_556;

fn parse_max_response_bytes(value: Option<&str>) -> Result<usize, InitError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(LAMBDA_RESPONSE_LIMIT);
    };
    match value.parse::<usize>() {
        Ok(bytes) if (1..=LAMBDA_RESPONSE_LIMIT).contains(&bytes) => Ok(bytes),
        _ => Err(InitError::Config(format!(
            "{WSGI_MAX_RESPONSE_BYTES}={value} must be a number of bytes from 1 to {LAMBDA_RESPONSE_LIMIT} (Lambda's buffered response limit)"
        ))),
    }
}

/// Enough to answer and flush logs before Lambda stops the environment.
const DEFAULT_DEADLINE_MARGIN_MS: u64 = 500;

fn parse_deadline_margin(value: Option<&str>) -> Result<Duration, InitError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(Duration::from_millis(DEFAULT_DEADLINE_MARGIN_MS));
    };
    match value.parse::<u64>() {
        // Lambda's longest timeout is 15 minutes.
        Ok(ms) if ms <= 900_000 => Ok(Duration::from_millis(ms)),
        _ => Err(InitError::Config(format!(
            "{WSGI_DEADLINE_MARGIN_MS}={value} must be milliseconds from 0 (no guard) to 900000"
        ))),
    }
}

fn parse_warmup_path(value: Option<&str>) -> Result<Option<String>, InitError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(None);
    };
    if value.starts_with('/') && !value.contains(['#', ' ', '"', '\\']) && !value.chars().any(char::is_control) {
        Ok(Some(value.to_owned()))
    } else {
        Err(InitError::Config(format!(
            "{WSGI_WARMUP_PATH}={value} must be a URL path starting with '/', like /health (a query may follow)"
        )))
    }
}

fn parse_flag(name: &str, value: Option<&str>) -> Result<bool, InitError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(_) => Err(InitError::Config(format!(
            "{name}={} is not true or false",
            value.unwrap_or_default()
        ))),
    }
}

fn parse_invoke_mode(value: Option<&str>) -> Result<InvokeMode, InitError> {
    // Lambda spells the Function URL setting in capitals; accept both.
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("buffered") => Ok(InvokeMode::Buffered),
        Some("response_stream") => Ok(InvokeMode::ResponseStream),
        Some(_) => Err(InitError::Config(format!(
            "{WSGI_INVOKE_MODE}={} is not one of: buffered (default), response_stream (the function URL's \
             InvokeMode is RESPONSE_STREAM)",
            value.unwrap_or_default()
        ))),
    }
}

fn parse_error_mode(value: Option<&str>) -> Result<ErrorMode, InitError> {
    // Case-insensitive, as WSGI_INVOKE_MODE is.
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("respond") => Ok(ErrorMode::Respond),
        Some("raise") => Ok(ErrorMode::Raise),
        Some(_) => Err(InitError::Config(format!(
            "{WSGI_ERROR_MODE}={} is not one of: respond (default: exceptions become 500 responses), raise (they become Lambda invocation errors)",
            value.unwrap_or_default().trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, InitError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn wsgi_app_wins_over_handler() {
        let c = config(&[(WSGI_APP, "mysite.wsgi:application"), (HANDLER, "other.app")]).expect("valid");
        assert_eq!(c.app_spec(), "mysite.wsgi:application");
    }

    #[test]
    fn handler_accepts_lambda_dot_form() {
        let c = config(&[(HANDLER, "app.app")]).expect("valid");
        assert_eq!(c.app_spec(), "app:app");
        let c = config(&[(HANDLER, "pkg.web:make.app")]).expect("valid");
        assert_eq!(c.app_spec(), "pkg.web:make.app");
    }

    #[test]
    fn wsgi_app_requires_colon_form_and_names_the_variable() {
        for bad in ["app.app", "app:", ":app", "app:1x", "my-app:app"] {
            let err = config(&[(WSGI_APP, bad)]).expect_err(bad);
            assert_eq!(err.error_type(), "Runtime.MalformedHandlerName");
            assert!(
                err.to_string().contains(&format!("WSGI_APP={bad} is not module:attr")),
                "{err}"
            );
        }
    }

    #[test]
    fn no_app_is_an_error_that_says_what_to_set() {
        let err = config(&[]).expect_err("no app");
        assert!(err.to_string().contains("set WSGI_APP=module:attr"), "{err}");
    }

    #[test]
    fn defaults() {
        let c = config(&[(WSGI_APP, "app:app")]).expect("valid");
        assert_eq!(c.base_path, "");
        assert!(c.text_mime_types.is_empty());
        assert_eq!(c.error_mode, ErrorMode::Respond);
        assert_eq!(c.task_root, PathBuf::from("."));
        assert_eq!(c.virtual_env, None);
        assert_eq!(c.max_response_bytes, LAMBDA_RESPONSE_LIMIT);
        assert_eq!(c.deadline_margin, Duration::from_millis(500));
    }

    #[test]
    fn deadline_margin_is_milliseconds_and_zero_disables() {
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_DEADLINE_MARGIN_MS, "0")])
                .expect("ok")
                .deadline_margin,
            Duration::ZERO
        );
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_DEADLINE_MARGIN_MS, "1500")])
                .expect("ok")
                .deadline_margin,
            Duration::from_millis(1500)
        );
        let err = config(&[(WSGI_APP, "a:b"), (WSGI_DEADLINE_MARGIN_MS, "1s")]).expect_err("unit");
        assert!(
            err.to_string()
                .contains("WSGI_DEADLINE_MARGIN_MS=1s must be milliseconds"),
            "{err}"
        );
    }

    #[test]
    fn max_response_bytes_is_bounded_by_lambdas_limit() {
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_MAX_RESPONSE_BYTES, "1000")])
                .expect("ok")
                .max_response_bytes,
            1000
        );
        for bad in ["0", "7000000", "6MB", "-1"] {
            let err = config(&[(WSGI_APP, "a:b"), (WSGI_MAX_RESPONSE_BYTES, bad)]).expect_err(bad);
            assert!(
                err.to_string()
                    .contains(&format!("WSGI_MAX_RESPONSE_BYTES={bad} must be")),
                "{err}"
            );
        }
    }

    #[test]
    fn base_path_is_normalized_and_validated() {
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_BASE_PATH, "/api/")])
                .expect("ok")
                .base_path,
            "/api"
        );
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_BASE_PATH, "/")])
                .expect("ok")
                .base_path,
            ""
        );
        let err = config(&[(WSGI_APP, "a:b"), (WSGI_BASE_PATH, "api")]).expect_err("relative");
        assert!(err.to_string().starts_with("WSGI_BASE_PATH=api must be"), "{err}");
    }

    #[test]
    fn text_mime_types_are_parsed_and_bad_entries_named() {
        let c = config(&[
            (WSGI_APP, "a:b"),
            (WSGI_TEXT_MIME_TYPES, "application/X-NDJSON, font/*"),
        ])
        .expect("ok");
        assert_eq!(c.text_mime_types, ["application/x-ndjson", "font/*"]);
        let err = config(&[(WSGI_APP, "a:b"), (WSGI_TEXT_MIME_TYPES, "json")]).expect_err("bad");
        assert!(err.to_string().contains("entry 'json'"), "{err}");
    }

    #[test]
    fn direct_invocation_settings_are_off_unless_set() {
        let c = config(&[(WSGI_APP, "a:b")]).expect("valid");
        assert_eq!(
            (c.event_handler, c.manage_commands, c.log_format),
            (None, false, LogFormat::Text)
        );
        let c = config(&[
            (WSGI_APP, "a:b"),
            (WSGI_EVENT_HANDLER, "jobs.handlers:on_event"),
            (WSGI_MANAGE_COMMANDS, "true"),
            (AWS_LAMBDA_LOG_FORMAT, "JSON"),
            (AWS_LAMBDA_LOG_LEVEL, "trace"),
        ])
        .expect("valid");
        assert_eq!(
            c.event_handler,
            Some(("jobs.handlers".to_owned(), "on_event".to_owned()))
        );
        assert!(c.manage_commands);
        assert_eq!((c.log_format, c.log_level.as_deref()), (LogFormat::Json, Some("DEBUG")));
        assert!(config(&[(WSGI_APP, "a:b"), (WSGI_EVENT_HANDLER, "no-colon")]).is_err());
        assert!(config(&[(WSGI_APP, "a:b"), (WSGI_MANAGE_COMMANDS, "maybe")]).is_err());
    }

    #[test]
    fn invoke_mode_is_buffered_unless_streaming_is_asked_for() {
        assert_eq!(
            config(&[(WSGI_APP, "a:b")]).expect("valid").invoke_mode,
            InvokeMode::Buffered
        );
        for value in ["response_stream", "RESPONSE_STREAM"] {
            let c = config(&[(WSGI_APP, "a:b"), (WSGI_INVOKE_MODE, value)]).expect("valid");
            assert_eq!(c.invoke_mode, InvokeMode::ResponseStream);
        }
        let err = config(&[(WSGI_APP, "a:b"), (WSGI_INVOKE_MODE, "stream")]).expect_err("bad");
        assert!(err.to_string().contains("response_stream"), "{err}");
    }

    #[test]
    fn error_mode_is_case_insensitive_like_invoke_mode() {
        for (value, mode) in [
            ("RAISE", ErrorMode::Raise),
            ("Raise", ErrorMode::Raise),
            ("Respond", ErrorMode::Respond),
            (" RESPOND ", ErrorMode::Respond),
        ] {
            let c = config(&[(WSGI_APP, "a:b"), (WSGI_ERROR_MODE, value)]).expect(value);
            assert_eq!(c.error_mode, mode, "{value}");
        }
    }

    #[test]
    fn error_mode_rejects_unknown_values_listing_the_allowed_ones() {
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_ERROR_MODE, "raise")])
                .expect("ok")
                .error_mode,
            ErrorMode::Raise
        );
        let err = config(&[(WSGI_APP, "a:b"), (WSGI_ERROR_MODE, "explode")]).expect_err("bad");
        assert_eq!(err.error_type(), "Runtime.InvalidConfiguration");
        assert!(
            err.to_string().contains("respond") && err.to_string().contains("raise"),
            "{err}"
        );
    }

    #[test]
    fn the_warmup_path_is_a_url_path() {
        assert_eq!(config(&[(WSGI_APP, "a:b")]).expect("ok").warmup_path, None);
        assert_eq!(
            config(&[(WSGI_APP, "a:b"), (WSGI_WARMUP_PATH, "/health?deep=1")])
                .expect("ok")
                .warmup_path
                .as_deref(),
            Some("/health?deep=1")
        );
        for bad in ["health", "/a b", "/x\"y"] {
            let err = config(&[(WSGI_APP, "a:b"), (WSGI_WARMUP_PATH, bad)]).expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("{WSGI_WARMUP_PATH}={bad} must be")),
                "{err}"
            );
        }
    }

    fn platform(pairs: &[(&str, &str)]) -> Result<Platform, InitError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Platform::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_missing_or_bad_runtime_api_is_an_init_error_not_a_panic() {
        let err = platform(&[]).expect_err("missing");
        assert_eq!(err.error_type(), "Runtime.InvalidConfiguration");
        assert!(err.to_string().contains("AWS_LAMBDA_RUNTIME_API is not set"), "{err}");
        for bad in ["localhost", "ftp://127.0.0.1:9001", "127.0.0.1:port", ":9001"] {
            let err = platform(&[(AWS_LAMBDA_RUNTIME_API, bad)]).expect_err(bad);
            assert!(err.to_string().contains("is not host:port"), "{bad}: {err}");
        }
        let p = platform(&[(AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9001")]).expect("valid");
        assert_eq!(
            (p.runtime_api.authority.as_str(), p.runtime_api.base_path.as_str()),
            ("127.0.0.1:9001", "")
        );
        // cargo-lambda's form: a URL with a path under which the Runtime API is served.
        let p = platform(&[(AWS_LAMBDA_RUNTIME_API, "http://[::]:9000/.rt/bootstrap/")]).expect("valid");
        assert_eq!(
            (p.runtime_api.authority.as_str(), p.runtime_api.base_path.as_str()),
            ("[::]:9000", "/.rt/bootstrap")
        );
        for bad in ["https://127.0.0.1:9001", "[::1:9001", "user@host:9001"] {
            assert!(platform(&[(AWS_LAMBDA_RUNTIME_API, bad)]).is_err(), "{bad}");
        }
        assert_eq!((p.initialization, p.max_concurrency), (Initialization::OnDemand, 1));
        assert_eq!(p.function, FunctionInfo::default());
    }

    #[test]
    fn snap_start_and_managed_instances_are_read_from_lambdas_variables() {
        let p = platform(&[
            (AWS_LAMBDA_RUNTIME_API, "169.254.100.1:9001"),
            (AWS_LAMBDA_INITIALIZATION_TYPE, "snap-start"),
            (AWS_LAMBDA_MAX_CONCURRENCY, "8"),
            (AWS_LAMBDA_FUNCTION_NAME, "web"),
            (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "512"),
        ])
        .expect("valid");
        assert_eq!((p.initialization, p.max_concurrency), (Initialization::SnapStart, 8));
        assert_eq!((p.function.name.as_str(), p.function.memory_mb), ("web", 512));
        for (name, bad) in [
            (AWS_LAMBDA_MAX_CONCURRENCY, "0"),
            (AWS_LAMBDA_MAX_CONCURRENCY, "many"),
            (AWS_LAMBDA_INITIALIZATION_TYPE, "frozen"),
            (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "1GB"),
        ] {
            let err = platform(&[(AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9001"), (name, bad)]).expect_err(bad);
            assert!(err.to_string().starts_with(&format!("{name}={bad}")), "{err}");
        }
    }

    #[test]
    fn a_mount_table_replaces_the_one_app_and_the_handler_is_ignored_beside_it() {
        let c = config(&[
            (WSGI_MOUNTS, "/ = site:app; /api = api:app"),
            (HANDLER, "lambda_wsgi.handler"),
        ])
        .expect("valid");
        assert_eq!(c.app_spec(), "/ -> site:app, /api -> api:app");
        assert_eq!(c.apps.mounts().len(), 2);
    }

    #[test]
    fn a_mount_table_beside_wsgi_app_or_both_table_settings_is_refused() {
        let err = config(&[(WSGI_MOUNTS, "/api = api:app"), (WSGI_APP, "app:app")]).expect_err("both");
        assert!(
            err.to_string()
                .contains("mount the app in the table (/ = app:app) and unset WSGI_APP"),
            "{err}"
        );
        let err = config(&[(WSGI_MOUNTS, "/api = api:app"), (WSGI_MOUNTS_FILE, "mounts.txt")]).expect_err("both");
        assert!(
            err.to_string()
                .contains("WSGI_MOUNTS and WSGI_MOUNTS_FILE are both set"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_table_is_an_invalid_configuration_naming_the_variable_and_entry() {
        let err = config(&[(WSGI_MOUNTS, "/api = api:app; shop = shop:app")]).expect_err("bad");
        assert_eq!(err.error_type(), "Runtime.InvalidConfiguration");
        assert!(
            err.to_string()
                .starts_with("WSGI_MOUNTS: the entry \"shop = shop:app\""),
            "{err}"
        );
    }

    #[test]
    fn the_mount_file_is_read_from_the_task_root_and_named_in_errors() {
        let root = std::env::temp_dir().join(format!("lambda-wsgi-mounts-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("temp dir");
        std::fs::write(
            root.join("mounts.txt"),
            "# the site\n/ = site:app\n/shop = shop.wsgi:application\n",
        )
        .expect("write");
        std::fs::write(root.join("bad.txt"), "/shop shop:app\n").expect("write");
        let task_root = root.to_string_lossy().into_owned();
        let c = config(&[(LAMBDA_TASK_ROOT, &task_root), (WSGI_MOUNTS_FILE, "mounts.txt")]).expect("valid");
        assert_eq!(c.app_spec(), "/ -> site:app, /shop -> shop.wsgi:application");
        let err = config(&[(LAMBDA_TASK_ROOT, &task_root), (WSGI_MOUNTS_FILE, "bad.txt")]).expect_err("bad");
        assert!(
            err.to_string()
                .contains("bad.txt: the entry \"/shop shop:app\" has no `=`"),
            "{err}"
        );
        let err = config(&[(LAMBDA_TASK_ROOT, &task_root), (WSGI_MOUNTS_FILE, "missing.txt")]).expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("WSGI_MOUNTS_FILE=missing.txt: cannot read "),
            "{err}"
        );
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn middleware_is_a_comma_separated_list_of_module_factory() {
        let c = config(&[
            (WSGI_APP, "a:b"),
            (
                WSGI_MIDDLEWARE,
                "werkzeug.middleware.proxy_fix:ProxyFix, whitenoise:WhiteNoise",
            ),
        ])
        .expect("valid");
        assert_eq!(
            c.middleware,
            ["werkzeug.middleware.proxy_fix:ProxyFix", "whitenoise:WhiteNoise"]
        );
        let err = config(&[(WSGI_APP, "a:b"), (WSGI_MIDDLEWARE, "ProxyFix")]).expect_err("bad");
        assert!(
            err.to_string().starts_with("WSGI_MIDDLEWARE: \"ProxyFix\" has no `:`"),
            "{err}"
        );
    }
}
