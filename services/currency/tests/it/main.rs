//! Integration tests: the currency service over real gRPC on 127.0.0.1:0.

mod convert;
mod helpers;
mod rates_file;
mod supported;
mod vectors;
