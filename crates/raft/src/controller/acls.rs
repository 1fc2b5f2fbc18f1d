//! CreateAcls and DeleteAcls on the controller: new ACLs become `AccessControlEntryRecord`s
//! with fresh ids (an ACL that already exists, or repeats one earlier in the request, is
//! accepted without a second record, as Kafka does); each DeleteAcls filter removes the ACLs
//! it selects with `RemoveAccessControlEntryRecord`s and lists them in its answer.

use std::collections::BTreeSet;

use vltava_protocol::Uuid;
use vltava_protocol::messages::create_acls_response::AclCreationResult;
use vltava_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use vltava_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
};
use vltava_security::acl::AclBinding;

use super::IdSource;
use crate::acl_records::{create_record, remove_record};
use crate::acl_wire::{binding_from_creation, filter_from_delete};
use crate::error::codes;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// A fresh ACL id, used neither in `image` nor in `taken`.
fn fresh_id(image: &MetadataImage, ids: &mut dyn IdSource, taken: &BTreeSet<Uuid>) -> Uuid {
    loop {
        let id = ids.next_topic_id(image);
        if !image.acls.contains_key(&id) && !taken.contains(&id) {
            return id;
        }
    }
}

/// Plans a CreateAcls request.
pub fn create_acls(
    image: &MetadataImage,
    req: &CreateAclsRequest,
    ids: &mut dyn IdSource,
) -> (CreateAclsResponse, Vec<MetadataRecord>) {
    let mut records = Vec::new();
    let mut taken = BTreeSet::new();
    let mut added: Vec<AclBinding> = Vec::new();
    let results = req
        .creations
        .iter()
        .map(|c| match binding_from_creation(c) {
            Ok(b) => {
                let exists = image.acls.values().any(|x| *x == b) || added.contains(&b);
                if !exists {
                    let id = fresh_id(image, ids, &taken);
                    taken.insert(id);
                    records.push(create_record(id, &b));
                    added.push(b);
                }
                AclCreationResult::default()
            }
            Err(e) => AclCreationResult {
                error_code: codes::INVALID_REQUEST,
                error_message: Some(e.to_string().into()),
                ..Default::default()
            },
        })
        .collect();
    (
        CreateAclsResponse {
            results,
            ..Default::default()
        },
        records,
    )
}

/// The answer's entry for a deleted ACL.
fn matching(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl {
        resource_type: b.pattern.resource_type.code(),
        resource_name: b.pattern.name.as_str().into(),
        pattern_type: b.pattern.pattern_type.code(),
        principal: b.entry.principal.as_str().into(),
        host: b.entry.host.as_str().into(),
        operation: b.entry.operation.code(),
        permission_type: b.entry.permission.code(),
        ..Default::default()
    }
}

