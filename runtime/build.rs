//! Give `bootstrap` an rpath to the libpython it was built against.
//!
//! pyo3 links `-lpython3.X` but sets no rpath, so at run time the dynamic loader takes whichever
//! libpython3.X.so it finds first (seen: built with pyenv's 3.11.7, it loaded Debian's 3.11.2 and
//! that Python's sys.path). The build Python's LIBDIR comes first for local use; `/var/lang/lib`
//! is where the managed python3.x runtimes keep libpython on Lambda.
//!
//! `LAMBDA_WSGI_LAMBDA_ONLY_RPATH=1` (set by `make layer`) leaves out the build machine's LIBDIR:
//! a path that does not exist on Lambda, and that must never win over the runtime's libpython.
//!
//! Also compiles the runtime's Python helpers (src/support.py, src/support_later.py) to bytecode
//! with the build's Python, so that a cold start does not compile them (7.4 M of a trivial app's
//! 41 M instructions of init, callgrind). Each file in OUT_DIR is the Python's magic number then
//! the marshalled code object; the runtime uses it only when the magic number is its own
//! interpreter's, and compiles the source otherwise. A build whose Python cannot be run (a
//! cross-compilation without an interpreter) writes empty files: the source is compiled at start.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run by the build's Python: argv[1] the source directory, argv[2] OUT_DIR.
const PRECOMPILE: &str = r#"
import importlib.util, marshal, sys
source, out = sys.argv[1], sys.argv[2]
for name in ("support", "support_later"):
    with open(f"{source}/{name}.py", encoding="utf-8") as f:
        code = compile(f.read(), f"lambda_wsgi_{name}.py", "exec", dont_inherit=True)
    with open(f"{out}/{name}.pyc-marshal", "wb") as f:
        f.write(importlib.util.MAGIC_NUMBER + marshal.dumps(code))
"#;

fn precompile(python: Option<&str>) {
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for name in ["support", "support_later"] {
        println!("cargo:rerun-if-changed={}", source.join(format!("{name}.py")).display());
        // Empty unless the build's Python writes it below: the runtime then compiles the source.
        if let Err(err) = std::fs::write(out.join(format!("{name}.pyc-marshal")), b"") {
            println!("cargo:warning=cannot write {}: {err}", out.display());
            return;
        }
    }
    let Some(python) = python else {
        println!("cargo:warning=no runnable Python: support.py is compiled at each start");
        return;
    };
    match Command::new(python)
        .arg("-c")
        .arg(PRECOMPILE)
        .arg(&source)
        .arg(&out)
        .status()
    {
        Ok(status) if status.success() => {}
        outcome => {
            println!("cargo:warning={python} could not precompile support.py ({outcome:?}): compiled at each start")
        }
    }
}

fn main() {
    let config = pyo3_build_config::get();
    let lambda_only = std::env::var_os("LAMBDA_WSGI_LAMBDA_ONLY_RPATH").is_some_and(|v| v == "1");
    if !lambda_only && let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,/var/lang/lib");
    precompile(config.executable());
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=LAMBDA_WSGI_LAMBDA_ONLY_RPATH");
}
