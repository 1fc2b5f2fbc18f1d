//! `Admin`'s ACL calls: CreateAcls, DescribeAcls and DeleteAcls with Kafka's int8 codes
//! (resource type, pattern type, operation, permission type). The broker needs an authorizer
//! (else SECURITY_DISABLED) and the caller ALTER (create, delete) or DESCRIBE (describe) on
//! the cluster.

use vltava_protocol::messages::create_acls_request::AclCreation;
use vltava_protocol::messages::delete_acls_request::DeleteAclsFilter;
use vltava_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use super::Admin;
use crate::error::{Result, check};

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acl {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission: i8,
}

/// Which ACLs to describe or delete: `None` fields and the ANY codes (1) select all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

impl Admin {
    /// Creates ACLs; fails on the first one refused.
    pub async fn create_acls(&self, acls: &[Acl]) -> Result<()> {
        let req = CreateAclsRequest {
            creations: acls
                .iter()
                .map(|a| AclCreation {
                    resource_type: a.resource_type,
                    resource_name: a.resource_name.as_str().into(),
                    resource_pattern_type: a.pattern_type,
                    principal: a.principal.as_str().into(),
                    host: a.host.as_str().into(),
                    operation: a.operation,
                    permission_type: a.permission,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.cluster().send_any(req).await?;
        for r in &resp.results {
            check(
                r.error_code,
                || "creating ACLs".into(),
                r.error_message.as_ref().map(|m| m.as_str()),
            )?;
        }
        Ok(())
    }

    /// The ACLs `filter` selects.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<Acl>> {
        let req = DescribeAclsRequest {
            resource_type_filter: filter.resource_type,
            resource_name_filter: filter.resource_name.as_deref().map(Into::into),
            pattern_type_filter: filter.pattern_type,
            principal_filter: filter.principal.as_deref().map(Into::into),
            host_filter: filter.host.as_deref().map(Into::into),
            operation: filter.operation,
            permission_type: filter.permission,
            ..Default::default()
        };
        let resp = self.cluster().send_any(req).await?;
        check(
            resp.error_code,
            || "describing ACLs".into(),
            resp.error_message.as_ref().map(|m| m.as_str()),
        )?;
        Ok(resp
            .resources
            .iter()
            .flat_map(|r| {
                r.acls.iter().map(move |a| Acl {
                    resource_type: r.resource_type,
                    resource_name: r.resource_name.to_string(),
                    pattern_type: r.pattern_type,
                    principal: a.principal.to_string(),
                    host: a.host.to_string(),
                    operation: a.operation,
                    permission: a.permission_type,
                })
            })
            .collect())
    }

    /// Deletes the ACLs the filters select; returns them.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<Acl>> {
        let req = DeleteAclsRequest {
            filters: filters
                .iter()
                .map(|f| DeleteAclsFilter {
                    resource_type_filter: f.resource_type,
                    resource_name_filter: f.resource_name.as_deref().map(Into::into),
                    pattern_type_filter: f.pattern_type,
                    principal_filter: f.principal.as_deref().map(Into::into),
                    host_filter: f.host.as_deref().map(Into::into),
                    operation: f.operation,
                    permission_type: f.permission,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.cluster().send_any(req).await?;
        let mut deleted = Vec::new();
        for r in &resp.filter_results {
            check(
                r.error_code,
                || "deleting ACLs".into(),
                r.error_message.as_ref().map(|m| m.as_str()),
            )?;
            deleted.extend(r.matching_acls.iter().map(|m| Acl {
                resource_type: m.resource_type,
                resource_name: m.resource_name.to_string(),
                pattern_type: m.pattern_type,
                principal: m.principal.to_string(),
                host: m.host.to_string(),
                operation: m.operation,
                permission: m.permission_type,
            }));
        }
        Ok(deleted)
    }
}
