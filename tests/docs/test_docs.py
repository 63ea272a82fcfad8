"""Checked docs: the guide (docs/src) and the README against the code, and each check shown to
fail on a broken page or a made-up source (tmp_path). The checks are in docs_checks.py."""

import subprocess
from pathlib import Path

import pytest

import docs_checks as checks

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "docs" / "src"
README = ROOT / "README.md"
PAGES = sorted(BOOK.rglob("*.md"))
CONFIGURATION = BOOK / "configuration.md"
ERRORS = BOOK / "errors.md"


def test_the_guide_has_its_pages():
    names = {page.relative_to(BOOK).as_posix() for page in PAGES}
    for page in ("introduction.md", "getting-started.md", "configuration.md", "errors.md", "local.md",
                 "performance.md", "architecture.md", "deploy/pip.md", "deploy/layer.md",
                 "deploy/provided-al2023.md", "migrate/apig-wsgi.md", "migrate/serverless-wsgi.md",
                 "migrate/zappa.md", "migrate/mangum.md", "migrate/web-adapter.md"):
        assert page in names


# --- on the real guide ----------------------------------------------------------------------

def test_every_internal_link_of_the_guide_and_the_readme_arrives():
    assert checks.check_links([*PAGES, README], BOOK) == []


def test_the_readme_lists_every_chapter_of_the_guide():
    assert checks.check_readme_contents(README, BOOK) == []


def test_every_repository_path_the_pages_name_exists():
    assert checks.check_repo_paths([*PAGES, README], ROOT) == []


def test_every_make_target_the_pages_name_exists():
    makefiles = [ROOT / "Makefile", ROOT / "docs" / "docs.mk"]
    assert {"run", "test", "docs", "test-docs"} <= checks.make_targets(makefiles)
    assert checks.check_make_targets([*PAGES, README], makefiles) == []


def test_the_measured_figures_of_the_readme_and_the_performance_page_are_bench_results():
    results = ROOT / "bench" / "RESULTS.md"
    for page in (README, BOOK / "performance.md"):
        assert checks.FIGURE.search(page.read_text()), f"{page} shows no measured figure"
        assert checks.check_figures(page, results) == []


def test_every_page_is_in_the_summary():
    assert checks.check_summary(BOOK) == []


def test_the_configuration_reference_lists_exactly_what_the_runtime_reads():
    reads = checks.runtime_env_reads(ROOT)
    # The derivation sees the settings, Lambda's variables and the wrappers' reads.
    assert {"WSGI_APP", "WSGI_BASE_PATH", "AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID", "PYTHONPATH"} <= set(reads)
    assert checks.check_env(CONFIGURATION, reads, "runtime") == []


def test_the_build_variables_are_listed_exactly():
    reads = checks.build_env_reads(ROOT)
    assert "PYO3_PYTHON" in reads
    assert checks.check_env(CONFIGURATION, reads, "build") == []


def test_every_error_type_the_runtime_reports_is_on_the_errors_page():
    reported = checks.reported_error_types(ROOT)
    assert {"Runtime.ImportModuleError", "UnsupportedEvent", "WSGIProtocolError", "Runtime.WorkerDied"} <= set(reported)
    assert checks.check_errors(ERRORS, reported) == []


def test_every_snippet_parses():
    pages = [*PAGES, README]
    assert checks.snippet_count(pages, ("json",)) >= 3
    assert checks.snippet_count(pages, ("sh", "bash")) >= 5
    assert checks.check_snippets(pages) == []


