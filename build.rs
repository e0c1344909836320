//! Compiles the wire contract in `proto/` into Rust, included by `src/decode/pb.rs`.
//!
//! `protox` parses the `.proto` files in pure Rust so that building needs no system `protoc`.

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let files = [
        "acd/v1/events.proto",
        "acd/v1/kpi.proto",
        "acd/v1/alert.proto",
    ];
    // Panicking is how a build script fails; the message names the file and line at fault.
    let fds = protox::compile(files, ["proto"])
        .unwrap_or_else(|e| panic!("proto/ does not compile: {e:?}"));
    prost_build::Config::new()
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating Rust from proto/ failed: {e}"));
}
