"""librdkafka's own broker test suite (librdkafka 2.12.1's tests/, built into .tools/ by
scripts/librdkafka-env.sh) against one Vltava broker configured as librdkafka's test
clusters are (trivup: `num.partitions=4`, auto topic creation, an authorizer with
`allow.everyone.if.no.acl.found=true`), run as `test-runner -Q -E -L -K`: quick mode,
broker tests only, no socket emulation, no known-issue tests, TEST_KAFKA_VERSION=4.1.1.
Kafka's own tools (kafka-topics.sh, kafka-acls.sh, kafka-configs.sh, kafka-run-class.sh)
come from Kafka 4.1.1 in .tools/java through a KAFKA_PATH-shaped directory.

Passes when no test fails; the tests in librdkafka_exclusions.txt are left out, each with
its reason. Those it marks "needs a three-node cluster" run on examples/cluster/cluster.sh's
three nodes instead; the tests needing SASL run against a SASL_PLAINTEXT listener with
SCRAM-SHA-512. The suite's result table is in the assertion message and in
librdkafka-summary.txt under the test's tmp dir (printed with -s too), the runner's full
output in test-runner.log beside it.
"""
from librdkafka_suite import (CLUSTER_REASON, exclusions, make_kafka_path, passed_subtests, run,
                              suite_dir, table, write_test_conf)
from conftest import Broker, running
from test_cluster import Cluster
from test_cluster import running as running_cluster

# Each run of the runner is killed after this long (the whole suite takes ~220 s on 2 cores,
# this file ~6 min).
SUITE_TIMEOUT = 480

# librdkafka's test clusters (trivup's server.properties) on one node.
BROKER_CONFIG = [
    "num.partitions=4",
    "auto.create.topics.enable=true",
    "default.replication.factor=1",
    "offsets.topic.replication.factor=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found=true",
]


def run_and_check(tmp_path, bootstrap, brokers, conf_extra=None, tests=None, quick=True,
                  env_extra=None):
    """Runs the suite against `bootstrap` (`brokers`: the PLAINTEXT addresses Kafka's tools
    use) and checks its table: no test failed, the runner exited 0, and in a whole-suite run
    (`tests` None) every excluded test was left out. Returns the run's Result."""
    suite = suite_dir()
    excluded = exclusions()
    kafka_path = make_kafka_path(tmp_path / "kafka")
    conf = tmp_path / "test.conf"
    write_test_conf(conf, bootstrap, conf_extra)
    env = dict(env_extra or {})
    if tests:
        env["TESTS"] = ",".join(tests)
    skip = sorted(set(excluded) - set(tests or ()))
    result = run(suite, conf, kafka_path, brokers, tmp_path / "test-runner.log",
                 SUITE_TIMEOUT, skip, quick=quick, env_extra=env)

    text = table(result.rows)
    header = (f"librdkafka test suite: {result.seconds:.0f} s, exit code {result.returncode}, "
              f"full output in {result.log}")
    (tmp_path / "librdkafka-summary.txt").write_text(header + "\n" + text + "\n")
    print(header)
    print(text)
    tail = result.log.read_text(errors="replace")[-4000:]
    failures = "\n".join(result.failures[:20])
    assert not result.timed_out, (
        f"the suite did not finish in {SUITE_TIMEOUT} s; its failures so far:\n{failures}\n"
        f"end of its output:\n{tail}")
    assert result.rows, (
        f"no summary table in the suite's output (exit code {result.returncode}); its "
        f"failures:\n{failures}\nend of its output:\n{tail}")

    failed = [r for r in result.rows if r.state in ("FAILED", "RUNNING")]
    assert not failed, (
        f"{len(failed)} librdkafka tests failed:\n"
        + "\n".join(f"{r.name}: {r.reason}" for r in failed)
        + f"\n\n{header}\n{text}")
    if not tests:
        # Every exclusion names a test of the suite, and the suite left it out.
        names = sorted(r.name for r in result.rows)
        for name, _ in excluded.values():
            row = next((r for r in result.rows if r.name == name), None)
            assert row is not None, (
                f"librdkafka_exclusions.txt names {name}, not in the suite's table ({names})")
            assert row.state == "SKIPPED" and "TESTS_SKIP" in row.reason, (
                f"{name} is excluded but the suite did not skip it: {row}")
    assert result.returncode == 0, (
        f"test-runner exited {result.returncode} with no failed test in its table; "
        f"end of its output:\n{tail}\n\n{header}\n{text}")
    return result


