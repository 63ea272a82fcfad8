"""The checks behind `make test-docs`, as functions of a repository root (or of pages), so that
test_docs.py runs them on the real guide and, to prove each can fail, on broken pages and
made-up sources in a temporary directory.

- links: every Markdown link between the guide's pages (and from the README into docs/)
  reaches a file that exists and, with `#anchor`, a heading of that page (mdBook's ids);
- the configuration reference: the variables the runtime reads, found in its source, against
  the names in the tables marked `<!-- checked-env: runtime -->` (and `build` for build.rs);
- errors: every errorType the runtime or the emulator can report is named on the errors page;
- snippets: ```json blocks load, ```sh/```bash blocks pass `bash -n`, ```python blocks compile,
  ```yaml blocks load (CloudFormation's `!Ref`-style tags allowed); a block right after
  `<!-- snippet: partial -->` is skipped (an excerpt that is not meant to stand alone).
"""

import json
import re
import subprocess
from pathlib import Path

import yaml

OPT_OUT = "<!-- snippet: partial -->"
ENV_MARKER = re.compile(r"<!--\s*checked-env:\s*([a-z]+)\s*-->")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([A-Za-z0-9_+-]*)")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


# --- Markdown structure ---------------------------------------------------------------------

def prose_lines(text, keep_code_spans=False):
    """(line number, line) outside fenced code blocks, with inline code spans blanked (or kept)."""
    inside = None
    for number, line in enumerate(text.split("\n"), 1):
        fence = FENCE.match(line)
        if inside is None and fence:
            inside = fence.group(2)[0] * 3
            continue
        if inside is not None:
            if line.strip().startswith(inside):
                inside = None
            continue
        yield number, line if keep_code_spans else re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), line)


def code_blocks(text):
    """(language, the opening fence's line number, code, opted out) for each fenced block."""
    lines = text.split("\n")
    blocks, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        indent, marker, language = fence.groups()
        previous = next((l.strip() for l in reversed(lines[:index]) if l.strip()), "")
        start, index = index + 1, index + 1
        body = []
        while index < len(lines) and not lines[index].strip().startswith(marker[0] * 3):
            line = lines[index]
            body.append(line[len(indent):] if line.startswith(indent) else line)
            index += 1
        blocks.append((language.lower(), start, "\n".join(body) + "\n", previous == OPT_OUT))
        index += 1
    return blocks


def heading_ids(text):
    """The ids mdBook gives the page's headings (normalize_id, with -1, -2 for repeats)."""
    ids, seen = set(), {}
    for _, line in prose_lines(text, keep_code_spans=True):
        match = HEADING.match(line)
        if not match:
            continue
        title = match.group(2).replace("`", "")
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link's text
        title = re.sub(r"[*_]{1,2}([^*_]+)[*_]{1,2}", r"\1", title)
        base = "".join(c.lower() if (c.isalnum() or c in "_-") else "-" if c.isspace() else "" for c in title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        ids.add(base if count == 0 else f"{base}-{count}")
    return ids


# --- links ----------------------------------------------------------------------------------

def check_links(pages, book_src):
    """Problems with the internal links of `pages`, as strings naming page, line and target.
    Links from a page under `book_src` must stay inside it (the book serves nothing else)."""
    problems = []
    book_src = Path(book_src).resolve()
    for page in pages:
        page = Path(page).resolve()
        for number, line in prose_lines(page.read_text()):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                    continue
                where = f"{page}:{number}: [{target}]"
                path_part, _, anchor = target.partition("#")
                resolved = (page.parent / path_part).resolve() if path_part else page
                if not resolved.exists():
                    problems.append(f"{where}: {resolved} does not exist")
                    continue
                if page.is_relative_to(book_src) and not resolved.is_relative_to(book_src):
                    problems.append(f"{where}: leaves the book ({book_src}); mdBook cannot serve it")
                    continue
                if anchor:
                    if resolved.suffix != ".md" or resolved.is_dir():
                        problems.append(f"{where}: an anchor into something that is not a page")
                    elif anchor not in heading_ids(resolved.read_text()):
                        problems.append(f"{where}: no heading #{anchor} in {resolved.name}")
    return problems


def check_summary(book_src):
    """Pages under `book_src` that SUMMARY.md does not list (mdBook would not build them)."""
    book_src = Path(book_src)
    listed = {(book_src / target).resolve() for target in LINK.findall((book_src / "SUMMARY.md").read_text())}
    return [f"{page} is not in SUMMARY.md" for page in sorted(book_src.rglob("*.md"))
            if page.name != "SUMMARY.md" and page.resolve() not in listed]


# --- the configuration reference ------------------------------------------------------------

RUST_ENV_CALL = re.compile(r"env::var(?:_os)?\(\s*\"([A-Za-z_][A-Za-z0-9_]*)\"")
RUST_STR_CONST = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?const\s+[A-Z_][A-Z0-9_]*\s*:\s*&str\s*=\s*\"([^\"]+)\"\s*;", re.M)
PY_ENV_READ = re.compile(
    r"os\.environ\.get\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']"
    r"|os\.getenv\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']"
    r"|os\.environ\[\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']\s*\](?!\s*=[^=])"
    r"|[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']\s+in\s+os\.environ")
