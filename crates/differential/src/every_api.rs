//! The `every_api` scenario: every client-facing API both brokers advertise, at the highest
//! version both support, gets the same seeded random request ([`crate::random_requests`])
//! on both — once as generated (its random topics and groups mostly unknown) and, for APIs
//! that name topics, once aimed at topics created identically on both first. Each answer
//! (or the lack of one: [`crate::raw`]) is recorded normalised.

use anyhow::{Result, bail};
use vltava_protocol::messages::InitProducerIdRequest;
use vltava_protocol::{ApiKey, RequestBody, Uuid};

use crate::random_requests::{Targets, aim, body_for};
use crate::raw::exchange;
use crate::scenarios::{
    Settle, batch, create_topics, find_coordinator, produce, topic_id, wait_for_coordinator,
    wait_for_leaders,
};
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

/// Writes [`RECORDS`] records to `name`-`partition`, retrying while the broker is not
/// its leader yet (Kafka answers NOT_LEADER_OR_FOLLOWER for a moment after Metadata
/// names it).
async fn write_records(s: &mut Session, name: &str, partition: i32) -> Result<()> {
    let settle = Settle::start();
    loop {
        let records = batch(0, RECORDS, (-1, -1, -1))?;
        let r = s.call(produce(name, partition, -1, records)).await?;
        let answers = r.responses.iter().flat_map(|t| &t.partition_responses);
        match answers.map(|p| p.error_code).find(|code| *code != 0) {
            None => return Ok(()),
            Some(6) => {}
            Some(code) => bail!("{name}-{partition}: produce error {code}"),
        }
        settle
            .wait(|| format!("{name}-{partition}: no leader to write to"))
            .await?;
    }
}

/// Waits until the group and transaction coordinators answer (their internal topics
/// created and loaded), so the random requests meet a ready coordinator whether or not
/// other scenarios ran first.
async fn coordinators_ready(s: &mut Session, topic: &str) -> Result<()> {
    wait_for_coordinator(s, "every-api-group", topic).await?;
    let mut find = find_coordinator(s, "every-api-txn");
    find.key_type = 1;
    let init = InitProducerIdRequest {
        transactional_id: Some("every-api-txn".into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let settle = Settle::start();
    loop {
        s.call(find.clone()).await?;
        let code = s.call(init.clone()).await?.error_code;
        if code == 0 {
            return Ok(());
        }
        settle
            .wait(|| format!("no transaction coordinator (last error {code})"))
            .await?;
    }
}

/// Sends `body` at `version` to `addr` and records the request and the answer. An aimed
/// request carries this broker's own id of the target topic (`own_id`), written `_` in the
/// recorded request as `topic_id` is in answers.
async fn send(
    s: &mut Session,
    addr: &str,
    step: &str,
    version: i16,
    body: &RequestBody,
    own_id: Uuid,
) {
    let answer = exchange(addr, version, body).await;
    let request = format!("{body:?}");
    let request = if own_id == Uuid::default() {
        request
    } else {
        request.replace(&own_id.to_string(), "_")
    };
    s.record(
        step,
        body.api_key(),
        version,
        &request,
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
        // Each broker's own data directory and disk.
        "log_dir",
        "total_bytes",
        "usable_bytes",
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
            write_records(s, name, partition).await?;
        }
    }
    t.topic_id = topic_id(s, &t.topic).await?;
    coordinators_ready(s, &t.topic).await?;
    let addr = s.addr().to_owned();
    let apis: Vec<(ApiKey, i16)> = s
        .shared()
        .iter()
        .filter_map(|(k, v)| Some((ApiKey::from_i16(*k)?, *v)))
        .filter(|(k, _)| !LEFT_OUT.contains(k))
        .collect();
    for (key, version) in apis {
        let body = body_for(key, version, SEED);
        let random = format!("{} random", key.name());
        send(s, &addr, &random, version, &body, Uuid::default()).await;
        // The first seed whose body names a topic to aim (none for APIs without topics).
        let aimed = (SEED + 1..SEED + 1 + AIM_TRIES).find_map(|seed| {
            let mut body = body_for(key, version, seed);
            aim(&mut body, &t, seed).then_some(body)
        });
        if let Some(body) = aimed {
            let aimed = format!("{} aimed", key.name());
            send(s, &addr, &aimed, version, &body, t.topic_id).await;
        }
    }
    Ok(())
}
