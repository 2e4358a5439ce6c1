//! Integration tests of the event bus: the same suite on both backends (a
//! memory hub, and a real RabbitMQ broker started by the test binary: skipped
//! outside CI when RabbitMQ is not installed, a failure under `CI=true`), plus
//! what only one backend can show.

mod helpers;
mod memory_only;
mod rabbitmq_only;
mod suite;