SHELL_READ = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)")


def _files(root, folder, pattern):
    base = Path(root) / folder
    return sorted(base.rglob(pattern)) if base.is_dir() else []


def runtime_env_reads(root):
    """{name: where it is read} for every environment variable the runtime reads at run time:
    the settings' names in runtime/src/config.rs (read through the injected lookup), every
    `env::var("...")` in the runtime, the extension and the remote-config helper, the helper's
    named settings, `os.environ` reads in the runtime's and the package's Python, and the
    `$NAME`s of the exec wrappers (the package's and the layer's)."""
    root = Path(root)
    reads = {}

    def add(name, where):
        if ENV_NAME.match(name):
            reads.setdefault(name, str(where.relative_to(root)))

    config = root / "runtime" / "src" / "config.rs"
    for name in RUST_STR_CONST.findall(config.read_text()):
        add(name, config)
    for folder in ("runtime/src", "python/src", "remote-config/src"):
        for path in _files(root, folder, "*.rs"):
            for name in RUST_ENV_CALL.findall(path.read_text()):
                add(name, path)
    for path in _files(root, "remote-config/src", "*.rs"):
        for name in RUST_STR_CONST.findall(path.read_text()):
            add(name, path)
    for folder in ("runtime/src", "python/lambda_wsgi"):
        for path in _files(root, folder, "*.py"):
            for groups in PY_ENV_READ.findall(path.read_text()):
                add(next(g for g in groups if g), path)
    for path in (root / "python" / "lambda_wsgi" / "exec-wrapper", root / "layer" / "lambda-wsgi"):
        if path.exists():
            for _, line in _shell_code_lines(path.read_text()):
                for name in SHELL_READ.findall(line):
                    add(name, path)
    return reads


