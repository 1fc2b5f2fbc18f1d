package dev.vltava.interop;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.kafka.clients.admin.DeleteAclsResult;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The AdminClient on ACLs (the broker runs an authorizer, the client is a super user): create
 * literal and prefixed bindings, describe with every kind of filter, delete by filter, refusals.
 */
final class AclScenarios {
    private AclScenarios() {}

    static String acls(Kafka kafka) throws Exception {
        String topic = Kafka.name("acl");
        String prefix = topic.substring(0, topic.length() - 4);
        String group = Kafka.name("acl-group");
        AclBinding literalRead = binding(ResourceType.TOPIC, topic, PatternType.LITERAL, "User:alice",
            AclOperation.READ, AclPermissionType.ALLOW);
        AclBinding prefixedRead = binding(ResourceType.TOPIC, prefix, PatternType.PREFIXED, "User:alice",
            AclOperation.READ, AclPermissionType.ALLOW);
        AclBinding denyWrite = binding(ResourceType.TOPIC, topic, PatternType.LITERAL, "User:bob",
            AclOperation.WRITE, AclPermissionType.DENY);
        AclBinding groupRead = binding(ResourceType.GROUP, group, PatternType.LITERAL, "User:alice",
            AclOperation.READ, AclPermissionType.ALLOW);
        Set<AclBinding> created = Set.of(literalRead, prefixedRead, denyWrite, groupRead);
        kafka.admin.createAcls(List.copyOf(created)).all().get();
        Check.eventually(() -> describe(kafka, AclBindingFilter.ANY).containsAll(created), 15000,
            "the four bindings described by the ANY filter");

        // A resource filter: the literal topic only.
        Check.equal(Set.of(literalRead, denyWrite),
            describe(kafka, new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.TOPIC, topic, PatternType.LITERAL),
                AccessControlEntryFilter.ANY)),
            "bindings of the literal topic");
        // MATCH: every pattern that applies to the topic (literal and prefixed).
        Check.equal(Set.of(literalRead, prefixedRead, denyWrite),
            describe(kafka, new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.TOPIC, topic, PatternType.MATCH),
                AccessControlEntryFilter.ANY)),
            "bindings matching the topic");
        // An entry filter: alice's bindings on any resource.
        Check.equal(Set.of(literalRead, prefixedRead, groupRead),
            describe(kafka, new AclBindingFilter(ResourcePatternFilter.ANY,
                new AccessControlEntryFilter("User:alice", null, AclOperation.ANY, AclPermissionType.ANY))),
            "alice's bindings");

        // Delete the topic's DENY bindings: the result lists the binding that matched.
        AclBindingFilter denies = new AclBindingFilter(
            new ResourcePatternFilter(ResourceType.TOPIC, null, PatternType.ANY),
            new AccessControlEntryFilter(null, null, AclOperation.ANY, AclPermissionType.DENY));
        Set<AclBinding> deleted = bindings(kafka.admin.deleteAcls(List.of(denies)).values().get(denies).get());
        Check.equal(Set.of(denyWrite), deleted, "bindings deleted by the DENY filter");
        Check.eventually(() -> {
            Set<AclBinding> now = describe(kafka, AclBindingFilter.ANY);
            return !now.contains(denyWrite) && now.containsAll(Set.of(literalRead, prefixedRead, groupRead));
        }, 15000, "the DENY binding gone, the others left");

        // An invalid binding the client sends (a MATCH pattern it refuses itself): a principal
        // without a type.
        Check.throwsCause(InvalidRequestException.class,
            () -> kafka.admin.createAcls(List.of(binding(ResourceType.TOPIC, topic, PatternType.LITERAL,
                "alice", AclOperation.READ, AclPermissionType.ALLOW))).all().get(),
            "a principal without a type");

        // A principal with an empty name is a principal (only the colon is required).
        AclBinding nameless = binding(ResourceType.GROUP, group, PatternType.LITERAL, "User:",
            AclOperation.DESCRIBE, AclPermissionType.ALLOW);
        kafka.admin.createAcls(List.of(nameless)).all().get();
        Check.eventually(() -> describe(kafka, AclBindingFilter.ANY).contains(nameless), 15000,
            "the binding of User: described");

        // Two filters in one request that select one binding: both list it.
        AclBindingFilter alice = new AclBindingFilter(ResourcePatternFilter.ANY,
            new AccessControlEntryFilter("User:alice", null, AclOperation.ANY, AclPermissionType.ANY));
        AclBindingFilter theTopic = new AclBindingFilter(
            new ResourcePatternFilter(ResourceType.TOPIC, topic, PatternType.LITERAL), AccessControlEntryFilter.ANY);
        AclBindingFilter theGroup = new AclBindingFilter(
            new ResourcePatternFilter(ResourceType.GROUP, group, PatternType.ANY), AccessControlEntryFilter.ANY);
        var results = kafka.admin.deleteAcls(List.of(alice, theTopic, theGroup)).values();
        Check.equal(Set.of(literalRead, prefixedRead, groupRead), bindings(results.get(alice).get()),
            "alice's bindings deleted");
        Check.equal(Set.of(literalRead), bindings(results.get(theTopic).get()),
            "the topic's binding, listed by a second filter too");
        Check.equal(Set.of(groupRead, nameless), bindings(results.get(theGroup).get()),
            "the group's bindings, alice's listed by a second filter too");
        Check.eventually(() -> java.util.Collections.disjoint(describe(kafka, AclBindingFilter.ANY),
                Set.of(literalRead, prefixedRead, groupRead, nameless)),
            15000, "no binding of the scenario left");
        return "created literal, prefixed, DENY and group bindings; described by ANY, resource, MATCH and "
            + "principal filters; deleted by filter, overlapping filters each listing the binding; typeless principal refused, nameless accepted";
    }

    private static AclBinding binding(ResourceType type, String name, PatternType pattern, String principal,
                                      AclOperation op, AclPermissionType permission) {
        return new AclBinding(new ResourcePattern(type, name, pattern),
            new AccessControlEntry(principal, "*", op, permission));
    }

    /** The bindings a filter deleted; each must have been deleted without error. */
    private static Set<AclBinding> bindings(DeleteAclsResult.FilterResults results) {
        Set<AclBinding> out = new HashSet<>();
        for (DeleteAclsResult.FilterResult r : results.values()) {
            Check.isTrue(r.exception() == null, "deleting " + r.binding() + ": " + r.exception());
            out.add(r.binding());
        }
        return out;
    }

    private static Set<AclBinding> describe(Kafka kafka, AclBindingFilter f) {
        try {
            return Set.copyOf(kafka.admin.describeAcls(f).values().get());
        } catch (Exception e) {
            throw new AssertionError("describeAcls " + f + ": " + e, e);
        }
    }
}
