//! ACLs and ACL filters as the ACL APIs carry them (int8 codes, nullable filter strings),
//! turned into `vltava-security`'s types: CreateAcls creations, DeleteAcls filters and the
//! DescribeAcls filter. Anything Kafka would refuse comes back as [`AclWireError`] (the
//! broker and controller answer INVALID_REQUEST).

use vltava_protocol::SharedStr;
use vltava_protocol::messages::DescribeAclsRequest;
use vltava_protocol::messages::create_acls_request::AclCreation;
use vltava_protocol::messages::delete_acls_request::DeleteAclsFilter;
use vltava_security::acl::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, InvalidAcl, InvalidFilter, PatternType, ResourcePattern,
    ResourcePatternFilter, ResourceType, UnknownValue,
};

/// Why an ACL or filter from the wire is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclWireError {
    #[error(transparent)]
    Unknown(#[from] UnknownValue),
    #[error(transparent)]
    Invalid(#[from] InvalidAcl),
    #[error(transparent)]
    Filter(#[from] InvalidFilter),
}

/// The ACL a CreateAcls creation asks for, validated.
pub fn binding_from_creation(c: &AclCreation) -> Result<AclBinding, AclWireError> {
    let b = AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::from_code(c.resource_type)?,
            name: c.resource_name.to_string(),
            pattern_type: PatternType::from_code(c.resource_pattern_type)?,
        },
        entry: AccessControlEntry {
            principal: c.principal.to_string(),
            host: c.host.to_string(),
            operation: AclOperation::from_code(c.operation)?,
            permission: AclPermissionType::from_code(c.permission_type)?,
        },
    };
    b.validate()?;
    Ok(b)
}

#[allow(clippy::too_many_arguments)]
fn filter(
    resource_type: i8,
    name: &Option<SharedStr>,
    pattern_type: i8,
    principal: &Option<SharedStr>,
    host: &Option<SharedStr>,
    operation: i8,
    permission: i8,
) -> Result<AclBindingFilter, AclWireError> {
    let f = AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type: ResourceType::from_code(resource_type)?,
            name: name.as_ref().map(|s| s.to_string()),
            pattern_type: PatternType::from_code(pattern_type)?,
        },
        entry: AccessControlEntryFilter {
            principal: principal.as_ref().map(|s| s.to_string()),
            host: host.as_ref().map(|s| s.to_string()),
            operation: AclOperation::from_code(operation)?,
            permission: AclPermissionType::from_code(permission)?,
        },
    };
    f.validate()?;
    Ok(f)
}

/// The filter of one DeleteAcls entry, validated.
pub fn filter_from_delete(f: &DeleteAclsFilter) -> Result<AclBindingFilter, AclWireError> {
    filter(
        f.resource_type_filter,
        &f.resource_name_filter,
        f.pattern_type_filter,
        &f.principal_filter,
        &f.host_filter,
        f.operation,
        f.permission_type,
    )
}

/// The filter of a DescribeAcls request, validated.
pub fn filter_from_describe(r: &DescribeAclsRequest) -> Result<AclBindingFilter, AclWireError> {
    filter(
        r.resource_type_filter,
        &r.resource_name_filter,
        r.pattern_type_filter,
        &r.principal_filter,
        &r.host_filter,
        r.operation,
        r.permission_type,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_filters_are_checked() {
        let mut c = AclCreation {
            resource_type: 2,
            resource_name: "t".into(),
            resource_pattern_type: 3,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: 4,
            permission_type: 3,
            ..Default::default()
        };
        assert!(binding_from_creation(&c).is_ok());
        c.operation = 1;
        assert!(binding_from_creation(&c).is_err(), "ANY is for filters");
        c.operation = 99;
        assert!(binding_from_creation(&c).is_err());
        let d = DescribeAclsRequest {
            resource_type_filter: 1,
            resource_name_filter: None,
            principal_filter: None,
            host_filter: None,
            pattern_type_filter: 1,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        };
        assert_eq!(filter_from_describe(&d), Ok(AclBindingFilter::any()));
        let bad = DescribeAclsRequest {
            resource_type_filter: 0,
            ..d
        };
        assert!(filter_from_describe(&bad).is_err());
    }
}