def _shell_code_lines(text):
    for number, line in enumerate(text.split("\n"), 1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#!") else ""
        if code.strip():
            yield number, code


def build_env_reads(root):
    """{name: where} for what runtime/build.rs reads: `env::var`/`var_os` and rerun-if-env-changed."""
    root = Path(root)
    build = root / "runtime" / "build.rs"
    text = build.read_text()
    names = set(RUST_ENV_CALL.findall(text)) | set(re.findall(r"rerun-if-env-changed=([A-Z_][A-Z0-9_]*)", text))
    return {name: str(build.relative_to(root)) for name in names}


def documented_env(page, kind):
    """The variable names in the first column of the tables marked `<!-- checked-env: kind -->`."""
    names, active, in_table = {}, False, False
    for number, line in enumerate(Path(page).read_text().split("\n"), 1):
        marker = ENV_MARKER.search(line)
        if marker:
            active, in_table = marker.group(1) == kind, False
            continue
        if active and line.startswith("|"):
            in_table = True
            first = line.split("|")[1]
            if re.fullmatch(r"\s*-+\s*", first):
                continue
            for name in re.findall(r"`([^`]+)`", first):
                names.setdefault(name, number)
        elif in_table:
            active = in_table = False
    return names


def check_env(page, reads, kind):
    """Problems: names read that the page's `kind` tables do not list, and names listed that
    nothing reads."""
    listed = documented_env(page, kind)
    problems = [f"{name} is read ({where}) but not in the {kind} tables of {page}"
                for name, where in sorted(reads.items()) if name not in listed]
    problems += [f"{page}:{line}: {name} is listed but nothing reads it"
                 for name, line in sorted(listed.items()) if name not in reads]
    if not listed:
        problems.append(f"{page} has no table marked <!-- checked-env: {kind} -->")
    return problems


# --- errors ---------------------------------------------------------------------------------

RUNTIME_ERROR_TYPE = re.compile(r"\"(Runtime\.[A-Za-z]+)\"")
ARM_ERROR_TYPE = re.compile(r"=>\s*\"([A-Z][A-Za-z]+)\"(?:\.to_owned\(\))?")


def reported_error_types(root):
    """{errorType: where}: every `"Runtime.X"` string in the runtime, the extension and the
    emulator, and the names that error.rs's `error_type` functions return."""
    root = Path(root)
    found = {}
    for folder in ("runtime/src", "python/src", "emulator/src"):
        for path in _files(root, folder, "*.rs"):
            for name in RUNTIME_ERROR_TYPE.findall(path.read_text()):
                found.setdefault(name, str(path.relative_to(root)))
    error_rs = root / "runtime" / "src" / "error.rs"
    for body in re.findall(r"fn error_type\(&self\)[^{]*\{(.*?)\n    \}", error_rs.read_text(), re.S):
        for name in ARM_ERROR_TYPE.findall(body):
            found.setdefault(name, str(error_rs.relative_to(root)))
    return found


def check_errors(page, reported):
    """errorTypes the runtime reports that the page does not name in backticks, and
    `Runtime.X` names on the page that nothing reports."""
    text = Path(page).read_text()
    named = set(re.findall(r"`([A-Za-z.]+)`", text))
    problems = [f"{name} ({where}) is not on {page}" for name, where in sorted(reported.items())
                if name not in named]
    problems += [f"{page}: {name} is named but nothing reports it"
                 for name in sorted(n for n in named if n.startswith("Runtime.")) if name not in reported]
    return problems


# --- snippets -------------------------------------------------------------------------------

class _TolerantLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref`, `!Sub`, `!If`...) read as plain values."""


_TolerantLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)))


def snippet_problem(language, code):
    """Why `code` does not parse as `language`, or None (also for languages not checked)."""
    if language == "json":
        try:
            json.loads(code)
        except ValueError as err:
            return f"not JSON: {err}"
    elif language in ("sh", "bash", "shell"):
        done = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            return f"bash -n: {done.stderr.strip()}"
    elif language in ("python", "py"):
        try:
            compile(code, "<snippet>", "exec")
        except SyntaxError as err:
            return f"not Python: {err}"
    elif language in ("yaml", "yml"):
        try:
            yaml.load(code, Loader=_TolerantLoader)  # noqa: S506 (a SafeLoader subclass)
        except yaml.YAMLError as err:
            return f"not YAML: {err}"
    return None


def check_snippets(pages):
    """Problems with the fenced snippets of `pages` (each opted-out one skipped)."""
    problems = []
    for page in pages:
        for language, line, code, opted_out in code_blocks(Path(page).read_text()):
            if opted_out:
                continue
            problem = snippet_problem(language, code)
            if problem:
                problems.append(f"{page}:{line}: ```{language} {problem}")
    return problems


def snippet_count(pages, languages=("json", "sh", "bash", "shell", "python", "py", "yaml", "yml")):
    """How many snippets in `pages` are checked (to show the check saw them)."""
    return sum(1 for page in pages for language, _, _, opted_out in code_blocks(Path(page).read_text())
               if language in languages and not opted_out)


# --- measured figures -----------------------------------------------------------------------

FIGURE = re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?)\s?(?:x|ms|us|MB|/s)(?![A-Za-z])")
NUMBER = re.compile(r"(?<![\d.])\d[\d,]*(?:\.\d+)?")


