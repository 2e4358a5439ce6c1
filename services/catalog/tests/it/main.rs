//! Integration tests: the catalog service over real gRPC on 127.0.0.1:0.

mod catalog_file;
mod flags;
mod helpers;
mod latency;
mod products;
