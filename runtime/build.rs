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
//! 41 M instructions of init, callgrind). Each file in OUT_DIR holds one record per Python:
//! its magic number, the code's length (u32, little-endian), the marshalled code object. The
//! runtime uses the record of its own interpreter's magic number, and compiles the source when
//! there is none. `bootstrap` is built for one Python; the abi3 extension (python/) serves every
//! Python from 3.10, so `make wheel` names each one it can run in
//! `LAMBDA_WSGI_PRECOMPILE_PYTHONS` (space-separated). A build whose Python cannot be run (a
//! cross-compilation without an interpreter) writes empty files: the source is compiled at start.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run by each Python: argv[1] the source directory, argv[2] OUT_DIR; appends its record.
const PRECOMPILE: &str = r#"
import importlib.util, marshal, sys
source, out = sys.argv[1], sys.argv[2]
for name in ("support", "support_later"):
    with open(f"{source}/{name}.py", encoding="utf-8") as f:
        code = marshal.dumps(compile(f.read(), f"lambda_wsgi_{name}.py", "exec", dont_inherit=True))
    with open(f"{out}/{name}.pyc-marshal", "ab") as f:
        f.write(importlib.util.MAGIC_NUMBER + len(code).to_bytes(4, "little") + code)
"#;

fn precompile(pythons: &[String]) {
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
    if pythons.is_empty() {
        println!("cargo:warning=no runnable Python: support.py is compiled at each start");
    }
    for python in pythons {
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
}

fn main() {
    let config = pyo3_build_config::get();
    let lambda_only = std::env::var_os("LAMBDA_WSGI_LAMBDA_ONLY_RPATH").is_some_and(|v| v == "1");
    if !lambda_only && let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,/var/lang/lib");
    let pythons: Vec<String> = match std::env::var("LAMBDA_WSGI_PRECOMPILE_PYTHONS") {
        Ok(listed) => listed.split_whitespace().map(str::to_owned).collect(),
        Err(_) => config.executable().map(str::to_owned).into_iter().collect(),
    };
    precompile(&pythons);
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=LAMBDA_WSGI_PRECOMPILE_PYTHONS");
    println!("cargo:rerun-if-env-changed=LAMBDA_WSGI_LAMBDA_ONLY_RPATH");
}
