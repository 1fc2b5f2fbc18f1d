//! `Admin::describe_client_quotas` and `Admin::alter_client_quotas`: Kafka's client quotas
//! (DescribeClientQuotas 48, AlterClientQuotas 49) per user, client id or both, each by name or
//! as the default (`None`).

use vltava_protocol::messages::{
    AlterClientQuotasRequest, DescribeClientQuotasRequest, alter_client_quotas_request,
    describe_client_quotas_request,
};

use super::Admin;
use crate::error::{Result, check};

/// A quota entity: `(entity type, name)` pairs, `user` and/or `client-id`, a `None` name
/// meaning the default.
pub type QuotaEntityParts = Vec<(String, Option<String>)>;

/// How a describe filter matches one entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// This name.
    Exact(String),
    /// The default.
    Default,
    /// Any entity of the type.
    Any,
}

/// One change to an entity's quotas.
#[derive(Debug, Clone, PartialEq)]
pub enum QuotaOp {
    /// Sets a key (`producer_byte_rate`, `consumer_byte_rate`, `request_percentage`,
    /// `controller_mutation_rate`).
    Set(String, f64),
    /// Removes a key.
    Remove(String),
}

impl Admin {
    /// The quotas of every entity matching all of `filter` (with `strict`, of no other type).
    pub async fn describe_client_quotas(
        &self,
        filter: &[(String, QuotaMatch)],
        strict: bool,
    ) -> Result<Vec<(QuotaEntityParts, Vec<(String, f64)>)>> {
        let req = DescribeClientQuotasRequest {
            components: filter
                .iter()
                .map(|(ty, m)| {
                    let (match_type, name) = match m {
                        QuotaMatch::Exact(n) => (0, Some(n.as_str().into())),
                        QuotaMatch::Default => (1, None),
                        QuotaMatch::Any => (2, None),
                    };
                    describe_client_quotas_request::ComponentData {
                        entity_type: ty.as_str().into(),
                        match_type,
                        r#match: name,
                        ..Default::default()
                    }
                })
                .collect(),
            strict,
            ..Default::default()
        };
        let resp = self.cluster.send_any(req).await?;
        check(
            resp.error_code,
            || "describing client quotas".to_string(),
            resp.error_message.as_deref(),
        )?;
        Ok(resp
            .entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    e.entity
                        .iter()
                        .map(|d| {
                            (
                                d.entity_type.to_string(),
                                d.entity_name.as_ref().map(|n| n.to_string()),
                            )
                        })
                        .collect(),
                    e.values
                        .iter()
                        .map(|v| (v.key.to_string(), v.value))
                        .collect(),
                )
            })
            .collect())
    }

    /// Applies `ops` to `entity`'s quotas.
    pub async fn alter_client_quotas(
        &self,
        entity: &QuotaEntityParts,
        ops: &[QuotaOp],
    ) -> Result<()> {
        let req = AlterClientQuotasRequest {
            entries: vec![alter_client_quotas_request::EntryData {
                entity: entity
                    .iter()
                    .map(|(ty, name)| alter_client_quotas_request::EntityData {
                        entity_type: ty.as_str().into(),
                        entity_name: name.as_deref().map(Into::into),
                        ..Default::default()
                    })
                    .collect(),
                ops: ops
                    .iter()
                    .map(|op| {
                        let (key, value, remove) = match op {
                            QuotaOp::Set(k, v) => (k, *v, false),
                            QuotaOp::Remove(k) => (k, 0.0, true),
                        };
                        alter_client_quotas_request::OpData {
                            key: key.as_str().into(),
                            value,
                            remove,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let resp = self.cluster.send_controller(req).await?;
        for e in &resp.entries {
            check(
                e.error_code,
                || "altering client quotas".to_string(),
                e.error_message.as_deref(),
            )?;
        }
        Ok(())
    }
}
