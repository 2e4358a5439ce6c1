//! Integration tests: the recommendation service over real gRPC on
//! 127.0.0.1:0, against a real catalog (or a recording fake) started in the test.

mod config;
mod deadline;
mod helpers;
mod recommendations;
