//! API version negotiation: the versions this client speaks, what a broker
//! advertised, and the version picked for each request.

use crate::error::{ClientError, Result};
use std::collections::HashMap;
use vltava_protocol::ApiKey;
use vltava_protocol::messages::ApiVersionsResponse;

/// The newest version of `api` this client fills requests for and reads
/// responses of (the codec knows more; these are the versions whose fields the
/// client sets correctly).
pub fn client_max(api: ApiKey) -> i16 {
    let v = match api {
        ApiKey::Produce => 9,
        ApiKey::Fetch => 12,
        ApiKey::ListOffsets => 7,
        ApiKey::Metadata => 12,
        ApiKey::OffsetCommit => 8,
        ApiKey::OffsetFetch => 7,
        ApiKey::FindCoordinator => 3,
        ApiKey::JoinGroup => 9,
        ApiKey::Heartbeat => 4,
        ApiKey::LeaveGroup => 5,
        ApiKey::SyncGroup => 5,
        ApiKey::DescribeGroups => 5,
        ApiKey::ListGroups => 4,
        ApiKey::ApiVersions => 3,
        ApiKey::CreateTopics => 7,
        ApiKey::DeleteTopics => 6,
        ApiKey::DeleteRecords => 2,
        ApiKey::InitProducerId => 4,
        ApiKey::DescribeConfigs => 4,
        ApiKey::IncrementalAlterConfigs => 1,
        ApiKey::CreatePartitions => 3,
        ApiKey::DeleteGroups => 2,
        ApiKey::DescribeCluster => 1,
        // Transactions as before KIP-890's second part (no per-transaction epoch bump).
        ApiKey::AddPartitionsToTxn => 3,
        ApiKey::AddOffsetsToTxn => 3,
        ApiKey::EndTxn => 4,
        ApiKey::TxnOffsetCommit => 3,
        other => other.max_version(),
    };
    v.min(api.max_version())
}

/// The oldest version of `api` the client uses (message formats before v2
/// batches and pre-flexible quirks are not produced by this client).
pub fn client_min(api: ApiKey) -> i16 {
    let v = match api {
        ApiKey::Produce => 3,
        ApiKey::Fetch => 4,
        ApiKey::ListOffsets => 1,
        ApiKey::Metadata => 1,
        ApiKey::OffsetCommit => 2,
        ApiKey::OffsetFetch => 1,
        _ => api.min_version(),
    };
    v.max(api.min_version())
}

/// The version ranges one broker advertised.
#[derive(Debug, Clone, Default)]
pub struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

impl BrokerVersions {
    pub fn from_response(resp: &ApiVersionsResponse) -> Self {
        BrokerVersions {
            ranges: resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect(),
        }
    }

    /// The broker's range for `api`, if it supports it at all.
    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.ranges.get(&api.as_i16()).copied()
    }

    /// Every advertised range, sorted by API key.
    pub fn all(&self) -> Vec<(i16, i16, i16)> {
        let mut v: Vec<_> = self.ranges.iter().map(|(k, (a, b))| (*k, *a, *b)).collect();
        v.sort_unstable();
        v
    }

    /// min(client max, broker max), if it is not below either side's minimum.
    pub fn pick(&self, api: ApiKey) -> Result<i16> {
        let (cmin, cmax) = (client_min(api), client_max(api));
        let (bmin, bmax) = self.range(api).unwrap_or((-1, -1));
        let v = cmax.min(bmax);
        if bmax < 0 || v < cmin || v < bmin {
            return Err(ClientError::UnsupportedVersion {
                api: api.name(),
                client_min: cmin,
                client_max: cmax,
                broker_min: bmin,
                broker_max: bmax,
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::messages::api_versions_response::ApiVersion;

    fn broker(ranges: &[(ApiKey, i16, i16)]) -> BrokerVersions {
        BrokerVersions::from_response(&ApiVersionsResponse {
            api_keys: ranges
                .iter()
                .map(|(k, a, b)| ApiVersion {
                    api_key: k.as_i16(),
                    min_version: *a,
                    max_version: *b,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    #[test]
    fn picks_the_lower_maximum() {
        let b = broker(&[(ApiKey::Metadata, 0, 5), (ApiKey::Produce, 3, 20)]);
        assert_eq!(b.pick(ApiKey::Metadata).unwrap(), 5);
        assert_eq!(
            b.pick(ApiKey::Produce).unwrap(),
            client_max(ApiKey::Produce)
        );
    }

    #[test]
    fn respects_the_broker_minimum_and_missing_apis() {
        let b = broker(&[(ApiKey::Metadata, 13, 13), (ApiKey::Produce, 0, 2)]);
        assert!(matches!(
            b.pick(ApiKey::Metadata),
            Err(ClientError::UnsupportedVersion { broker_min: 13, .. })
        ));
        assert!(
            b.pick(ApiKey::Produce).is_err(),
            "below the client's v2-batch minimum"
        );
        assert!(b.pick(ApiKey::Fetch).is_err(), "not advertised");
    }
}
