//! The `every_api` scenario: every client-facing API both brokers advertise, at the highest
//! version both support, gets the same seeded random request ([`crate::random_requests`])
//! on both — once as generated (its random topics and groups mostly unknown) and, for APIs
//! that name topics, once aimed at topics created identically on both first. Each answer
//! (or the lack of one: [`crate::raw`]) is recorded normalised.

use anyhow::Result;
use vltava_protocol::{ApiKey, RequestBody};

use crate::random_requests::{Targets, aim, body_for};
use crate::raw::exchange;
use crate::scenarios::{batch, create_topics, produce, topic_id, wait_for_leaders};
use crate::session::Session;

/// APIs left out: SASL, ACL and SCRAM ones (their own tests cover them, and their answers
/// change as security features land), and Raft voter changes (they would change the
/// controller quorum of the cluster under test).
const LEFT_OUT: &[ApiKey] = &[
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::CreateAcls,
    ApiKey::DescribeAcls,
    ApiKey::DeleteAcls,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::AlterUserScramCredentials,
    ApiKey::AddRaftVoter,
    ApiKey::RemoveRaftVoter,
];

/// The seed of every request (fixed: the transcripts are compared against a committed diff).
const SEED: u64 = 13;
/// Seeds tried for a body with a topic to aim at.
const AIM_TRIES: u64 = 20;
/// Partitions of each target topic.
const PARTITIONS: i32 = 3;
/// Records written to each partition of the target topics before the requests.
const RECORDS: usize = 4;

/// Sends `body` at `version` to `addr` and records the request and the answer.
async fn send(s: &mut Session, addr: &str, step: &str, version: i16, body: &RequestBody) {
    let answer = exchange(addr, version, body).await;
    s.record(
        step,
        body.api_key(),
        version,
        &format!("{body:?}"),
        answer.map(|r| format!("{r:#?}")).map_err(|e| e.to_string()),
    );
}

/// Runs the scenario on `s`.
pub async fn every_api(s: &mut Session) -> Result<()> {
    // What differs between any two brokers' ApiVersions answers is compared in
    // `api_versions`; here the answer's error code is.
    s.ignore_also(&[
        "api_keys",
        "supported_features",
        "finalized_features",
        "finalized_features_epoch",
    ]);
    s.lists_unordered();
    let mut t = Targets {
        topic: "every-api".into(),
        topic_id: Default::default(),
        partitions: PARTITIONS,
        scratch: "every-api-scratch".into(),
        doomed: "every-api-doomed".into(),
    };
    let topics = [
        (t.topic.clone(), PARTITIONS),
        (t.scratch.clone(), PARTITIONS),
        (t.doomed.clone(), 1),
    ];
    create_topics(s, &topics).await?;
    for (name, partitions) in &topics {
        wait_for_leaders(s, name, usize::try_from(*partitions).unwrap_or(1)).await?;
    }
    for name in [&t.topic, &t.scratch] {
        for partition in 0..PARTITIONS {
            s.call(produce(
                name,
                partition,
                -1,
                batch(0, RECORDS, (-1, -1, -1))?,
            ))
            .await?;
        }
    }
    t.topic_id = topic_id(s, &t.topic).await?;
    let addr = s.addr().to_owned();
    let apis: Vec<(ApiKey, i16)> = s
        .shared()
        .iter()
        .filter_map(|(k, v)| Some((ApiKey::from_i16(*k)?, *v)))
        .filter(|(k, _)| !LEFT_OUT.contains(k))
        .collect();
    for (key, version) in apis {
        let body = body_for(key, version, SEED);
        send(s, &addr, &format!("{} random", key.name()), version, &body).await;
        // The first seed whose body names a topic to aim (none for APIs without topics).
        let aimed = (SEED + 1..SEED + 1 + AIM_TRIES).find_map(|seed| {
            let mut body = body_for(key, version, seed);
            aim(&mut body, &t, seed).then_some(body)
        });
        if let Some(body) = aimed {
            send(s, &addr, &format!("{} aimed", key.name()), version, &body).await;
        }
    }
    Ok(())
}
