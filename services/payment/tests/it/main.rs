//! Integration tests: the payment service over real gRPC on 127.0.0.1:0.

mod charge;
mod flags;
mod helpers;
mod resend;
