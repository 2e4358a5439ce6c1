//! Compiles the protos with protox (pure Rust), so building needs no `protoc`:
//! upstream's `demo.proto` and ours under `proto/boutique/`.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "demo.proto",
        "boutique/orders/v1/orders.proto",
        "boutique/payment/v1/ledger.proto",
        "boutique/accounts/v1/accounts.proto",
        "boutique/ratings/v1/ratings.proto",
    ]
    .map(|file| proto_dir.join(file));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, [&proto_dir])?;
    // The encoded set feeds gRPC server reflection.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("descriptor.bin"), descriptors.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
