#![no_main]

#[path = "../../tests/authoring/fuzzing.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::mill_fmt(data));
