//! Integration tests: the email service over real gRPC on 127.0.0.1:0, sending
//! to a real SMTP server (aiosmtpd) where delivery is under test.

mod delivery;
mod helpers;
mod mail;
mod validation;