def check_figures(page, results):
    """Measured figures on `page` (`1.58x`, `11.8 ms`, `7.2 us`, `33.2 MB`, `5,414/s`) that
    `results` (bench/RESULTS.md) does not have, at the page's precision: a page may round, not
    invent. Code blocks are left out."""
    measured = [float(n.replace(",", "")) for n in NUMBER.findall(Path(results).read_text())]
    problems = []
    for number, line in prose_lines(Path(page).read_text(), keep_code_spans=True):
        for match in FIGURE.finditer(line):
            figure = match.group(1)
            places = len(figure.split(".")[1]) if "." in figure else 0
            value = float(figure.replace(",", ""))
            if not any(abs(round(m, places) - value) < 1e-9 for m in measured):
                problems.append(f"{page}:{number}: {match.group(0)} is not in {Path(results).name}")
    return problems


def summary_pages(book_src):
    """The pages SUMMARY.md lists, in order, relative to `book_src`."""
    return [target for target in LINK.findall((Path(book_src) / "SUMMARY.md").read_text())]


def check_readme_contents(readme, book_src):
    """Chapters of the guide the README's table of contents does not link to."""
    rel = Path(book_src).resolve().relative_to(Path(readme).resolve().parent).as_posix()
    linked = {t.split("#")[0] for _, line in prose_lines(Path(readme).read_text()) for t in LINK.findall(line)}
    return [f"{readme} does not link to {rel}/{page}" for page in summary_pages(book_src)
            if f"{rel}/{page}" not in linked]


# --- what the pages name in the repository --------------------------------------------------

REPO_PATH = re.compile(r"`((?:runtime|python|emulator|layer|sam-templates|cdk|bench|tests|examples|remote-config|docs)/[^`\s]*)`")
CODE_SPAN = re.compile(r"`([^`]+)`")


def check_repo_paths(pages, root):
    """Repository paths the pages name in code spans (`sam-templates/pip/http-api.yaml`) that do
    not exist; a path with a placeholder (`<source>`, `*`) is not checked."""
    problems = []
    for page in pages:
        for number, line in prose_lines(Path(page).read_text(), keep_code_spans=True):
            for path in REPO_PATH.findall(line):
                if not any(c in path for c in "<>*") and not (Path(root) / path.rstrip("/")).exists():
                    problems.append(f"{page}:{number}: {path} does not exist")
    return problems


def make_targets(makefiles):
    """The targets the makefiles define (pattern rules keep their `%`)."""
    text = "\n".join(Path(m).read_text() for m in makefiles)
    return set(re.findall(r"^([A-Za-z0-9_.%/$()-]+)\s*:(?![=:])", text, re.M))


def check_make_targets(pages, makefiles):
    """`make TARGET` in a code span or a shell snippet, for a TARGET no makefile defines."""
    targets = make_targets(makefiles)

    def known(name):
        return name in targets or any(t.endswith("%") and name.startswith(t[:-1]) for t in targets)

    problems = []
    for page in pages:
        text = Path(page).read_text()
        commands = [(n, span) for n, line in prose_lines(text, keep_code_spans=True) for span in CODE_SPAN.findall(line)]
        for language, start, code, _ in code_blocks(text):
            if language in ("sh", "bash", "shell"):
                commands += [(start + i + 1, line) for i, line in enumerate(code.split("\n"))]
        for number, command in commands:
            match = re.match(r"\s*(?:[A-Z_]+=\S+\s+)*make\s+((?:[A-Z_]+=\S*\s+)*)([a-z][a-z0-9.-]*)", command)
            if match and not known(match.group(2)):
                problems.append(f"{page}:{number}: make {match.group(2)}: no such target")
    return problems
