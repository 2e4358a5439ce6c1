//! Integration tests: the shipping service over real gRPC on 127.0.0.1:0.

mod helpers;
mod shipping;
