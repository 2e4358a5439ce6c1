//! Compiles flagd's sync protocol (`proto/flagd/sync/v1/sync.proto`) with
//! protox, so building needs no `protoc`: the client for flagd's in-process
//! resolver, and the server side for the tests' stand-in flagd.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let file = proto_dir.join("flagd/sync/v1/sync.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let descriptors = protox::compile([&file], [&proto_dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
