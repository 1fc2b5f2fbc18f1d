"""ACLs with real clients on a broker running Kafka's StandardAuthorizer: kafka-python's
KafkaAdminClient creates, describes and deletes ACLs; confluent-kafka (librdkafka)
producers, consumers and admin calls are refused with Kafka's errors until ACLs for their
principal (User:ANONYMOUS on PLAINTEXT) allow them; prefixed patterns, DENY entries,
transactional ids and super.users behave as in Kafka; ACLs survive a restart.

The broker first runs with super.users=User:ANONYMOUS (everything allowed, as a PLAINTEXT
cluster's operators configure it) to grant ANONYMOUS ALTER and DESCRIBE on the cluster, then
restarts with super.users=User:admin, so ANONYMOUS manages ACLs but needs ACLs for the rest.
"""
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                         ACLResourcePatternType, KafkaAdminClient, ResourcePattern,
                         ResourcePatternFilter, ResourceType)

from conftest import Broker, create_topic

AUTHORIZER = "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ANON = "User:ANONYMOUS"


def acl(op, resource_type, name, pattern=ACLResourcePatternType.LITERAL,
        permission=ACLPermissionType.ALLOW):
    return ACL(principal=ANON, host="*", operation=op, permission_type=permission,
               resource_pattern=ResourcePattern(resource_type, name, pattern))


def every_acl():
    return ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY,
                     resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                            ACLResourcePatternType.ANY))


def admin_client(bootstrap):
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)


def grant(bootstrap, acls):
    a = admin_client(bootstrap)
    try:
        result = a.create_acls(acls)
        assert not result["failed"], result
    finally:
        a.close()


def produce_error(bootstrap, topic, **extra):
    """Produces one record; returns its delivery error code (None when delivered)."""
    conf = {"bootstrap.servers": bootstrap, "message.timeout.ms": 8000}
    conf.update(extra)
    p = Producer(conf)
    out = []
    p.produce(topic, b"v", on_delivery=lambda err, msg: out.append(err))
    p.flush(15)
    assert out, "no delivery report"
    return None if out[0] is None else out[0].code()


def consume_error_or_value(bootstrap, topic, group, timeout=20):
    """Joins `group` on `topic` and polls: the first record's value, or the first error."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    c.subscribe([topic])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                return m.error().code()
            return m.value()
    finally:
        c.close()
    raise AssertionError("neither a record nor an error")


def create_topic_error(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=10, request_timeout=15)
    try:
        fs[name].result(timeout=20)
        return None
    except KafkaException as e:
        return e.args[0].code()


def start(data_dir, super_users):
    return Broker(data_dir, extra=[AUTHORIZER, f"super.users={super_users}"]).start()


def test_acls_with_real_clients(data_dir):
    # Phase 1: ANONYMOUS is a super user: everything is allowed without ACLs.
    b = start(data_dir, f"User:admin;{ANON}")
    try:
        create_topic(b.bootstrap, "open")
        assert produce_error(b.bootstrap, "open") is None
        assert consume_error_or_value(b.bootstrap, "open", "any-group") == b"v"
        grant(b.bootstrap, [acl(ACLOperation.ALTER, ResourceType.CLUSTER, "kafka-cluster"),
                            acl(ACLOperation.DESCRIBE, ResourceType.CLUSTER, "kafka-cluster")])
    finally:
        b.stop()

    # Phase 2: only User:admin is a super user; ANONYMOUS has its two cluster ACLs.
    b = start(data_dir, "User:admin")
    try:
        a = admin_client(b.bootstrap)
        acls, err = a.describe_acls(every_acl())
        assert err is None or err.errno == 0, err
        assert sorted(x.operation for x in acls) == [ACLOperation.ALTER, ACLOperation.DESCRIBE]

        # No ACL on topics, groups or transactional ids: refused with Kafka's codes.
        assert produce_error(b.bootstrap, "open") == KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert create_topic_error(b.bootstrap, "orders-1") == \
            KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert consume_error_or_value(b.bootstrap, "open", "app-1") in (
            KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED)

        # Prefixed ALLOW ALL on orders-*, a literal DENY WRITE on orders-secret, groups app-*.
        result = a.create_acls([
            acl(ACLOperation.ALL, ResourceType.TOPIC, "orders-", ACLResourcePatternType.PREFIXED),
            acl(ACLOperation.WRITE, ResourceType.TOPIC, "orders-secret",
                permission=ACLPermissionType.DENY),
            acl(ACLOperation.READ, ResourceType.GROUP, "app-", ACLResourcePatternType.PREFIXED),
        ])
        assert not result["failed"], result
        assert create_topic_error(b.bootstrap, "orders-1") is None
        assert create_topic_error(b.bootstrap, "orders-secret") is None
        assert create_topic_error(b.bootstrap, "elsewhere") == \
            KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert produce_error(b.bootstrap, "orders-1") is None
        assert produce_error(b.bootstrap, "orders-secret") == \
            KafkaError.TOPIC_AUTHORIZATION_FAILED
        assert consume_error_or_value(b.bootstrap, "orders-1", "app-1") == b"v"
        assert consume_error_or_value(b.bootstrap, "orders-1", "other-group") == \
            KafkaError.GROUP_AUTHORIZATION_FAILED

        # Transactions need WRITE on the transactional id.
        txn_id = "tx-" + uuid.uuid4().hex[:6]
        p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": txn_id})
        try:
            p.init_transactions(15)
            raise AssertionError("init_transactions without a transactional id ACL")
        except KafkaException as e:
            assert e.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e
        result = a.create_acls([acl(ACLOperation.WRITE, ResourceType.TRANSACTIONAL_ID, "tx-",
                                    ACLResourcePatternType.PREFIXED)])
        assert not result["failed"], result
        p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": txn_id})
        p.init_transactions(30)
        p.begin_transaction()
        p.produce("orders-1", b"in-txn")
        p.commit_transaction(30)

        # Deleting the DENY (a MATCH filter on orders-secret selects it and the prefix ALLOW;
        # this one names the DENY exactly) lets the producer write there.
        deleted = a.delete_acls([ACLFilter(
            principal=ANON, host="*", operation=ACLOperation.WRITE,
            permission_type=ACLPermissionType.DENY,
            resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, "orders-secret",
                                                   ACLResourcePatternType.LITERAL))])
        assert len(deleted[0][1]) == 1, deleted
        assert produce_error(b.bootstrap, "orders-secret") is None
        a.close()
    finally:
        b.stop()

    # ACLs survive a restart.
    b = start(data_dir, "User:admin")
    try:
        a = admin_client(b.bootstrap)
        acls, _ = a.describe_acls(every_acl())
        assert len(acls) == 5, acls
        a.close()
        assert produce_error(b.bootstrap, "orders-1") is None
        assert produce_error(b.bootstrap, "open") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        b.stop()
