//! Inputs that once broke a reader (found by fuzzing or by hand), kept as
//! files under `regressions/<reader>/` and replayed through the same
//! checks the fuzz targets run (`readers.rs`).

use std::path::Path;

use super::readers::READERS;

#[test]
fn every_regression_input_passes_its_reader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proof/regressions");
    let mut replayed = 0;
    for (name, reader) in READERS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| reader(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", path.display());
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} regression inputs");
}
