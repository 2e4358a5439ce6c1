//! The `hipstershop` wire protocol: messages, client stubs and server traits
//! generated from `proto/demo.proto` at build time.
//!
//! Every service crate speaks through these types only; nothing else crosses a
//! service boundary. [`directory`] names the services themselves: their ports,
//! address variables and who calls whom.

#![allow(unreachable_pub, missing_debug_implementations)]

/// Messages and services of package `hipstershop`.
#[allow(clippy::all, clippy::pedantic, rust_2018_idioms)]
pub mod hipstershop {
    tonic::include_proto!("hipstershop");
}

pub mod directory;
pub mod reasons;

pub use hipstershop::*;

/// The encoded `FileDescriptorSet` of `demo.proto`, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hipstershop_descriptor.bin"));
