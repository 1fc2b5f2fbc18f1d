//! ApiVersions (key 18): the API ranges this broker advertises (what a Kafka 4.0
//! broker advertises on a broker listener) and the client software checks of v3+.

use vltava_protocol::messages::ApiVersionsRequest;
use vltava_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use vltava_protocol::{ApiKey, ResponseBody};

use crate::error_codes::{INVALID_REQUEST, UNSUPPORTED_VERSION};
use crate::handlers::context::{Answer, RequestContext, respond};

/// The advertised (min, max) version of `key`, or `None` when a broker listener
/// does not serve it: controller-only and ZooKeeper-only APIs are left out, and an
/// unstable latest version is not advertised.
pub fn advertised_range(key: ApiKey) -> Option<(i16, i16)> {
    if !key.listeners().broker {
        return None;
    }
    // Client telemetry (KIP-714) is advertised by Kafka only when a telemetry
    // metrics reporter is configured; this broker has none.
    if matches!(
        key,
        ApiKey::GetTelemetrySubscriptions | ApiKey::PushTelemetry
    ) {
        return None;
    }
    let min = key.min_version();
    let mut max = key.max_version();
    if key.latest_version_unstable() {
        max -= 1;
    }
    (max >= min).then_some((min, max))
}

/// Every advertised API, in key order.
pub fn advertised_apis() -> Vec<ApiVersion> {
    ApiKey::ALL
        .iter()
        .filter_map(|k| {
            advertised_range(*k).map(|(min, max)| ApiVersion {
                api_key: k.as_i16(),
                min_version: min,
                max_version: max,
                ..Default::default()
            })
        })
        .collect()
}

/// Whether a request at `version` of `key` is one this broker serves.
pub fn is_supported(key: ApiKey, version: i16) -> bool {
    advertised_range(key).is_some_and(|(min, max)| (min..=max).contains(&version))
}

/// The answer to an ApiVersions request whose version is unknown: v0 layout,
/// UNSUPPORTED_VERSION and ApiVersions' own range, so the client can retry.
pub fn unsupported_version_response() -> ResponseBody {
    let (min, max) = advertised_range(ApiKey::ApiVersions).unwrap_or((0, 0));
    ResponseBody::from(ApiVersionsResponse {
        error_code: UNSUPPORTED_VERSION,
        api_keys: vec![ApiVersion {
            api_key: ApiKey::ApiVersions.as_i16(),
            min_version: min,
            max_version: max,
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Kafka's rule for client software names and versions: letters, digits, `.`,
/// `-`, starting and ending with a letter or digit.
fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Handles ApiVersions at a supported `version`.
pub async fn handle(cx: &RequestContext<'_>, req: ApiVersionsRequest) -> Answer {
    respond(response(&req, cx.version))
}

/// The answer to `req`.
pub fn response(req: &ApiVersionsRequest, version: i16) -> ResponseBody {
    if version >= 3
        && (!valid_software_field(req.client_software_name.as_str())
            || !valid_software_field(req.client_software_version.as_str()))
    {
        return ResponseBody::from(ApiVersionsResponse {
            error_code: INVALID_REQUEST,
            ..Default::default()
        });
    }
    ResponseBody::from(ApiVersionsResponse {
        api_keys: advertised_apis(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(k: ApiKey) -> Option<(i16, i16)> {
        advertised_range(k)
    }

    #[test]
    fn ranges_match_a_kafka_4_0_broker_where_clients_look() {
        // Maximum versions from kafka-python's table of a 4.0 broker.
        assert_eq!(range(ApiKey::Produce).map(|r| r.1), Some(11));
        assert_eq!(range(ApiKey::Fetch).map(|r| r.1), Some(17));
        assert_eq!(range(ApiKey::ListOffsets).map(|r| r.1), Some(10));
        assert_eq!(range(ApiKey::Metadata).map(|r| r.1), Some(12));
        assert_eq!(range(ApiKey::ApiVersions), Some((0, 4)));
        assert_eq!(range(ApiKey::Produce).map(|r| r.0), Some(0));
        // Controller-only and ZooKeeper-only APIs are not served here.
        assert_eq!(range(ApiKey::LeaderAndIsr), None);
        assert_eq!(range(ApiKey::BrokerRegistration), None);
        assert_eq!(range(ApiKey::Vote), None);
    }

    #[test]
    fn advertised_keys_are_a_kafka_4_0_brokers() {
        // The key set of a 4.0 broker (kafka-python's broker_version_data, (4, 0)).
        let mut want: Vec<i16> = (0..=51).filter(|k| !(4..=7).contains(k)).collect();
        want.extend([55, 57, 60, 61, 64, 65, 66, 68, 69, 74, 75, 80, 81]);
        let got: Vec<i16> = advertised_apis().iter().map(|k| k.api_key).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn software_names_are_checked_from_v3() {
        let bad = ApiVersionsRequest {
            client_software_name: "-bad".into(),
            client_software_version: "1.0".into(),
            ..Default::default()
        };
        let ResponseBody::ApiVersions(r) = response(&bad, 3) else {
            panic!()
        };
        assert_eq!(r.error_code, INVALID_REQUEST);
        let ResponseBody::ApiVersions(r) = response(&bad, 2) else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        let good = ApiVersionsRequest {
            client_software_name: "confluent-kafka-python".into(),
            client_software_version: "2.16.1-rdkafka-2.12.0".into(),
            ..Default::default()
        };
        let ResponseBody::ApiVersions(r) = response(&good, 4) else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        assert!(r.api_keys.len() > 40);
    }
}