def test_librdkafka_broker_suite(data_dir, tmp_path):
    suite_dir()  # fails before the broker starts when the suite is not built
    with running(Broker(data_dir, extra=BROKER_CONFIG)) as b:
        run_and_check(tmp_path, b.bootstrap, b.bootstrap)


def test_librdkafka_suite_on_three_nodes(tmp_path):
    """The excluded tests that need a three-node cluster (replication factor 3), on one."""
    suite_dir()
    tests = sorted(n for n, (_, why) in exclusions().items() if why.startswith(CLUSTER_REASON))
    assert tests, f"no test of librdkafka_exclusions.txt says '{CLUSTER_REASON}'"

    class SuiteCluster(Cluster):
        def __init__(self, directory):
            super().__init__(directory)
            # The cluster's replication settings (default.replication.factor=3,
            # min.insync.replicas=2) stay; librdkafka's test cluster settings on top.
            self.env["CLUSTER_OVERRIDES"] += " " + " ".join(
                c for c in BROKER_CONFIG if "replication.factor" not in c and "min.isr" not in c)

    with running_cluster(SuiteCluster, "vltava-rdksuite-") as c:
        result = run_and_check(tmp_path, c.bootstrap(), c.bootstrap(), tests=tests)
    ran = {r.name[:4] for r in result.rows if r.state == "PASSED"}
    assert set(tests) <= ran, f"not every cluster test ran:\n{table(result.rows)}"


SASL_USER, SASL_PASSWORD = "testuser", "testpass"
# Over SASL_PLAINTEXT with SCRAM-SHA-512, as librdkafka's `make sasl` runs the suite: a few
# tests of its smoke set and 0135 (SASL credentials) in quick mode, then 0142
# (re-authentication every connections.max.reauth.ms), whose subtests run only outside quick
# mode. Of those, do_test_consumer creates a replication-factor-3 topic (no cluster has a
# SASL listener here): SUBTESTS=producer runs do_test_producer and do_test_txn_producer
# (twice). Its OAUTHBEARER subtests skip themselves; do_test_reauth_failure is left out.
SASL_TESTS = ["0001", "0012", "0022", "0039", "0135"]


def test_librdkafka_suite_over_sasl_scram(data_dir, tmp_path):
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)

    suite_dir()
    extra = BROKER_CONFIG + [
        "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,"
        "CONTROLLER://127.0.0.1:0",
        "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512",
        "connections.max.reauth.ms=10000",
    ]
    sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": SASL_USER, "sasl.password": SASL_PASSWORD}
    with running(Broker(data_dir, extra=extra)) as b:
        admin = AdminClient({"bootstrap.servers": b.listeners["PLAINTEXT"]})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
        for f in admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion(SASL_USER, info, SASL_PASSWORD.encode())]).values():
            f.result(15)
        bootstrap, plain = b.listeners["SASL_PLAINTEXT"], b.listeners["PLAINTEXT"]
        quick = run_and_check(tmp_path / "quick", bootstrap, plain, sasl, tests=SASL_TESTS)
        reauth = run_and_check(tmp_path / "reauth", bootstrap, plain, sasl, tests=["0142"],
                               quick=False, env_extra={"SUBTESTS": "producer"})
    ran = {r.name[:4] for r in quick.rows if r.state == "PASSED"}
    assert set(SASL_TESTS) <= ran, f"not every SASL test ran:\n{table(quick.rows)}"
    # 0142 passes without doing anything when it finds no re-authentication interval.
    subtests = passed_subtests(reauth.log, "0142_reauthentication")
    assert len(subtests) == 3, f"0142's re-authentication subtests did not all pass: {subtests}"
