//! Kafka wire protocol codec (generated message types land here with `cargo xtask codegen`).
