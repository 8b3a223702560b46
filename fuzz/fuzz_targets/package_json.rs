//! libFuzzer entry for the `package_json` target (see crates/envsync-fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| envsync_fuzz::package_json(data));
