//! Marks the Redis tests `ignored` when `redis-server` is not installed (the
//! rule lives in the test kit's build script).

#[path = "../../crates/testkit/build.rs"]
mod servers;

fn main() {
    servers::mark_missing(&[("redis-server", "REDIS_SERVER_BIN")]);
}
