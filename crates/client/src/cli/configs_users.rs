//! `configs --entity-type users`: SCRAM credentials as kafka-configs handles them.
//! `--add-config 'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]'`
//! sets credentials (the salt is made here and only the salted password is sent),
//! `--delete-config SCRAM-SHA-512` removes one, and `--describe` prints each user's
//! mechanisms and iteration counts. Each change goes in a request of its own: a Kafka
//! controller refuses two changes of one user in one request (DUPLICATE_RESOURCE), which
//! is what kafka-configs sends for two mechanisms at once. Users' quotas are `quota_configs`'.

use std::io::Write;

use anyhow::{anyhow, bail};

use crate::admin::{Admin, DEFAULT_ITERATIONS, ScramChange, ScramMechanism};

/// A mechanism named in a user config, or an error naming what is supported.
fn mechanism(name: &str) -> anyhow::Result<ScramMechanism> {
    ScramMechanism::from_name(name).ok_or_else(|| {
        anyhow!(
            "unsupported config {name:?} for SCRAM credentials: only SCRAM-SHA-256 and \
             SCRAM-SHA-512"
        )
    })
}

/// `[iterations=N,]password=P` (brackets already removed), as kafka-configs reads it;
/// iterations -1 or absent means 4096.
fn iterations_and_password(m: ScramMechanism, value: &str) -> anyhow::Result<(i32, String)> {
    let invalid = || anyhow!("Invalid credential property {m}={value}");
    let (iterations, rest) = match value.strip_prefix("iterations=") {
        Some(rest) => {
            let (n, rest) = rest.split_once(',').ok_or_else(invalid)?;
            let n: i32 = if n.is_empty() {
                -1
            } else {
                n.parse().map_err(|_| invalid())?
            };
            (if n == -1 { DEFAULT_ITERATIONS } else { n }, rest)
        }
        None => (DEFAULT_ITERATIONS, value),
    };
    let password = rest.strip_prefix("password=").ok_or_else(invalid)?;
    if iterations < m.min_iterations() {
        bail!(
            "Iterations {iterations} is less than the minimum {} required for {m}",
            m.min_iterations()
        );
    }
    Ok((iterations, password.to_string()))
}

/// The changes `--add-config` / `--delete-config` ask for `user`: deletions first.
pub(super) fn changes(
    user: &str,
    add: &[(String, String)],
    delete: &[String],
) -> anyhow::Result<Vec<ScramChange>> {
    let mut out = Vec::new();
    for name in delete {
        out.push(ScramChange::Delete {
            user: user.to_string(),
            mechanism: mechanism(name)?,
        });
    }
    for (name, value) in add {
        let m = mechanism(name)?;
        let (iterations, password) = iterations_and_password(m, value)?;
        out.push(ScramChange::Upsert {
            user: user.to_string(),
            mechanism: m,
            iterations,
            password,
        });
    }
    Ok(out)
}

/// `--alter` for one user.
pub(super) async fn alter(
    admin: &Admin,
    user: &str,
    add: &[(String, String)],
    delete: &[String],
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    if user.is_empty() {
        bail!("SCRAM credentials need a user name (--entity-name), not the default user");
    }
    let changes = changes(user, add, delete)?;
    if changes.is_empty() {
        bail!("--alter needs --add-config or --delete-config");
    }
    for change in &changes {
        for (_, outcome) in admin
            .alter_user_scram_credentials(std::slice::from_ref(change))
            .await?
        {
            outcome?;
        }
    }
    writeln!(out, "Completed updating config for user {user}.")?;
    Ok(())
}

/// `--describe` of one user or (without a name) every user with credentials.
pub(super) async fn describe(
    admin: &Admin,
    user: Option<&str>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let named: Option<Vec<String>> = user.map(|u| vec![u.to_string()]);
    for u in admin
        .describe_user_scram_credentials(named.as_deref())
        .await?
    {
        let text: Vec<String> = u
            .credentials
            .iter()
            .map(|(code, iterations)| {
                let name = ScramMechanism::from_code(*code).map_or("UNKNOWN", |m| m.name());
                format!("{name}=iterations={iterations}")
            })
            .collect();
        writeln!(
            out,
            "SCRAM credential configs for user-principal '{}' are {}",
            u.user,
            text.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn scram_configs_parse_as_kafka_configs_reads_them() {
        let got = changes(
            "alice",
            &add(&[
                ("SCRAM-SHA-256", "iterations=8192,password=alice-secret"),
                ("SCRAM-SHA-512", "password=a,b=c]"),
            ]),
            &["SCRAM-SHA-512".to_string()],
        )
        .unwrap();
        let upsert = |mechanism, iterations, password: &str| ScramChange::Upsert {
            user: "alice".into(),
            mechanism,
            iterations,
            password: password.into(),
        };
        assert_eq!(
            got,
            vec![
                ScramChange::Delete {
                    user: "alice".into(),
                    mechanism: ScramMechanism::Sha512
                },
                upsert(ScramMechanism::Sha256, 8192, "alice-secret"),
                upsert(ScramMechanism::Sha512, 4096, "a,b=c]"),
            ]
        );
        let minus_one = changes(
            "a",
            &add(&[("SCRAM-SHA-256", "iterations=-1,password=p")]),
            &[],
        );
        assert_eq!(
            minus_one.unwrap(),
            vec![ScramChange::Upsert {
                user: "a".into(),
                mechanism: ScramMechanism::Sha256,
                iterations: 4096,
                password: "p".into(),
            }]
        );
        for (k, v) in [
            ("SCRAM-SHA-256", "iterations=100,password=p"),
            ("SCRAM-SHA-256", "iterations=x,password=p"),
            ("SCRAM-SHA-256", "pass=p"),
            ("SCRAM-SHA-256", "iterations=8192"),
            ("producer_byte_rate", "1024"),
            ("scram-sha-256", "password=p"),
        ] {
            assert!(changes("a", &add(&[(k, v)]), &[]).is_err(), "{k}={v}");
        }
        assert!(changes("a", &[], &["SCRAM-SHA-1".to_string()]).is_err());
    }
}
