"""The Java AdminClient on ACLs (createAcls, describeAcls with ANY, resource, MATCH and
principal filters, deleteAcls by filter, invalid bindings refused), against Vltava and against
Apache Kafka 4.x, both running Kafka's StandardAuthorizer with super.users=User:ANONYMOUS: the
PLAINTEXT client, and Kafka's own controller and inter-broker connections, are ANONYMOUS, so
everything else keeps working. The scenario (dev.vltava.interop.AclScenarios) runs in one JVM
per broker, like the rest of test_java_client.py, whose brokers run without an authorizer."""
import pytest

from javatools import run_java
from scenario_suite import BROKERS, assert_passed, assert_same_outcome, run_on_every_broker

SCENARIOS = ["admin_acls"]

AUTHORIZER = [
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "super.users=User:ANONYMOUS",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both brokers with the authorizer, one after the other."""
    return run_on_every_broker(
        tmp_path_factory, "java-acls",
        lambda bootstrap: run_java("dev.vltava.interop.ClientScenarios", bootstrap, *SCENARIOS,
                                   timeout=180, check=False),
        extra=AUTHORIZER)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", list(BROKERS))
def test_java_admin_acls(runs, kind, scenario):
    assert_passed(runs, kind, scenario)


def test_same_outcome_on_vltava_and_kafka(runs):
    """A scenario whose outcome differs between the brokers is a difference to fix in Vltava."""
    assert_same_outcome(runs, SCENARIOS)
