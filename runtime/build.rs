//! Give `bootstrap` an rpath to the libpython it was built against.
//!
//! pyo3 links `-lpython3.X` but sets no rpath, so at run time the dynamic loader takes whichever
//! libpython3.X.so it finds first (seen: built with pyenv's 3.11.7, it loaded Debian's 3.11.2 and
//! that Python's sys.path). The build Python's LIBDIR comes first for local use; `/var/lang/lib`
//! is where the managed python3.x runtimes keep libpython on Lambda.
//!
//! `LAMBDA_WSGI_LAMBDA_ONLY_RPATH=1` (set by `make layer`) leaves out the build machine's LIBDIR:
//! a path that does not exist on Lambda, and that must never win over the runtime's libpython.

fn main() {
    let config = pyo3_build_config::get();
    let lambda_only = std::env::var_os("LAMBDA_WSGI_LAMBDA_ONLY_RPATH").is_some_and(|v| v == "1");
    if !lambda_only && let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,/var/lang/lib");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=LAMBDA_WSGI_LAMBDA_ONLY_RPATH");
}
