//! The mount table: several WSGI applications in one function, each under a URL prefix, as
//! werkzeug's `DispatcherMiddleware` or a front server's `location` blocks do, but decided here
//! before any Python runs (issue 21).
//!
//! A table is text, one entry per line or `;`-separated, `#` starting a comment:
//!
//! ```text
//! /       = site.wsgi:application
//! /api    = api:app + werkzeug.middleware.proxy_fix:ProxyFix
//! /legacy = old:app
//! ```
//!
//! Each entry is a prefix, `=`, the app as `module:attr`, and optionally `+` and middleware
//! factories (`module:callable`), each called once with the app so far at init. A request goes
//! to the longest prefix that matches the decoded path on a segment boundary (`/api` takes `/api`
//! and `/api/x`, never `/apis`); a slash that arrived encoded (`%2F`) never ends a segment here,
//! so it never forms a prefix. Plain Rust: the table is parsed and matched without Python.

use thiserror::Error;

/// One entry of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `/` or `/a/b`: decoded text, no trailing slash.
    pub prefix: String,
    /// `module:attr`.
    pub app: String,
    /// `module:callable` factories, applied in order around the app.
    pub middleware: Vec<String>,
}

/// Where a request goes: the mount, and how many bytes of the path its prefix takes (0 for `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The mount's place in the table ([`Mounts::mounts`]).
    pub index: usize,
    /// The length of the path's part that moves to SCRIPT_NAME.
    pub prefix_len: usize,
}

/// A table that cannot be used: the message names where it came from and the entry.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MountError {
    /// Nothing but comments and blank lines.
    #[error("{origin}: no mount in the table (write one `PREFIX = module:attr` per line)")]
    Empty {
        /// The variable or file the table came from.
        origin: String,
    },
    /// An entry that does not parse.
    #[error("{origin}: the entry {entry:?} {reason}")]
    Entry {
        /// The variable or file the table came from.
        origin: String,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two entries for one prefix.
    #[error("{origin}: {prefix} is mounted twice ({first:?} and {second:?}): one prefix, one app")]
    Duplicate {
        /// The variable or file the table came from.
        origin: String,
        /// The prefix, normalized.
        prefix: String,
        /// The first entry as written.
        first: String,
        /// The second entry as written.
        second: String,
    },
}

/// The parsed table, in the order it was written (the order apps are imported in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounts {
    mounts: Vec<Mount>,
    /// Indexes into `mounts`, longest prefix first: the first that matches wins.
    by_length: Vec<usize>,
}

impl Mounts {
    /// Parses `text`; `origin` names it in errors (`WSGI_MOUNTS`, or the file's path).
    pub fn parse(text: &str, origin: &str) -> Result<Self, MountError> {
        let mut mounts: Vec<(Mount, String)> = Vec::new();
        // A comment runs to the end of its line, `;`s in it included (no prefix holds a `#`).
        for entry in text
            .lines()
            .map(|line| line.split_once('#').map_or(line, |(before, _)| before))
            .flat_map(|line| line.split(';'))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let bad = |reason: &str| MountError::Entry {
                origin: origin.to_owned(),
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            };
            let (prefix, target) = entry
                .split_once('=')
                .ok_or_else(|| bad("has no `=`: write it as PREFIX = module:attr"))?;
            let prefix = normalize_prefix(prefix.trim()).map_err(&bad)?;
            let mut specs = target.split('+').map(str::trim);
            let app = specs.next().unwrap_or_default();
            check_spec(app).map_err(|reason| bad(&format!("names no app: {reason}")))?;
            let middleware = specs
                .map(|spec| {
                    check_spec(spec)
                        .map_err(|reason| bad(&format!("has a middleware that is not module:callable: {reason}")))?;
                    Ok(spec.to_owned())
                })
                .collect::<Result<Vec<_>, MountError>>()?;
            if let Some((_, first)) = mounts.iter().find(|(mount, _)| mount.prefix == prefix) {
                return Err(MountError::Duplicate {
                    origin: origin.to_owned(),
                    prefix,
                    first: first.clone(),
                    second: entry.to_owned(),
                });
            }
            let mount = Mount {
                prefix,
                app: app.to_owned(),
                middleware,
            };
            mounts.push((mount, entry.to_owned()));
        }
        if mounts.is_empty() {
            return Err(MountError::Empty {
                origin: origin.to_owned(),
            });
        }
        let mounts: Vec<Mount> = mounts.into_iter().map(|(mount, _)| mount).collect();
        let mut by_length: Vec<usize> = (0..mounts.len()).collect();
        by_length.sort_by_key(|&index| std::cmp::Reverse(mounts[index].prefix.len()));
        Ok(Mounts { mounts, by_length })
    }

    /// One application at `/`: the table a plain `WSGI_APP` makes.
    pub fn single(app: String) -> Self {
        Mounts {
            mounts: vec![Mount {
                prefix: "/".to_owned(),
                app,
                middleware: Vec::new(),
            }],
            by_length: vec![0],
        }
    }

    /// The place in the table of the mount at `prefix` (written as in a table: `/shop` or
    /// `/shop/`).
    pub fn index_of(&self, prefix: &str) -> Option<usize> {
        let prefix = normalize_prefix(prefix.trim()).ok()?;
        self.mounts.iter().position(|mount| mount.prefix == prefix)
    }

    /// The mounts in table order.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The mount for `path` (decoded, after the stage and the base path), or None: no prefix
    /// matches, which is a 404. `encoded_slashes`: the positions in `path` of slashes that
    /// arrived as `%2F` (none when AWS decoded the path itself, as HTTP API does).
    pub fn route(&self, path: &[u8], encoded_slashes: &[usize]) -> Option<Route> {
        self.by_length.iter().find_map(|&index| {
            let prefix = self.mounts[index].prefix.as_bytes();
            if prefix == b"/" {
                return Some(Route { index, prefix_len: 0 });
            }
            let rest = path.strip_prefix(prefix)?;
            let on_boundary = rest.is_empty() || rest.starts_with(b"/");
            // Every slash the prefix spans, and the one after it, must be a real separator.
            let literal = encoded_slashes.iter().all(|&at| at > prefix.len());
            (on_boundary && literal).then_some(Route {
                index,
                prefix_len: prefix.len(),
            })
        })
    }
}

