//! `state/baseline_manifest.json`: the hashes of the assets `init`
//! deployed, so later upgrades can tell operator edits from shipped changes.
//!
//! Input: the embedded asset table. Output: a manifest of `{path, sha256}`
//! entries sorted by path, identified by the sha256 of its canonical JSON.
//! Invariant: `manifest_id` always matches the content; a manifest whose id
//! does not match, or that names a path outside `millrace-agents/`, is
//! reported invalid. [`upgrade`] compares it with a newer asset table.

use serde::{Deserialize, Serialize};

use super::Workspace;
use super::fsx::{self, FsError};
use crate::plan::sha256_hex;

pub(crate) mod upgrade;

/// The manifest format version.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// One deployed asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Relative to `millrace-agents/`, `/`-separated.
    pub path: String,
    pub sha256: String,
}

/// The manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineManifest {
    pub schema_version: u32,
    pub manifest_id: String,
    /// The crate version that deployed the assets.
    pub seed_version: String,
    pub entries: Vec<ManifestEntry>,
}

/// Whether an asset path stays inside `millrace-agents/`: relative, and
/// made of plain components only (no `..`, no root, no `.`).
pub fn is_deployable(path: &str) -> bool {
    !path.is_empty()
        && std::path::Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The hashed view: everything but the id.
#[derive(Serialize)]
struct Canonical<'a> {
    schema_version: u32,
    seed_version: &'a str,
    entries: &'a [ManifestEntry],
}

/// Why the stored manifest cannot be trusted.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ManifestError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    #[error("the baseline manifest is invalid: {0}")]
    #[diagnostic(
        code(mill::baseline::invalid),
        help("delete `state/baseline_manifest.json` and run `millrace init` to write a fresh one")
    )]
    Invalid(String),
}

impl BaselineManifest {
    /// The manifest of an asset table (`(path, bytes)` pairs).
    pub fn from_assets(assets: &[(&str, &[u8])]) -> Self {
        let mut entries: Vec<ManifestEntry> = assets
            .iter()
            .filter(|(path, _)| is_deployable(path))
            .map(|(path, bytes)| ManifestEntry {
                path: (*path).to_string(),
                sha256: sha256_hex(bytes),
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut manifest = Self {
            schema_version: MANIFEST_SCHEMA_VERSION,
            manifest_id: String::new(),
            seed_version: env!("CARGO_PKG_VERSION").to_string(),
            entries,
        };
        manifest.manifest_id = manifest.compute_id();
        manifest
    }

    /// sha256 of the compact JSON of `{schema_version, seed_version, entries}`.
    pub fn compute_id(&self) -> String {
        let view = Canonical {
            schema_version: self.schema_version,
            seed_version: &self.seed_version,
            entries: &self.entries,
        };
        sha256_hex(&serde_json::to_vec(&view).unwrap_or_default())
    }

    /// Reads the workspace's manifest; `Ok(None)` if missing.
    pub fn load(ws: &Workspace) -> Result<Option<Self>, ManifestError> {
        let Some(text) = fsx::read_optional(&ws.paths().baseline_manifest())? else {
            return Ok(None);
        };
        let manifest: Self =
            serde_json::from_str(&text).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if manifest.schema_version != MANIFEST_SCHEMA_VERSION {
            return Err(ManifestError::Invalid(format!(
                "schema version {}",
                manifest.schema_version
            )));
        }
        if manifest.compute_id() != manifest.manifest_id {
            return Err(ManifestError::Invalid(
                "`manifest_id` does not match the entries".into(),
            ));
        }
        let sorted = manifest.entries.windows(2).all(|w| w[0].path < w[1].path);
        if !sorted {
            return Err(ManifestError::Invalid(
                "entries are not sorted by unique path".into(),
            ));
        }
        if let Some(entry) = manifest.entries.iter().find(|e| !is_deployable(&e.path)) {
            return Err(ManifestError::Invalid(format!(
                "entry `{}` is not a path inside millrace-agents/",
                entry.path
            )));
        }
        Ok(Some(manifest))
    }

    /// The JSON written to disk.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
