//! Each broker address an answer names is the one of the listener the request came in
//! on, as in Kafka (a client on `SASL_SSL://:9093` is sent every broker's SASL_SSL
//! endpoint, never its PLAINTEXT one). Handlers answer with each broker's default address
//! (its first registered endpoint); [`localize`] then rewrites the addresses of Metadata,
//! DescribeCluster, FindCoordinator and the leader hints of Produce and Fetch. A broker
//! without that listener is left out of broker lists, and is no coordinator
//! (COORDINATOR_NOT_AVAILABLE), as Kafka does.

use vltava_protocol::{ResponseBody, SharedStr};

use crate::metadata_view::MetadataView;

use vltava_protocol::error_codes::COORDINATOR_NOT_AVAILABLE;

/// Where broker `node_id` is reached on `listener`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address<'a> {
    /// Keep the default address (no per-listener endpoints known, or no listener name).
    Default,
    At(&'a str, i32),
    /// The broker has no such listener.
    Missing,
}

/// The address of `node_id` on `listener`.
pub fn address<'a>(metadata: &'a MetadataView, node_id: i32, listener: &str) -> Address<'a> {
    let Some(b) = metadata.image().live_broker(node_id) else {
        return Address::Default;
    };
    if listener.is_empty() || b.endpoints.is_empty() {
        return Address::Default;
    }
    match b.endpoints.iter().find(|e| e.name == listener) {
        Some(e) => Address::At(&e.host, e.port),
        None => Address::Missing,
    }
}

/// Whether every broker's default address is already its `listener` address.
fn is_default_everywhere(metadata: &MetadataView, listener: &str) -> bool {
    listener.is_empty()
        || metadata
            .image()
            .live_broker_images()
            .all(|b| b.endpoints.first().is_none_or(|e| e.name == listener))
}

/// Rewrites `host`/`port` for `node_id`; `false` when the broker lacks the listener.
fn place(
    metadata: &MetadataView,
    listener: &str,
    node_id: i32,
    host: &mut SharedStr,
    port: &mut i32,
) -> bool {
    match address(metadata, node_id, listener) {
        Address::Default => true,
        Address::At(h, p) => {
            *host = h.into();
            *port = p;
            true
        }
        Address::Missing => false,
    }
}

/// Rewrites the broker addresses of `body` for a client on `listener`.
pub fn localize(body: &mut ResponseBody, metadata: &MetadataView, listener: &str) {
    if is_default_everywhere(metadata, listener) {
        return;
    }
    match body {
        ResponseBody::Metadata(r) => r
            .brokers
            .retain_mut(|b| place(metadata, listener, b.node_id, &mut b.host, &mut b.port)),
        ResponseBody::DescribeCluster(r) => r
            .brokers
            .retain_mut(|b| place(metadata, listener, b.broker_id, &mut b.host, &mut b.port)),
        ResponseBody::Produce(r) => r
            .node_endpoints
            .retain_mut(|b| place(metadata, listener, b.node_id, &mut b.host, &mut b.port)),
        ResponseBody::Fetch(r) => r
            .node_endpoints
            .retain_mut(|b| place(metadata, listener, b.node_id, &mut b.host, &mut b.port)),
        ResponseBody::FindCoordinator(r) => {
            if r.error_code == 0
                && r.coordinators.is_empty()
                && !place(metadata, listener, r.node_id, &mut r.host, &mut r.port)
            {
                r.error_code = COORDINATOR_NOT_AVAILABLE;
                r.error_message =
                    Some(format!("the coordinator has no {listener} listener").into());
                r.node_id = -1;
                r.host = "".into();
                r.port = -1;
            }
            for c in &mut r.coordinators {
                if c.error_code == 0
                    && !place(metadata, listener, c.node_id, &mut c.host, &mut c.port)
                {
                    c.error_code = COORDINATOR_NOT_AVAILABLE;
                    c.error_message =
                        Some(format!("the coordinator has no {listener} listener").into());
                    c.node_id = -1;
                    c.host = "".into();
                    c.port = -1;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_images::{add_broker, view};
    use vltava_protocol::messages::MetadataResponse;
    use vltava_protocol::messages::metadata_response::MetadataResponseBroker;
    use vltava_raft::{BrokerImage, ListenerEndpoint, MetadataImage};

    fn node(id: i32, endpoints: &[(&str, i32)]) -> BrokerImage {
        BrokerImage {
            id,
            host: "h".into(),
            port: endpoints.first().map_or(9092, |e| e.1),
            rack: None,
            fenced: false,
            epoch: 1,
            endpoints: endpoints
                .iter()
                .map(|(n, p)| ListenerEndpoint {
                    name: n.to_string(),
                    host: format!("{n}-host"),
                    port: *p,
                    security_protocol: 0,
                })
                .collect(),
        }
    }

    fn metadata_response(metadata: &MetadataView) -> ResponseBody {
        ResponseBody::from(MetadataResponse {
            brokers: metadata
                .image()
                .live_broker_images()
                .map(|b| MetadataResponseBroker {
                    node_id: b.id,
                    host: b.host.as_str().into(),
                    port: b.port,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    #[test]
    fn brokers_are_named_by_the_clients_listener() {
        let mut image = MetadataImage::default();
        add_broker(&mut image, node(1, &[("PLAINTEXT", 9092), ("SSL", 9093)]));
        add_broker(&mut image, node(2, &[("PLAINTEXT", 9192)]));
        let metadata = view(&image);
        let mut body = metadata_response(&metadata);
        localize(&mut body, &metadata, "SSL");
        let ResponseBody::Metadata(r) = body else {
            panic!()
        };
        assert_eq!(r.brokers.len(), 1, "broker 2 has no SSL listener");
        assert_eq!(r.brokers[0].host.as_str(), "SSL-host");
        assert_eq!(r.brokers[0].port, 9093);
        let mut body = metadata_response(&metadata);
        localize(&mut body, &metadata, "PLAINTEXT");
        assert_eq!(
            body,
            metadata_response(&metadata),
            "the default listener is untouched"
        );
    }

    #[test]
    fn brokers_without_endpoints_keep_their_address() {
        let mut image = MetadataImage::default();
        add_broker(&mut image, node(1, &[]));
        let metadata = view(&image);
        let mut body = metadata_response(&metadata);
        localize(&mut body, &metadata, "SSL");
        assert_eq!(body, metadata_response(&metadata));
        assert_eq!(address(&metadata, 1, "SSL"), Address::Default);
    }
}
