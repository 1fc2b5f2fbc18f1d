//! Broker registration and producer-id block allocation as metadata records.

use vltava_protocol::metadata::register_broker_record::BrokerEndpoint;
use vltava_protocol::metadata::{ProducerIdsRecord, RegisterBrokerRecord};

use crate::image::{ListenerEndpoint, MetadataImage};
use crate::records::MetadataRecord;

/// Producer ids handed out per block, as Kafka's controller does.
pub const PRODUCER_ID_BLOCK_SIZE: i32 = 1000;
/// Largest block one request may take.
pub const MAX_PRODUCER_ID_BLOCK: i32 = 1_000_000;

/// The record registering (or re-registering, with the next epoch) broker `id` with one
/// PLAINTEXT listener, unfenced: a combined broker+controller registers once it is ready
/// to serve.
pub fn register_broker(
    image: &MetadataImage,
    id: i32,
    host: &str,
    port: i32,
    rack: Option<&str>,
) -> MetadataRecord {
    register_broker_endpoints(image, id, &[plaintext(host, port)], rack)
}

/// A lone PLAINTEXT endpoint.
pub fn plaintext(host: &str, port: i32) -> ListenerEndpoint {
    ListenerEndpoint {
        name: "PLAINTEXT".into(),
        host: host.into(),
        port,
        security_protocol: 0,
    }
}

/// A record's endpoints: `endpoints`, or a PLAINTEXT one at `host:port` when there are
/// none.
pub fn endpoints_record(
    endpoints: &[ListenerEndpoint],
    host: &str,
    port: i32,
) -> Vec<BrokerEndpoint> {
    let fallback;
    let list = if endpoints.is_empty() {
        fallback = [plaintext(host, port)];
        &fallback[..]
    } else {
        endpoints
    };
    list.iter()
        .map(|e| BrokerEndpoint {
            name: e.name.as_str().into(),
            host: e.host.as_str().into(),
            port: u16::try_from(e.port).unwrap_or(0),
            security_protocol: e.security_protocol,
            ..Default::default()
        })
        .collect()
}

/// [`register_broker`] with every listener of the broker (the first is its default
/// address).
pub fn register_broker_endpoints(
    image: &MetadataImage,
    id: i32,
    endpoints: &[ListenerEndpoint],
    rack: Option<&str>,
) -> MetadataRecord {
    let epoch = image.brokers.get(&id).map(|b| b.epoch + 1).unwrap_or(1);
    MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: id,
        broker_epoch: epoch,
        end_points: endpoints_record(endpoints, "", 0),
        rack: rack.map(Into::into),
        fenced: false,
        ..Default::default()
    })
}

/// Takes a block of `count` producer ids (a block of [`PRODUCER_ID_BLOCK_SIZE`] when `count` is
/// not positive, at most [`MAX_PRODUCER_ID_BLOCK`]). Returns (first id, length, record).
pub fn allocate_producer_ids(
    image: &MetadataImage,
    broker_id: i32,
    count: i32,
) -> (i64, i32, MetadataRecord) {
    let len = if count <= 0 {
        PRODUCER_ID_BLOCK_SIZE
    } else {
        count.min(MAX_PRODUCER_ID_BLOCK)
    };
    let first = image.next_producer_id;
    let record = MetadataRecord::ProducerIds(ProducerIdsRecord {
        broker_id,
        broker_epoch: image.brokers.get(&broker_id).map(|b| b.epoch).unwrap_or(-1),
        next_producer_id: first + i64::from(len),
        ..Default::default()
    });
    (first, len, record)
}
