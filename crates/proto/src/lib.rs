//! The wire protocols: upstream's `hipstershop` (from `proto/demo.proto`) and
//! our own packages under `boutique` (from `proto/boutique/`), whose services
//! upstream does not have. Messages, client stubs and server traits are
//! generated at build time.
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

/// Our own packages, beside upstream's (which never change).
#[allow(clippy::all, clippy::pedantic, rust_2018_idioms)]
pub mod boutique {
    /// The accounts service.
    pub mod accounts {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("boutique.accounts.v1");
        }
    }
    /// The order service.
    pub mod orders {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("boutique.orders.v1");
        }
    }
    /// The payment ledger, beside upstream's payment service.
    pub mod payment {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("boutique.payment.v1");
        }
    }
    /// Shoppers' ratings of products.
    pub mod ratings {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("boutique.ratings.v1");
        }
    }
}

pub mod directory;
pub mod reasons;

pub use hipstershop::*;

/// The encoded `FileDescriptorSet` of every proto, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
