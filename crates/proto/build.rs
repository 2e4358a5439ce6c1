//! Compiles `proto/demo.proto` with protox (pure Rust), so building needs no `protoc`.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let demo = proto_dir.join("demo.proto");
    println!("cargo:rerun-if-changed={}", demo.display());

    let descriptors = protox::compile([&demo], [&proto_dir])?;
    // The encoded set feeds gRPC server reflection.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("hipstershop_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
