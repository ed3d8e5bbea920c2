#![no_main]

#[path = "../../tests/proof/readers.rs"]
mod readers;

libfuzzer_sys::fuzz_target!(|data: &[u8]| readers::scripted_script(data));
