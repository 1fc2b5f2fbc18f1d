//! ACLs as metadata records: an `AccessControlEntryRecord` (type 18) holds one ACL and its id,
//! a `RemoveAccessControlEntryRecord` (type 19) deletes one by id. Codes are Kafka's, so the
//! records read the same as a KRaft controller's.

use vltava_protocol::Uuid;
use vltava_protocol::metadata::{AccessControlEntryRecord, RemoveAccessControlEntryRecord};
use vltava_security::acl::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, PatternType, ResourcePattern,
    ResourceType,
};

use crate::records::MetadataRecord;

/// The ACL a record holds; `None` when a code is not one a stored ACL may have (the record
/// is then skipped on replay, as records that do not fit the image are).
pub fn binding_of(r: &AccessControlEntryRecord) -> Option<AclBinding> {
    let b = AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::from_code(r.resource_type).ok()?,
            name: r.resource_name.to_string(),
            pattern_type: PatternType::from_code(r.pattern_type).ok()?,
        },
        entry: AccessControlEntry {
            principal: r.principal.to_string(),
            host: r.host.to_string(),
            operation: AclOperation::from_code(r.operation).ok()?,
            permission: AclPermissionType::from_code(r.permission_type).ok()?,
        },
    };
    b.validate().ok()?;
    Some(b)
}

/// The record that creates ACL `b` with id `id`.
pub fn create_record(id: Uuid, b: &AclBinding) -> MetadataRecord {
    MetadataRecord::AccessControlEntry(AccessControlEntryRecord {
        id,
        resource_type: b.pattern.resource_type.code(),
        resource_name: b.pattern.name.as_str().into(),
        pattern_type: b.pattern.pattern_type.code(),
        principal: b.entry.principal.as_str().into(),
        host: b.entry.host.as_str().into(),
        operation: b.entry.operation.code(),
        permission_type: b.entry.permission.code(),
        ..Default::default()
    })
}

/// The record that deletes ACL `id`.
pub fn remove_record(id: Uuid) -> MetadataRecord {
    MetadataRecord::RemoveAccessControlEntry(RemoveAccessControlEntryRecord {
        id,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_the_binding_and_refuse_bad_codes() {
        let b = AclBinding {
            pattern: ResourcePattern::prefixed(ResourceType::Group, "app-"),
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission: AclPermissionType::Deny,
            },
        };
        let MetadataRecord::AccessControlEntry(mut r) = create_record(Uuid::from_u128(3), &b)
        else {
            panic!()
        };
        assert_eq!(binding_of(&r), Some(b));
        r.pattern_type = PatternType::Match.code();
        assert_eq!(binding_of(&r), None);
        r.pattern_type = 42;
        assert_eq!(binding_of(&r), None);
    }
}
