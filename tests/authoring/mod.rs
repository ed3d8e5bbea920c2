//! Loop authors' tools: `millrace fmt` and the language server.

mod editors;
mod fmt_cli;
mod fmt_golden;
mod fmt_prop;
mod fmt_repo;
mod fuzz_props;
mod lsp_client;
mod lsp_parity;
mod lsp_protocol;
mod nvim_e2e;

use std::path::{Path, PathBuf};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Formats text in memory, panicking with the rendered diagnostics on refusal.
pub(crate) fn format(name: &str, text: &str) -> String {
    match millrace::fmt::format_text(name, text) {
        Ok(out) => out,
        Err(refused) => panic!(
            "{name} was refused:\n{}",
            millrace::diag::render_human(
                refused.diags.iter(),
                &refused.sources,
                millrace::diag::RenderOptions::plain()
            )
        ),
    }
}

/// Every `.mill` file under `dir`, sorted, skipping hidden entries and `target`.
pub(crate) fn mill_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            mill_files(&path, out);
        } else if name.ends_with(".mill") {
            out.push(path);
        }
    }
}
