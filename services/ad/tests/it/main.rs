//! Integration tests: the ad service over real gRPC on 127.0.0.1:0.

mod ads;
mod flags;
mod helpers;
