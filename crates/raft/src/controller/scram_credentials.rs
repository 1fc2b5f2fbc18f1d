//! AlterUserScramCredentials (key 51) on the controller, Kafka's `ScramControlManager`
//! rules: changes are collected per user name (deletions first, then upsertions), a
//! second change of the same user in one request is DUPLICATE_RESOURCE for that user
//! (whatever the mechanism, as in Kafka's KRaft controller), an unknown mechanism is
//! UNSUPPORTED_SASL_MECHANISM, an empty name or iterations outside 4096..=16384
//! UNACCEPTABLE_CREDENTIAL, deleting a credential that does not exist RESOURCE_NOT_FOUND.
//! An accepted upsertion is stored as its stored and server keys, computed here from the
//! salted password the client sent (which is never stored).

use std::collections::HashMap;

use vltava_protocol::SharedStr;
use vltava_protocol::messages::AlterUserScramCredentialsRequest;
use vltava_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use vltava_protocol::messages::alter_user_scram_credentials_response::{
    AlterUserScramCredentialsResponse, AlterUserScramCredentialsResult,
};
use vltava_protocol::metadata::RemoveUserScramCredentialRecord;
use vltava_security::scram::crypto::credential_from_salted_password;

use super::TopicError;
use crate::apply::scram_record;
use crate::error::codes;
use crate::image::{MetadataImage, ScramMechanism};
use crate::records::MetadataRecord;

/// Largest salt accepted (clients send 16 to 64 bytes); bounds the record's size.
pub const MAX_SALT_BYTES: usize = 1024;

const TWICE: &str = "A user credential cannot be altered twice in the same request";

/// Each user's outcome: `None` for accepted.
#[derive(Default)]
struct Outcomes {
    errors: HashMap<SharedStr, Option<TopicError>>,
}

impl Outcomes {
    fn has(&self, user: &SharedStr) -> bool {
        self.errors.contains_key(user)
    }

    fn set(&mut self, user: &SharedStr, outcome: Option<TopicError>) {
        self.errors.insert(user.clone(), outcome);
    }
}

fn mechanism_and_name(name: &str, mechanism: i8) -> Result<ScramMechanism, TopicError> {
    let m = ScramMechanism::from_code(mechanism).ok_or_else(|| {
        TopicError::new(codes::UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism")
    })?;
    if name.is_empty() {
        return Err(TopicError::new(
            codes::UNACCEPTABLE_CREDENTIAL,
            "Username must not be empty",
        ));
    }
    Ok(m)
}

fn validate_deletion(image: &MetadataImage, d: &ScramCredentialDeletion) -> Option<TopicError> {
    match mechanism_and_name(&d.name, d.mechanism) {
        Err(e) => Some(e),
        Ok(m) if image.scram_credential(&d.name, m).is_none() => Some(TopicError::new(
            codes::RESOURCE_NOT_FOUND,
            "Attempt to delete a user credential that does not exist",
        )),
        Ok(_) => None,
    }
}

fn upsertion_record(u: &ScramCredentialUpsertion) -> Result<MetadataRecord, TopicError> {
    let m = mechanism_and_name(&u.name, u.mechanism)?;
    let unacceptable = |m: &str| Err(TopicError::new(codes::UNACCEPTABLE_CREDENTIAL, m));
    if u.iterations < m.min_iterations() {
        return unacceptable("Too few iterations");
    }
    if u.iterations > m.max_iterations() {
        return unacceptable("Too many iterations");
    }
    if u.salt.is_empty() || u.salt.len() > MAX_SALT_BYTES {
        return unacceptable("The salt must hold 1 to 1024 bytes");
    }
    if u.salted_password.len() != m.hash_len() {
        return unacceptable("The salted password's length does not match the mechanism");
    }
    let credential = credential_from_salted_password(m, &u.salted_password, &u.salt, u.iterations);
    Ok(MetadataRecord::UserScramCredential(scram_record(
        &u.name,
        m,
        &credential,
    )))
}

/// Validates and plans an AlterUserScramCredentials request.
pub fn alter_user_scram_credentials(
    image: &MetadataImage,
    req: &AlterUserScramCredentialsRequest,
) -> (AlterUserScramCredentialsResponse, Vec<MetadataRecord>) {
    let mut out = Outcomes::default();
    let mut deletions: Vec<(SharedStr, &ScramCredentialDeletion)> = Vec::new();
    let mut upsertions: Vec<(SharedStr, &ScramCredentialUpsertion)> = Vec::new();
    let twice = || Some(TopicError::new(codes::DUPLICATE_RESOURCE, TWICE));
    for d in &req.deletions {
        if out.has(&d.name) {
            continue;
        }
        if let Some(i) = deletions.iter().position(|(n, _)| *n == d.name) {
            deletions.remove(i);
            out.set(&d.name, twice());
        } else if let Some(e) = validate_deletion(image, d) {
            out.set(&d.name, Some(e));
        } else {
            deletions.push((d.name.clone(), d));
        }
    }
    for u in &req.upsertions {
        if out.has(&u.name) {
            continue;
        }
        let deleted = deletions.iter().position(|(n, _)| *n == u.name);
        let upserted = upsertions.iter().position(|(n, _)| *n == u.name);
        match (deleted, upserted) {
            (Some(i), _) => {
                deletions.remove(i);
                out.set(&u.name, twice());
            }
            (None, Some(i)) => {
                upsertions.remove(i);
                out.set(&u.name, twice());
            }
            (None, None) => upsertions.push((u.name.clone(), u)),
        }
    }
    let mut records = Vec::new();
    for (name, d) in deletions {
        if let Some(m) = ScramMechanism::from_code(d.mechanism) {
            records.push(MetadataRecord::RemoveUserScramCredential(
                RemoveUserScramCredentialRecord {
                    name: name.clone(),
                    mechanism: m.code(),
                    ..Default::default()
                },
            ));
            out.set(&name, None);
        }
    }
    for (name, u) in upsertions {
        match upsertion_record(u) {
            Ok(r) => {
                records.push(r);
                out.set(&name, None);
            }
            Err(e) => out.set(&name, Some(e)),
        }
    }
    let results = results_in_request_order(req, &out);
    let resp = AlterUserScramCredentialsResponse {
        results,
        ..Default::default()
    };
    (resp, records)
}

/// Each user's result, in the order users first appear in the request.
fn results_in_request_order(
    req: &AlterUserScramCredentialsRequest,
    out: &Outcomes,
) -> Vec<AlterUserScramCredentialsResult> {
    let mut first_seen: Vec<SharedStr> = Vec::new();
    let names = req.deletions.iter().map(|d| &d.name);
    for n in names.chain(req.upsertions.iter().map(|u| &u.name)) {
        if !first_seen.contains(n) {
            first_seen.push(n.clone());
        }
    }
    first_seen
        .into_iter()
        .filter_map(|user| {
            let outcome = out.errors.get(&user)?.clone();
            Some(AlterUserScramCredentialsResult {
                error_code: outcome.as_ref().map_or(codes::NONE, |e| e.code),
                error_message: outcome.map(|e| e.message.into()),
                user,
                ..Default::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
