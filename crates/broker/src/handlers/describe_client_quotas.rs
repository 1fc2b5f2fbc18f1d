//! DescribeClientQuotas (48), answered from the broker's metadata: the quota entities that
//! match every filter component (an exact name, the default, or any entity of that type), and
//! with `strict` only entities of no other type, each with the keys set on it.

use vltava_protocol::messages::DescribeClientQuotasRequest;
use vltava_protocol::messages::describe_client_quotas_response::{
    DescribeClientQuotasResponse, EntityData, EntryData, ValueData,
};
use vltava_protocol::{ResponseBody, SharedStr};
use vltava_security::quota::{EntityName, QuotaEntity, entity};

use crate::error_codes::{INVALID_REQUEST, UNSUPPORTED_VERSION};
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::metadata_view::MetadataView;

/// Kafka's filter match types.
const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_SPECIFIED: i8 = 2;
/// Kafka's connection-rate entity type; no entity of it is ever stored here.
const IP: &str = "ip";

/// One checked filter component.
struct Component<'a> {
    entity_type: &'a str,
    matches: Matches<'a>,
}

enum Matches<'a> {
    Exact(&'a str),
    Default,
    Any,
}

/// The answer to `req`.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeClientQuotasRequest) -> Answer {
    respond(response(&cx.metadata(), &req))
}

/// The answer to `req`.
pub fn response(metadata: &MetadataView, req: &DescribeClientQuotasRequest) -> ResponseBody {
    ResponseBody::from(match components(req) {
        Ok(components) => DescribeClientQuotasResponse {
            entries: Some(entries(metadata, &components, req.strict)),
            ..Default::default()
        },
        Err((error_code, message)) => DescribeClientQuotasResponse {
            error_code,
            error_message: Some(message.into()),
            entries: None,
            ..Default::default()
        },
    })
}

/// The checked components, or Kafka's error for the filter (its messages): INVALID_REQUEST
/// for an empty or repeated type, an exact match without a name, an unknown match type and
/// `ip` beside `user` or `client-id`; UNSUPPORTED_VERSION for another entity type. This
/// broker has no `ip` entities, so an `ip` component matches nothing.
fn components(req: &DescribeClientQuotasRequest) -> Result<Vec<Component<'_>>, (i16, String)> {
    let mut out: Vec<Component<'_>> = Vec::with_capacity(req.components.len());
    for c in &req.components {
        let entity_type = c.entity_type.as_str();
        if entity_type.is_empty() {
            return Err((INVALID_REQUEST, "Invalid empty entity type.".to_string()));
        }
        if out.iter().any(|o| o.entity_type == entity_type) {
            return Err((
                INVALID_REQUEST,
                format!("entity type {entity_type} cannot appear more than once in the filter"),
            ));
        }
        if ![entity::USER, entity::CLIENT_ID, IP].contains(&entity_type) {
            return Err((
                UNSUPPORTED_VERSION,
                format!("Unsupported entity type {entity_type}"),
            ));
        }
        let matches = match (c.match_type, c.r#match.as_deref()) {
            (MATCH_EXACT, Some(name)) => Matches::Exact(name),
            (MATCH_EXACT, None) => {
                return Err((
                    INVALID_REQUEST,
                    format!("an exact match of {entity_type} needs a name"),
                ));
            }
            (MATCH_DEFAULT, _) => Matches::Default,
            (MATCH_SPECIFIED, _) => Matches::Any,
            (other, _) => {
                return Err((INVALID_REQUEST, format!("unknown match type {other}")));
            }
        };
        out.push(Component {
            entity_type,
            matches,
        });
    }
    let has = |t: &str| out.iter().any(|c| c.entity_type == t);
    if has(IP) && (has(entity::USER) || has(entity::CLIENT_ID)) {
        return Err((
            INVALID_REQUEST,
            "Invalid entity filter component combination. IP filter component should not be \
             used with user or clientId filter component."
                .to_string(),
        ));
    }
    Ok(out)
}

/// The entity's name of `entity_type`, if it has that type.
fn part<'e>(e: &'e QuotaEntity, entity_type: &str) -> Option<&'e EntityName> {
    match entity_type {
        entity::USER => e.user.as_ref(),
        entity::CLIENT_ID => e.client_id.as_ref(),
        _ => None,
    }
}

