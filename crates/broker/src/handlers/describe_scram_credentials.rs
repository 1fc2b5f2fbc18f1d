//! DescribeUserScramCredentials (key 50), answered from the broker's metadata image as
//! Kafka's `ScramImage.describe` does: each user's mechanisms and iteration counts (never
//! salts or keys); every user when the request names none; RESOURCE_NOT_FOUND for a named
//! user without credentials, DUPLICATE_RESOURCE for a user named twice.

use vltava_protocol::messages::DescribeUserScramCredentialsRequest;
use vltava_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResponse, DescribeUserScramCredentialsResult,
};
use vltava_protocol::{ResponseBody, SharedStr};
use vltava_raft::MetadataImage;

use crate::handlers::context::{Answer, RequestContext, respond};
use vltava_protocol::error_codes::DUPLICATE_RESOURCE;
use vltava_protocol::error_codes::RESOURCE_NOT_FOUND;

/// Kafka's message for a named user without credentials (the name follows).
const NOT_FOUND: &str = "Attempt to describe a user credential that does not exist: ";
/// Kafka's message for a user named twice (the name follows).
const TWICE: &str =
    "Cannot describe SCRAM credentials for the same user twice in a single request: ";

fn result(
    user: SharedStr,
    code: i16,
    message: Option<String>,
) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult {
        user,
        error_code: code,
        error_message: message.map(Into::into),
        ..Default::default()
    }
}

/// The answer to `req` from `image`.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeUserScramCredentialsRequest) -> Answer {
    let controller = cx.broker.controller().ok_or_else(|| cx.not_started())?;
    respond(response(&controller.image(), &req))
}

/// The answer to `req`.
pub fn response(image: &MetadataImage, req: &DescribeUserScramCredentialsRequest) -> ResponseBody {
    // (user, named more than once), in first-seen order; all users when none is named.
    let mut users: Vec<(SharedStr, bool)> = Vec::new();
    match req.users.as_deref() {
        None | Some([]) => {
            users = image
                .scram_credentials
                .keys()
                .map(|u| (SharedStr::from(u.as_str()), false))
                .collect();
        }
        Some(named) => {
            for u in named {
                match users.iter_mut().find(|(n, _)| *n == u.name) {
                    Some(seen) => seen.1 = true,
                    None => users.push((u.name.clone(), false)),
                }
            }
        }
    }
    let results = users
        .into_iter()
        .map(|(user, twice)| {
            if twice {
                let m = format!("{TWICE}{user}");
                return result(user, DUPLICATE_RESOURCE, Some(m));
            }
            match image.scram_credentials.get(user.as_str()) {
                Some(creds) if !creds.is_empty() => DescribeUserScramCredentialsResult {
                    credential_infos: creds
                        .iter()
                        .map(|(m, c)| CredentialInfo {
                            mechanism: m.code(),
                            iterations: c.iterations,
                            ..Default::default()
                        })
                        .collect(),
                    ..result(user, 0, None)
                },
                _ => {
                    let m = format!("{NOT_FOUND}{user}");
                    result(user, RESOURCE_NOT_FOUND, Some(m))
                }
            }
        })
        .collect();
    ResponseBody::from(DescribeUserScramCredentialsResponse {
        results,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::messages::describe_user_scram_credentials_request::UserName;
    use vltava_raft::image::{ScramCredential, ScramMechanism};

    fn image() -> MetadataImage {
        let mut img = MetadataImage::empty("c");
        let cred = |iterations| ScramCredential {
            salt: vec![1],
            stored_key: vec![2; 32],
            server_key: vec![3; 32],
            iterations,
        };
        let alice = img.scram_credentials.entry("alice".into()).or_default();
        alice.insert(ScramMechanism::Sha512, cred(4096));
        alice.insert(ScramMechanism::Sha256, cred(8192));
        img.scram_credentials
            .entry("bob".into())
            .or_default()
            .insert(ScramMechanism::Sha512, cred(4096));
        img
    }

    /// (user, error code, (mechanism, iterations) per credential).
    type Described = Vec<(String, i16, Vec<(i8, i32)>)>;

    fn describe(users: Option<&[&str]>) -> Described {
        let req = DescribeUserScramCredentialsRequest {
            users: users.map(|u| {
                u.iter()
                    .map(|n| UserName {
                        name: (*n).into(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        };
        let ResponseBody::DescribeUserScramCredentials(r) = response(&image(), &req) else {
            panic!("wrong body")
        };
        assert_eq!(r.error_code, 0);
        r.results
            .iter()
            .map(|x| {
                assert_eq!(x.error_code != 0, x.error_message.is_some());
                let infos = x
                    .credential_infos
                    .iter()
                    .map(|c| (c.mechanism, c.iterations))
                    .collect();
                (x.user.to_string(), x.error_code, infos)
            })
            .collect()
    }

    #[test]
    fn mechanisms_and_iterations_of_named_or_all_users() {
        let alice = ("alice".to_string(), 0, vec![(1, 8192), (2, 4096)]);
        let bob = ("bob".to_string(), 0, vec![(2, 4096)]);
        assert_eq!(describe(None), vec![alice.clone(), bob.clone()]);
        assert_eq!(describe(Some(&[])), vec![alice.clone(), bob.clone()]);
        assert_eq!(
            describe(Some(&["bob", "carol", "alice", "bob"])),
            vec![
                ("bob".to_string(), DUPLICATE_RESOURCE, vec![]),
                ("carol".to_string(), RESOURCE_NOT_FOUND, vec![]),
                alice,
            ]
        );
    }
}
