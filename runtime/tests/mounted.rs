//! The mount table against every event fixture, no Python: each fixture's reviewed golden
//! environ (`<case>.environ.json`) is the oracle. Under a table that mounts the first segment
//! of its PATH_INFO (and, with a second segment, `WSGI_BASE_PATH` set to the first and the
//! mount to the second), the environ must be that golden with the prefix moved from PATH_INFO
//! to the end of SCRIPT_NAME (after the stage and the base path) and nothing else changed, for
//! the mounted app; a table without a root mount and without that prefix is a 404.
//!
//! A fixture reaches the check when it parses and its first segment is plain ASCII (no `%`, `?`,
//! `#`, space, `.`/`..`): the goldens are bytes-as-unicode, so a non-ASCII segment would need
//! re-encoding to be written in a table (environ.rs's unit tests mount one). A first segment
//! followed by an encoded slash must stay with the root app. The counts per source are
//! printed and held to a floor, so a corpus that stops reaching the check fails.

use std::collections::BTreeMap;
use std::path::Path;

use lambda_wsgi::config::Config;
use lambda_wsgi::environ;
use lambda_wsgi::event;

fn config(pairs: &[(&str, String)]) -> Config {
    let pairs: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    Config::from_lookup(|name| pairs.get(name).cloned()).expect("BUG: a valid test table")
}

/// The first segment of `path_info` (bytes-as-unicode) when a table can name it.
fn table_segment(path_info: &str) -> Option<&str> {
    let segment = path_info.strip_prefix('/')?.split('/').next()?;
    let plain = !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'%' | b'?' | b'#' | b'/' | b'\\'));
    plain.then_some(segment)
}

#[derive(Default, Debug)]
struct Reached {
    /// Parsed as an HTTP request.
    parsed: usize,
    /// With a first segment in PATH_INFO (the others are `/`: checked under the root mount).
    segmented: usize,
    /// Checked with that segment mounted.
    mounted: usize,
    /// ... and with a second segment, under a base path too.
    with_base_path: usize,
    /// Whose slash after the first segment arrived as %2F: checked to stay with the root app.
    encoded_slash: usize,
}

#[test]
fn every_fixture_under_a_mount_is_its_golden_with_the_prefix_moved() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut reached: BTreeMap<String, Reached> = BTreeMap::new();
    let mut failures = Vec::new();
    for source_dir in std::fs::read_dir(&root).expect("fixtures").flatten() {
        let source = source_dir.file_name().to_string_lossy().into_owned();
        if !source_dir.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(source_dir.path()).expect("a source folder").flatten() {
            let path = file.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".json") || name.matches('.').count() != 1 {
                continue;
            }
            let event = std::fs::read_to_string(&path).expect("an event");
            let Ok((_, request)) = event::parse(&event) else {
                continue;
            };
            let golden_path = path.with_extension("environ.json");
            let golden: BTreeMap<String, String> =
                serde_json::from_str(&std::fs::read_to_string(&golden_path).expect("its golden environ"))
                    .expect("JSON");
            let counts = reached.entry(source.clone()).or_default();
            counts.parsed += 1;
            let (script_name, path_info) = (&golden["SCRIPT_NAME"], &golden["PATH_INFO"]);
            if path_info.len() > 1 {
                counts.segmented += 1;
            }
            let Some(first) = table_segment(path_info) else {
                // Under a root mount beside another, the environ is the golden itself.
                let table = config(&[("WSGI_MOUNTS", "/ = echo:app; /zz-other = other:app".to_owned())]);
                match environ::build(&request, &table) {
                    Ok(environ) if environ.mount == 0 && environ.to_golden() == golden => {}
                    other => failures.push(format!("{source}/{name} under the root mount: {other:?}")),
                }
                continue;
            };
            let rest = &path_info[1 + first.len()..];
            let lowered = event.to_ascii_lowercase();
            if lowered.contains(&format!("/{}%2f", first.to_ascii_lowercase())) {
                // `/first%2F...`: one segment, not the mount's; the root app takes it as it is.
                counts.encoded_slash += 1;
                let table = config(&[("WSGI_MOUNTS", format!("/ = echo:app; /{first} = mounted:app"))]);
                match environ::build(&request, &table) {
                    Ok(environ) if environ.mount == 0 && environ.to_golden() == golden => {}
                    other => failures.push(format!("{source}/{name} with an encoded slash: {other:?}")),
                }
                continue;
            }
            // The first segment mounted, beside a root app and a prefix that only looks alike.
            let mut cases = vec![(
                vec![(
                    "WSGI_MOUNTS",
                    format!("/ = echo:app; /{first} = mounted:app; /{first}-not = other:app"),
                )],
                format!("{script_name}/{first}"),
                rest.to_owned(),
            )];
            // The first segment as the base path, the second as the mount.
            if let Some(second) =
                table_segment(rest).filter(|second| !lowered.contains(&format!("/{}%2f", second.to_ascii_lowercase())))
            {
                cases.push((
                    vec![
                        ("WSGI_BASE_PATH", format!("/{first}")),
                        (
                            "WSGI_MOUNTS",
                            format!("/ = echo:app; /{second} = mounted:app; /{first} = other:app"),
                        ),
                    ],
                    format!("{script_name}/{first}/{second}"),
                    rest[1 + second.len()..].to_owned(),
                ));
                counts.with_base_path += 1;
            }
            counts.mounted += 1;
            for (settings, expected_script_name, expected_path_info) in cases {
                let config = config(&settings);
                let label = format!("{source}/{name} under {settings:?}");
                let environ = match environ::build(&request, &config) {
                    Ok(environ) => environ,
                    Err(unmounted) => {
                        failures.push(format!("{label}: no mount for {:?}", unmounted.path));
                        continue;
                    }
                };
                let mut expected = golden.clone();
                expected.insert("SCRIPT_NAME".into(), expected_script_name);
                expected.insert("PATH_INFO".into(), expected_path_info);
                if config.apps.mounts()[environ.mount].app != "mounted:app" {
                    failures.push(format!("{label}: went to {}", config.apps.mounts()[environ.mount].app));
                } else if environ.to_golden() != expected {
                    failures.push(format!(
                        "{label}:\n  expected {expected:?}\n  actual   {:?}",
                        environ.to_golden()
                    ));
                }
            }
            // Without a root mount, a table that does not have the prefix answers 404.
            let elsewhere = config(&[("WSGI_MOUNTS", format!("/{first}-elsewhere = mounted:app"))]);
            if environ::build(&request, &elsewhere).is_ok() {
                failures.push(format!("{source}/{name}: routed without a matching mount"));
            }
        }
    }
    eprintln!("fixtures reaching the mount check, per source: {reached:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (source, counts) in &reached {
        // Of the events whose path has a segment, at least four in five reach the mount check
        // (the rest start with a segment a table cannot name: non-ASCII, a space).
        assert!(
            counts.mounted * 5 >= counts.segmented * 4 && counts.mounted > 0,
            "{source}: only {} of {} fixtures with a path segment reached the mount check ({counts:?})",
            counts.mounted,
            counts.segmented
        );
    }
    let with_base: usize = reached.values().map(|c| c.with_base_path).sum();
    // 8 today (most captures have one segment after the stage).
    assert!(with_base >= 5, "only {with_base} fixtures have two plain segments");
}
