//! Admin calls for SCRAM credentials, as Kafka's admin client makes them:
//! `describe_user_scram_credentials` (DescribeUserScramCredentials, any broker) and
//! `alter_user_scram_credentials` (AlterUserScramCredentials, the controller), where an
//! upsertion carries a password and the client sends only a fresh random salt and the
//! salted password `Hi(password, salt, iterations)`.

use vltava_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use vltava_protocol::messages::describe_user_scram_credentials_request::UserName;
use vltava_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use vltava_security::scram::crypto::salted_password;

pub use vltava_security::scram::ScramMechanism;

use super::Admin;
use crate::error::{ClientError, Result, check};
use crate::kafka_error::code;

/// Bytes of a generated salt.
pub const SALT_BYTES: usize = 32;
/// Iterations when none are given (kafka-configs' default).
pub const DEFAULT_ITERATIONS: i32 = 4096;

/// One user's credentials: mechanisms and iteration counts (never keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScramCredentials {
    pub user: String,
    /// In the broker's order; the code is Kafka's mechanism type (1, 2).
    pub credentials: Vec<(i8, i32)>,
}

/// One change of AlterUserScramCredentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramChange {
    /// Set (or replace) `user`'s credential for `mechanism`.
    Upsert {
        user: String,
        mechanism: ScramMechanism,
        iterations: i32,
        password: String,
    },
    /// Remove `user`'s credential for `mechanism`.
    Delete {
        user: String,
        mechanism: ScramMechanism,
    },
}

impl ScramChange {
    /// The user this change is for.
    pub fn user(&self) -> &str {
        match self {
            ScramChange::Upsert { user, .. } | ScramChange::Delete { user, .. } => user,
        }
    }
}

fn random_salt() -> Result<Vec<u8>> {
    let mut salt = vec![0u8; SALT_BYTES];
    getrandom::fill(&mut salt)
        .map_err(|e| ClientError::Other(format!("no randomness for a SCRAM salt: {e}")))?;
    Ok(salt)
}

impl Admin {
    /// The credentials of `users` (every user with credentials when `None` or empty).
    /// A named user without credentials is left out, as Kafka's admin client does.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[String]>,
    ) -> Result<Vec<UserScramCredentials>> {
        let req = DescribeUserScramCredentialsRequest {
            users: users.map(|u| {
                u.iter()
                    .map(|n| UserName {
                        name: n.as_str().into(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        };
        let resp = self.cluster.send_any(req).await?;
        check(
            resp.error_code,
            || "describing SCRAM credentials".to_string(),
            resp.error_message.as_deref(),
        )?;
        let mut out = Vec::new();
        for r in &resp.results {
            if r.error_code == code::RESOURCE_NOT_FOUND {
                continue;
            }
            check(
                r.error_code,
                || format!("describing SCRAM credentials of {}", r.user),
                r.error_message.as_deref(),
            )?;
            out.push(UserScramCredentials {
                user: r.user.to_string(),
                credentials: r
                    .credential_infos
                    .iter()
                    .map(|c| (c.mechanism, c.iterations))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Applies `changes` in one request; each user's outcome, in the order users come
    /// back (a user changed twice in one request is DUPLICATE_RESOURCE, as in Kafka).
    pub async fn alter_user_scram_credentials(
        &self,
        changes: &[ScramChange],
    ) -> Result<Vec<(String, Result<()>)>> {
        let mut req = AlterUserScramCredentialsRequest::default();
        for c in changes {
            match c {
                ScramChange::Delete { user, mechanism } => {
                    req.deletions.push(ScramCredentialDeletion {
                        name: user.as_str().into(),
                        mechanism: mechanism.code(),
                        ..Default::default()
                    })
                }
                ScramChange::Upsert {
                    user,
                    mechanism,
                    iterations,
                    password,
                } => {
                    let rounds = u32::try_from(*iterations).map_err(|_| {
                        ClientError::Config(format!("iterations {iterations} must be positive"))
                    })?;
                    let salt = random_salt()?;
                    let salted = salted_password(*mechanism, password.as_bytes(), &salt, rounds);
                    req.upsertions.push(ScramCredentialUpsertion {
                        name: user.as_str().into(),
                        mechanism: mechanism.code(),
                        iterations: *iterations,
                        salt: salt.into(),
                        salted_password: salted.into(),
                        ..Default::default()
                    });
                }
            }
        }
        let resp = self.cluster.send_controller(req).await?;
        Ok(resp
            .results
            .iter()
            .map(|r| {
                let user = r.user.to_string();
                let outcome = check(
                    r.error_code,
                    || format!("altering SCRAM credentials of {user}"),
                    r.error_message.as_deref(),
                );
                (user, outcome)
            })
            .collect())
    }
}
