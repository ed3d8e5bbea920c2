//! Embeds the shipped `.mill` loops (`loops/`) and stage assets (`assets/`)
//! into the binary as tables of `(relative path, bytes)`, sorted by path.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut code = String::new();
    for (name, dir) in [("LOOPS", "loops"), ("ASSETS", "assets")] {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        let mut files = Vec::new();
        collect(&base, &base, &mut files);
        files.sort();
        code.push_str(&format!("pub static {name}: &[(&str, &[u8])] = &[\n"));
        for rel in files {
            let abs = base.join(&rel);
            code.push_str(&format!(
                "    ({rel:?}, include_bytes!({:?})),\n",
                abs.display().to_string()
            ));
        }
        code.push_str("];\n");
    }
    let mut file = fs::File::create(out.join("embedded.rs")).expect("OUT_DIR is writable");
    file.write_all(code.as_bytes()).expect("OUT_DIR is writable");
}

/// Every regular file under `dir`, as `/`-separated paths relative to `base`,
/// skipping hidden entries.
fn collect(base: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            collect(base, &path, files);
        } else if kind.is_file() {
            let rel = path.strip_prefix(base).expect("walked from base");
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push(parts.join("/"));
        }
    }
}
