//! libFuzzer entry for the `python_metadata` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::python_metadata(data));