/// Plans a DeleteAcls request. An ACL two filters select is listed by both (as Kafka's
/// controller answers) and deleted once.
pub fn delete_acls(
    image: &MetadataImage,
    req: &DeleteAclsRequest,
) -> (DeleteAclsResponse, Vec<MetadataRecord>) {
    let mut records = Vec::new();
    let mut removed = BTreeSet::new();
    let filter_results = req
        .filters
        .iter()
        .map(|f| match filter_from_delete(f) {
            Ok(filter) => {
                let mut matching_acls = Vec::new();
                for (id, b) in &image.acls {
                    if filter.matches(b) {
                        if removed.insert(*id) {
                            records.push(remove_record(*id));
                        }
                        matching_acls.push(matching(b));
                    }
                }
                DeleteAclsFilterResult {
                    matching_acls,
                    ..Default::default()
                }
            }
            Err(e) => DeleteAclsFilterResult {
                error_code: codes::INVALID_REQUEST,
                error_message: Some(e.to_string().into()),
                ..Default::default()
            },
        })
        .collect();
    (
        DeleteAclsResponse {
            filter_results,
            ..Default::default()
        },
        records,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::replay;
    use crate::controller::SequentialIds;
    use vltava_protocol::messages::create_acls_request::AclCreation;
    use vltava_protocol::messages::delete_acls_request::DeleteAclsFilter;

    fn creation(name: &str, pattern: i8, op: i8) -> AclCreation {
        AclCreation {
            resource_type: 2,
            resource_name: name.into(),
            resource_pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op,
            permission_type: 3,
            ..Default::default()
        }
    }

    #[test]
    fn create_then_delete_by_match_filter() {
        let mut image = MetadataImage::empty("c");
        let mut ids = SequentialIds::default();
        let req = CreateAclsRequest {
            creations: vec![
                creation("orders", 3, 3),
                creation("ord", 4, 4),
                creation("orders", 3, 3),
                creation("bad", 2, 3),
                creation("other", 3, 3),
            ],
            ..Default::default()
        };
        let (resp, recs) = create_acls(&image, &req, &mut ids);
        let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![0, 0, 0, codes::INVALID_REQUEST, 0]);
        assert_eq!(recs.len(), 3, "the repeated ACL gets one record");
        replay(&mut image, &recs);
        assert_eq!(image.acls.len(), 3);
        let (_, again) = create_acls(&image, &req, &mut ids);
        assert!(again.is_empty(), "existing ACLs are not stored twice");

        let del = DeleteAclsRequest {
            filters: vec![
                DeleteAclsFilter {
                    resource_type_filter: 2,
                    resource_name_filter: Some("orders".into()),
                    pattern_type_filter: 2,
                    principal_filter: None,
                    host_filter: None,
                    operation: 1,
                    permission_type: 1,
                    ..Default::default()
                },
                DeleteAclsFilter {
                    resource_type_filter: 1,
                    resource_name_filter: None,
                    pattern_type_filter: 1,
                    operation: 1,
                    permission_type: 0,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let (resp, recs) = delete_acls(&image, &del);
        assert_eq!(resp.filter_results[0].matching_acls.len(), 2);
        assert_eq!(resp.filter_results[1].error_code, codes::INVALID_REQUEST);
        replay(&mut image, &recs);
        let left: Vec<&str> = image
            .acls
            .values()
            .map(|b| b.pattern.name.as_str())
            .collect();
        assert_eq!(left, vec!["other"]);
    }

    #[test]
    fn an_acl_two_filters_select_is_listed_by_both_and_removed_once() {
        let mut image = MetadataImage::empty("c");
        let mut ids = SequentialIds::default();
        let req = CreateAclsRequest {
            creations: vec![creation("orders", 3, 3), creation("other", 3, 3)],
            ..Default::default()
        };
        let (_, recs) = create_acls(&image, &req, &mut ids);
        replay(&mut image, &recs);
        // Every ACL of alice, then the literal topic "orders": both select "orders".
        let by_principal = DeleteAclsFilter {
            resource_type_filter: 1,
            resource_name_filter: None,
            pattern_type_filter: 1,
            principal_filter: Some("User:alice".into()),
            host_filter: None,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        };
        let by_name = DeleteAclsFilter {
            resource_type_filter: 2,
            resource_name_filter: Some("orders".into()),
            pattern_type_filter: 3,
            principal_filter: None,
            host_filter: None,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        };
        let del = DeleteAclsRequest {
            filters: vec![by_principal, by_name],
            ..Default::default()
        };
        let (resp, recs) = delete_acls(&image, &del);
        let names = |i: usize| -> Vec<String> {
            resp.filter_results[i]
                .matching_acls
                .iter()
                .map(|m| m.resource_name.to_string())
                .collect()
        };
        assert_eq!(names(0), vec!["orders", "other"]);
        assert_eq!(
            names(1),
            vec!["orders"],
            "listed again by the second filter"
        );
        assert_eq!(recs.len(), 2, "one removal record per ACL");
        replay(&mut image, &recs);
        assert!(image.acls.is_empty());
    }
}