def test_the_book_builds_with_the_pinned_mdbook(tmp_path):
    mdbook = ROOT / "target" / "tools" / "bin" / "mdbook"
    if not mdbook.exists():
        pytest.skip("no target/tools/bin/mdbook: `make docs` installs it")
    done = subprocess.run([str(mdbook), "build", str(ROOT / "docs"), "--dest-dir", str(tmp_path / "book")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "book" / "migrate" / "zappa.html").exists()
    assert "ERROR" not in done.stderr and "WARN" not in done.stderr, done.stderr


# --- each check can fail --------------------------------------------------------------------

def book(tmp_path, pages):
    src = tmp_path / "src"
    for name, text in pages.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


def test_a_link_to_a_missing_page_fails(tmp_path):
    src = book(tmp_path, {"a.md": "# A\n\nSee [b](b.md) and [c](gone.md).\n", "b.md": "# B\n"})
    problems = checks.check_links([src / "a.md"], src)
    assert len(problems) == 1 and "gone.md" in problems[0] and ":3:" in problems[0]


def test_a_link_to_a_missing_anchor_fails_and_mdbook_ids_are_matched(tmp_path):
    src = book(tmp_path, {
        "a.md": "# A\n\n[ok](b.md#background-events-and-manage) [ok](b.md#limits-1) [ok](#a)\n"
                "[bad](b.md#limits-2) [bad](#nowhere)\n",
        "b.md": "# B\n\n## Background events and `manage`\n\n## Limits\n\n## Limits\n\n"
                "```sh\n# not a heading\n```\n",
    })
    problems = checks.check_links([src / "a.md"], src)
    assert [p.split("]")[0].rsplit("[", 1)[1] for p in problems] == ["b.md#limits-2", "#nowhere"]


def test_links_in_code_are_not_links_and_external_ones_are_not_followed(tmp_path):
    src = book(tmp_path, {"a.md": "# A\n\n`[x](gone.md)` [w](https://example.com/gone.md)\n\n```md\n[x](gone.md)\n```\n"})
    assert checks.check_links([src / "a.md"], src) == []


def test_a_link_out_of_the_book_fails_but_the_readme_may_link_in(tmp_path):
    src = book(tmp_path, {"a.md": "# A\n\n[readme](../README.md)\n"})
    (tmp_path / "README.md").write_text("# R\n\n[guide](src/a.md#a) [broken](src/b.md)\n")
    problems = checks.check_links([src / "a.md", tmp_path / "README.md"], src)
    assert len(problems) == 2
    assert "leaves the book" in problems[0] and "src/b.md" in problems[1]


def test_a_page_missing_from_the_summary_fails(tmp_path):
    src = book(tmp_path, {"SUMMARY.md": "# Summary\n\n- [A](a.md)\n", "a.md": "# A\n", "sub/b.md": "# B\n"})
    assert checks.check_summary(src) == [f"{src / 'sub' / 'b.md'} is not in SUMMARY.md"]


def fake_runtime(tmp_path):
    """A made-up source tree with one variable read each way the derivation knows."""
    files = {
        "runtime/src/config.rs": 'pub const WSGI_APP: &str = "WSGI_APP";\npub const LIMIT: usize = 3;\n',
        "runtime/src/other.rs": 'fn f() { std::env::var("FROM_RUST").ok(); }\n',
        "python/src/lib.rs": 'let t = std::env::var_os("FROM_EXTENSION");\n',
        "remote-config/src/main.rs": 'const SSM: &str = "FROM_HELPER";\nconst TEXT: &str = "not a name";\n',
        "runtime/src/support.py": 'import os\na = os.environ.get("FROM_PY_GET")\nb = os.environ["FROM_PY_ITEM"]\n'
                                  'os.environ["ONLY_WRITTEN"] = "x"\nif "FROM_PY_IN" in os.environ: pass\n',
        "python/lambda_wsgi/exec-wrapper": '#!/bin/sh\n# $NOT_READ_IN_A_COMMENT\nlocal_var=1\n'
                                           'PYTHONPATH="$local_var${PYTHONPATH:+:$PYTHONPATH}" exec x\n',
        "layer/lambda-wsgi": '#!/bin/sh\n: "${FROM_LAYER:=default}"\n',
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_reads_are_derived_from_the_source(tmp_path):
    reads = checks.runtime_env_reads(fake_runtime(tmp_path))
    assert set(reads) == {"WSGI_APP", "FROM_RUST", "FROM_EXTENSION", "FROM_HELPER", "FROM_PY_GET",
                          "FROM_PY_ITEM", "FROM_PY_IN", "PYTHONPATH", "FROM_LAYER"}


def reference(tmp_path, rows, kind="runtime"):
    page = tmp_path / "configuration.md"
    table = "\n".join(f"| {row} | x |" for row in rows)
    page.write_text(f"# C\n\n<!-- checked-env: {kind} -->\n| Variable | Meaning |\n|---|---|\n{table}\n\n"
                    "| `UNCHECKED_TABLE` | x |\n")
    return page


def test_a_variable_read_but_not_listed_fails(tmp_path):
    page = reference(tmp_path, ["`WSGI_APP`"])
    problems = checks.check_env(page, {"WSGI_APP": "a", "WSGI_NEW": "runtime/src/config.rs"}, "runtime")
    assert problems == [f"WSGI_NEW is read (runtime/src/config.rs) but not in the runtime tables of {page}"]


def test_a_variable_listed_but_not_read_fails(tmp_path):
    page = reference(tmp_path, ["`WSGI_APP`", "`WSGI_GONE`, `WSGI_ALSO_GONE`"])
    problems = checks.check_env(page, {"WSGI_APP": "a"}, "runtime")
    assert [p.split(": ", 1)[1] for p in problems] == ["WSGI_ALSO_GONE is listed but nothing reads it",
                                                       "WSGI_GONE is listed but nothing reads it"]


def test_a_reference_without_a_marked_table_fails(tmp_path):
    page = reference(tmp_path, ["`WSGI_APP`"], kind="build")
    assert any("no table marked" in p for p in checks.check_env(page, {"WSGI_APP": "a"}, "runtime"))


def test_an_error_type_missing_from_the_page_fails_and_a_stale_one_too(tmp_path):
    page = tmp_path / "errors.md"
    page.write_text("# E\n\n`Runtime.ImportModuleError` and `Runtime.Gone`\n")
    problems = checks.check_errors(page, {"Runtime.ImportModuleError": "a", "Runtime.New": "b.rs"})
    assert problems == [f"Runtime.New (b.rs) is not on {page}", f"{page}: Runtime.Gone is named but nothing reports it"]


def test_the_error_types_are_derived_from_the_source(tmp_path):
    (tmp_path / "runtime" / "src").mkdir(parents=True)
    (tmp_path / "runtime" / "src" / "error.rs").write_text(
        'impl E {\n    pub fn error_type(&self) -> &str {\n        match self {\n'
        '            Self::A => "AnError",\n            Self::B => "Other".to_owned(),\n        }\n    }\n}\n')
    (tmp_path / "runtime" / "src" / "x.rs").write_text('ErrorReport::new("Runtime.Thing", m)\n')
    assert set(checks.reported_error_types(tmp_path)) == {"AnError", "Other", "Runtime.Thing"}


def test_a_figure_that_is_not_in_the_results_fails_and_rounding_is_allowed(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("| lambda-wsgi | 5,414 | 1.584x | 11.83 |\n")
    page = tmp_path / "p.md"
    page.write_text("# P\n\n5,414/s, 1.58x, 1.6x, 11.8 ms\n\n1.59x and 12.0 ms\n\n```sh\necho 9.99x\n```\n")
    assert [p.split(": ", 1)[1] for p in checks.check_figures(page, results)] == [
        "1.59x is not in RESULTS.md", "12.0 ms is not in RESULTS.md"]


def test_a_chapter_missing_from_the_readme_fails(tmp_path):
    src = book(tmp_path, {"SUMMARY.md": "# Summary\n\n[Intro](intro.md)\n- [A](a.md)\n- [B](b/c.md)\n"})
    readme = tmp_path / "README.md"
    readme.write_text("# R\n\n- [intro](src/intro.md) [a](src/a.md#x)\n")
    assert checks.check_readme_contents(readme, src) == [f"{readme} does not link to src/b/c.md"]


def test_a_missing_repository_path_fails(tmp_path):
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "here.rs").write_text("")
    page = tmp_path / "p.md"
    page.write_text("# P\n\n`runtime/here.rs`, `runtime/` and `runtime/<x>.rs`; `runtime/gone.rs`\n")
    assert [p.split(": ", 1)[1] for p in checks.check_repo_paths([page], tmp_path)] == ["runtime/gone.rs does not exist"]


def test_an_unknown_make_target_fails(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("X := 1\nrun: build ## r\n\t@true\nbootstrap-%:\n\t@true\n.PHONY: run\n")
    page = tmp_path / "p.md"
    page.write_text("# P\n\nmake sure `make run PORT=1` and `make bootstrap-3.12`, `make gone`\n\n"
                    "```sh\nPORT=1 make run\nmake FOO=1 vanished   # comment\n```\n")
    assert [p.split(": ", 1)[1] for p in checks.check_make_targets([page], [makefile])] == [
        "make gone: no such target", "make vanished: no such target"]


@pytest.mark.parametrize(("language", "code"), [
    ("json", '{"a": 1,}'),
    ("sh", "if true; then echo\n"),
    ("bash", "echo $(\n"),
    ("python", "def f(:\n"),
    ("yaml", "a: [1, 2\n"),
])
def test_a_snippet_that_does_not_parse_fails(tmp_path, language, code):
    page = tmp_path / "p.md"
    page.write_text(f"# P\n\n```{language}\n{code.rstrip()}\n```\n")
    problems = checks.check_snippets([page])
    assert len(problems) == 1 and f":3: ```{language}" in problems[0]


def test_a_snippet_marked_partial_is_skipped_and_good_ones_pass(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# P\n\n<!-- snippet: partial -->\n```json\n{\"a\": ...}\n```\n\n"
                    "```json\n{\"a\": 1}\n```\n\n```yaml\nv: !Ref Thing\nw: !If [a, b, c]\n```\n\n"
                    "- item:\n\n  ```sh\n  echo ok\n  ```\n")
    assert checks.check_snippets([page]) == []
    assert checks.snippet_count([page]) == 3