/// `/a/b` from `/a/b` or `/a/b/`; `/` stays `/`.
fn normalize_prefix(prefix: &str) -> Result<String, &'static str> {
    if !prefix.starts_with('/') {
        return Err("has a prefix that does not start with `/`");
    }
    if prefix.contains(['%', '?', '#']) || prefix.chars().any(char::is_whitespace) {
        return Err(
            "has a prefix with `%`, `?`, `#` or a space: write it as the decoded path (`/café`, not `/caf%C3%A9`) without a query, and a path with a space under the prefix before it",
        );
    }
    let trimmed = if prefix.len() > 1 {
        prefix.trim_end_matches('/')
    } else {
        prefix
    };
    if trimmed.is_empty() {
        return Ok("/".to_owned());
    }
    if trimmed.contains("//") {
        return Err("has a prefix with an empty segment (`//`)");
    }
    if trimmed.split('/').any(|segment| segment == "." || segment == "..") {
        return Err("has a prefix with a `.` or `..` segment");
    }
    Ok(trimmed.to_owned())
}

/// `module:attr` with dotted Python names on both sides.
pub(crate) fn check_spec(spec: &str) -> Result<(), String> {
    let (module, attr) = spec
        .split_once(':')
        .ok_or_else(|| format!("{spec:?} has no `:` (module:attr)"))?;
    let dotted = |text: &str| {
        !text.is_empty()
            && text.split('.').all(|name| {
                let mut chars = name.chars();
                chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                    && chars.all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    if dotted(module) && dotted(attr) {
        Ok(())
    } else {
        Err(format!("{spec:?} is not module:attr with Python names"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Mounts {
        Mounts::parse(text, "WSGI_MOUNTS").expect("table parses")
    }

    fn routed(mounts: &Mounts, path: &str) -> Option<(String, usize)> {
        mounts
            .route(path.as_bytes(), &[])
            .map(|route| (mounts.mounts()[route.index].app.clone(), route.prefix_len))
    }

    #[test]
    fn entries_by_line_or_semicolon_with_comments_in_table_order() {
        let mounts = table("# the site\n/ = site.wsgi:application\n/api=api:app ; /legacy/ = old:app # old one\n\n");
        let prefixes: Vec<_> = mounts
            .mounts()
            .iter()
            .map(|m| (m.prefix.as_str(), m.app.as_str()))
            .collect();
        assert_eq!(
            prefixes,
            [
                ("/", "site.wsgi:application"),
                ("/api", "api:app"),
                ("/legacy", "old:app")
            ]
        );
    }

    #[test]
    fn a_comment_runs_to_the_end_of_its_line_semicolons_included() {
        let mounts = table("# old: /a = a:app; /b = b:app\n/x = x:app # old; replaced\n/y = y:app");
        let prefixes: Vec<_> = mounts.mounts().iter().map(|m| m.prefix.as_str()).collect();
        assert_eq!(prefixes, ["/x", "/y"]);
    }

    #[test]
    fn middleware_follow_the_app_in_order() {
        let mounts = table("/api = api:app + werkzeug.middleware.proxy_fix:ProxyFix + whitenoise:WhiteNoise");
        assert_eq!(
            mounts.mounts()[0].middleware,
            ["werkzeug.middleware.proxy_fix:ProxyFix", "whitenoise:WhiteNoise"]
        );
    }

    #[test]
    fn the_longest_prefix_on_a_segment_boundary_wins() {
        let mounts = table("/ = site:app; /api = api:app; /api/v2 = v2:app");
        assert_eq!(routed(&mounts, "/api/v2/users"), Some(("v2:app".into(), 7)));
        assert_eq!(routed(&mounts, "/api/v2"), Some(("v2:app".into(), 7)));
        assert_eq!(routed(&mounts, "/api/v20"), Some(("api:app".into(), 4)));
        assert_eq!(routed(&mounts, "/api"), Some(("api:app".into(), 4)));
        assert_eq!(routed(&mounts, "/api/"), Some(("api:app".into(), 4)));
        assert_eq!(routed(&mounts, "/apis"), Some(("site:app".into(), 0)));
        assert_eq!(routed(&mounts, "/"), Some(("site:app".into(), 0)));
        assert_eq!(routed(&mounts, ""), Some(("site:app".into(), 0)));
    }

    #[test]
    fn without_a_root_mount_an_unmatched_path_has_no_route() {
        let mounts = table("/api = api:app");
        assert_eq!(routed(&mounts, "/apis"), None);
        assert_eq!(routed(&mounts, "/"), None);
        assert_eq!(routed(&mounts, "/other/api"), None);
    }

    #[test]
    fn an_encoded_slash_never_forms_a_prefix() {
        let mounts = table("/api/v2 = v2:app; /api = api:app");
        // /api%2Fv2/x decodes to /api/v2/x with the slash at 4 from %2F: the segment is
        // `api/v2`, which neither mount is.
        assert_eq!(mounts.route(b"/api/v2/x", &[4]), None);
        assert_eq!(mounts.route(b"/api/x", &[4]), None);
        // /api/v2%2Fx: the segment after /api is `v2/x`, not `v2`: /api takes it.
        assert_eq!(mounts.route(b"/api/v2/x", &[7]).map(|r| r.prefix_len), Some(4));
        // An encoded slash past the prefix does not matter.
        assert_eq!(mounts.route(b"/api/v2/a/b", &[9]).map(|r| r.prefix_len), Some(7));
    }

    #[test]
    fn non_utf8_bytes_in_the_path_route_as_bytes() {
        let mounts = table("/api = api:app");
        assert_eq!(mounts.route(b"/api/\xff\xfe", &[]).map(|r| r.prefix_len), Some(4));
        assert_eq!(mounts.route(b"/api\xff", &[]), None);
    }

    #[test]
    fn bad_tables_name_the_variable_and_the_entry() {
        let cases = [
            ("", "WSGI_MOUNTS: no mount in the table"),
            ("# only a comment", "WSGI_MOUNTS: no mount in the table"),
            ("/api api:app", "the entry \"/api api:app\" has no `=`"),
            (
                "api = api:app",
                "the entry \"api = api:app\" has a prefix that does not start with `/`",
            ),
            ("/my%20files = a:app", "has a prefix with `%`"),
            ("/a//b = a:app", "has a prefix with an empty segment"),
            ("/a/../b = a:app", "has a prefix with a `.` or `..` segment"),
            (
                "/api = api",
                "the entry \"/api = api\" names no app: \"api\" has no `:`",
            ),
            ("/api = :app", "names no app"),
            (
                "/api = api:app + proxyfix",
                "has a middleware that is not module:callable",
            ),
            ("/api = 1api:app", "is not module:attr with Python names"),
        ];
        for (text, expected) in cases {
            let err = Mounts::parse(text, "WSGI_MOUNTS").expect_err(text).to_string();
            assert!(err.starts_with("WSGI_MOUNTS: "), "{text:?}: {err}");
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_mount_is_found_by_its_prefix_as_a_table_would_write_it() {
        let mounts = table("/ = site:app; /shop = shop:app");
        assert_eq!(mounts.index_of("/shop"), Some(1));
        assert_eq!(mounts.index_of("/shop/"), Some(1));
        assert_eq!(mounts.index_of("/"), Some(0));
        assert_eq!(mounts.index_of("/sho"), None);
        assert_eq!(mounts.index_of("shop"), None);
    }

    #[test]
    fn the_same_prefix_twice_is_refused_naming_both_entries() {
        let err = Mounts::parse("/api = a:app\n/api/ = b:app", "mounts.txt").expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "mounts.txt: /api is mounted twice (\"/api = a:app\" and \"/api/ = b:app\"): one prefix, one app"
        );
    }
}