fn matches(e: &QuotaEntity, components: &[Component<'_>], strict: bool) -> bool {
    let all = components
        .iter()
        .all(|c| match (part(e, c.entity_type), &c.matches) {
            (None, _) => false,
            (Some(name), Matches::Exact(want)) => *name == EntityName::Named((*want).to_string()),
            (Some(name), Matches::Default) => *name == EntityName::Default,
            (Some(_), Matches::Any) => true,
        });
    let types = [entity::USER, entity::CLIENT_ID];
    let others = types
        .iter()
        .filter(|t| part(e, t).is_some())
        .any(|t| !components.iter().any(|c| c.entity_type == *t));
    all && !(strict && others)
}

fn entries(metadata: &MetadataView, components: &[Component<'_>], strict: bool) -> Vec<EntryData> {
    metadata
        .client_quotas()
        .iter()
        .filter(|(e, _)| matches(e, components, strict))
        .map(|(e, keys)| EntryData {
            entity: e
                .to_parts()
                .into_iter()
                .map(|(ty, name)| EntityData {
                    entity_type: SharedStr::from(ty),
                    entity_name: name.map(SharedStr::from),
                    ..Default::default()
                })
                .collect(),
            values: keys
                .iter()
                .map(|(k, v)| ValueData {
                    key: SharedStr::from(k.name()),
                    value: *v,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use vltava_protocol::messages::describe_client_quotas_request::ComponentData;
    use vltava_security::quota::QuotaKey;

    use super::*;

    fn metadata() -> MetadataView {
        let mut image = vltava_raft::MetadataImage::default();
        let q = &mut image.client_quotas;
        let e = |u: Option<Option<&str>>, c: Option<Option<&str>>| QuotaEntity {
            user: u.map(EntityName::from_wire),
            client_id: c.map(EntityName::from_wire),
        };
        q.set(
            e(Some(Some("alice")), None),
            QuotaKey::ProducerByteRate,
            1.0,
        );
        q.set(e(Some(None), None), QuotaKey::ProducerByteRate, 2.0);
        q.set(
            e(Some(Some("alice")), Some(Some("app"))),
            QuotaKey::ConsumerByteRate,
            3.0,
        );
        q.set(e(None, Some(Some("app"))), QuotaKey::RequestPercentage, 4.0);
        crate::test_images::view(&image)
    }

    fn describe(components: &[(&str, i8, Option<&str>)], strict: bool) -> (i16, Vec<f64>) {
        let req = DescribeClientQuotasRequest {
            components: components
                .iter()
                .map(|(t, m, n)| ComponentData {
                    entity_type: (*t).into(),
                    match_type: *m,
                    r#match: n.map(Into::into),
                    ..Default::default()
                })
                .collect(),
            strict,
            ..Default::default()
        };
        let ResponseBody::DescribeClientQuotas(r) = response(&metadata(), &req) else {
            panic!()
        };
        let mut values: Vec<f64> = r
            .entries
            .unwrap_or_default()
            .iter()
            .flat_map(|e| e.values.iter().map(|v| v.value))
            .collect();
        values.sort_by(f64::total_cmp);
        (r.error_code, values)
    }

    #[test]
    fn filters_match_as_kafka_defines_them() {
        assert_eq!(describe(&[], false), (0, vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(
            describe(&[("user", 0, Some("alice"))], false),
            (0, vec![1.0, 3.0])
        );
        assert_eq!(
            describe(&[("user", 0, Some("alice"))], true),
            (0, vec![1.0])
        );
        assert_eq!(describe(&[("user", 1, None)], false), (0, vec![2.0]));
        assert_eq!(
            describe(&[("user", 2, None)], false),
            (0, vec![1.0, 2.0, 3.0])
        );
        assert_eq!(describe(&[("client-id", 2, None)], true), (0, vec![4.0]));
        assert_eq!(describe(&[], true), (0, vec![]));
        assert_eq!(describe(&[("user", 0, None)], false).0, INVALID_REQUEST);
        assert_eq!(
            describe(&[("user", 2, None), ("user", 1, None)], false).0,
            INVALID_REQUEST
        );
        assert_eq!(describe(&[("user", 7, None)], false).0, INVALID_REQUEST);
    }

    #[test]
    fn filters_kafka_refuses_are_refused_with_its_errors() {
        assert_eq!(describe(&[("", 2, None)], false).0, INVALID_REQUEST);
        assert_eq!(
            describe(&[("group", 2, None)], false).0,
            UNSUPPORTED_VERSION
        );
        // ip beside user or client-id, whatever the match.
        assert_eq!(
            describe(&[("ip", 1, None), ("client-id", 0, Some("app"))], false).0,
            INVALID_REQUEST
        );
        assert_eq!(
            describe(&[("user", 2, None), ("ip", 2, None)], false).0,
            INVALID_REQUEST
        );
        // ip alone: no entity of that type here.
        assert_eq!(describe(&[("ip", 2, None)], false), (0, vec![]));
    }
}
