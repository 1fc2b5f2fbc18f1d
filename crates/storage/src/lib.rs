//! Kafka-layout partition log on disk (under construction: see issue 4).
