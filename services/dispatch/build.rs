//! Marks the RabbitMQ tests `ignored` when RabbitMQ is not installed (the rule
//! lives in the test kit's build script).

#[path = "../../crates/testkit/build.rs"]
mod servers;

fn main() {
    servers::mark_missing_in(
        &[("rabbitmq-server", "RABBITMQ_SERVER_BIN")],
        &servers::debian_rabbitmq_dirs(),
    );
}
