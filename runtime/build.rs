//! Give `bootstrap` an rpath to the libpython it was built against.
//!
//! pyo3 links `-lpython3.X` but sets no rpath, so at run time the dynamic loader takes whichever
//! libpython3.X.so it finds first (seen: built with pyenv's 3.11.7, it loaded Debian's 3.11.2 and
//! that Python's sys.path). The build Python's LIBDIR comes first for local use; `/var/lang/lib`
//! is where the managed python3.x runtimes keep libpython on Lambda.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,/var/lang/lib");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
