package dev.vltava.interop;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.common.errors.DuplicateResourceException;
import org.apache.kafka.common.errors.ResourceNotFoundException;
import org.apache.kafka.common.errors.UnacceptableCredentialException;

/** The AdminClient on SCRAM credentials: upsert, describe (all and named), delete, refusals. */
final class ScramScenarios {
    private ScramScenarios() {}

    static String credentials(Kafka kafka) throws Exception {
        String user = Kafka.name("scram");
        String other = Kafka.name("scram-other");
        alter(kafka, new UserScramCredentialUpsertion(user,
            new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), "secret-256"));
        alter(kafka, new UserScramCredentialUpsertion(user,
            new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), "secret-512"));
        alter(kafka, new UserScramCredentialUpsertion(other,
            new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), "other"));
        Check.eventually(() -> mechanisms(kafka, user).equals(Map.of(
                ScramMechanism.SCRAM_SHA_256, 4096, ScramMechanism.SCRAM_SHA_512, 8192)),
            15000, "both mechanisms of " + user + " described");

        // All users, then one named user.
        var all = kafka.admin.describeUserScramCredentials();
        Set<String> users = Set.copyOf(all.users().get());
        Check.isTrue(users.containsAll(Set.of(user, other)), "all users lists both: " + users);
        Check.equal(Set.of(ScramMechanism.SCRAM_SHA_512),
            all.description(other).get().credentialInfos().stream().map(ScramCredentialInfo::mechanism)
                .collect(Collectors.toSet()),
            "mechanisms of " + other + " in the description of all users");
        var named = kafka.admin.describeUserScramCredentials(List.of(user));
        Check.equal(List.of(user), named.users().get(), "users of a named describe");

        // An unknown user: its own future fails, the known one beside it is described.
        String unknown = Kafka.name("scram-nobody");
        var mixed = kafka.admin.describeUserScramCredentials(List.of(user, unknown));
        Check.equal(2, mixed.description(user).get().credentialInfos().size(), "known user beside an unknown");
        Check.throwsCause(ResourceNotFoundException.class, () -> mixed.description(unknown).get(),
            "describing an unknown user");

        // Two changes of one user in one request: Kafka refuses the user's changes.
        String twice = Kafka.name("scram-twice");
        var dup = kafka.admin.alterUserScramCredentials(List.of(
            new UserScramCredentialUpsertion(twice,
                new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), "a"),
            new UserScramCredentialUpsertion(twice,
                new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), "b")));
        Check.throwsCause(DuplicateResourceException.class, () -> dup.values().get(twice).get(),
            "two upsertions of one user in one request");
        Check.throwsCause(ResourceNotFoundException.class,
            () -> kafka.admin.describeUserScramCredentials(List.of(twice)).description(twice).get(),
            "the user refused for two changes has no credential");

        // Too few iterations.
        Check.throwsCause(UnacceptableCredentialException.class,
            () -> alter(kafka, new UserScramCredentialUpsertion(Kafka.name("scram-weak"),
                new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 1024), "weak")),
            "1024 iterations");

        // Deletion: one mechanism, then the other; the user is gone.
        alter(kafka, new UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_256));
        Check.eventually(() -> mechanisms(kafka, user).equals(Map.of(ScramMechanism.SCRAM_SHA_512, 8192)),
            15000, "SCRAM-SHA-256 of " + user + " deleted");
        alter(kafka, new UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512));
        Check.eventually(() -> mechanisms(kafka, user).isEmpty(), 15000, user + " has no credential left");
        Check.throwsCause(ResourceNotFoundException.class,
            () -> alter(kafka, new UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)),
            "deleting a credential that does not exist");
        return "upserted SHA-256 and SHA-512, described all and named, unknown user not found, "
            + "duplicate user refused, 1024 iterations refused, deleted both";
    }

    private static void alter(Kafka kafka, UserScramCredentialAlteration a) throws Exception {
        kafka.admin.alterUserScramCredentials(List.of(a)).all().get();
    }

    /** The user's mechanisms and iterations; empty when the user has none (or is unknown). */
    private static Map<ScramMechanism, Integer> mechanisms(Kafka kafka, String user) {
        try {
            UserScramCredentialsDescription d =
                kafka.admin.describeUserScramCredentials(List.of(user)).description(user).get();
            return d.credentialInfos().stream()
                .collect(Collectors.toMap(ScramCredentialInfo::mechanism, ScramCredentialInfo::iterations));
        } catch (Exception e) {
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof ResourceNotFoundException) {
                    return Map.of();
                }
            }
            throw new AssertionError("describeUserScramCredentials " + user + ": " + e, e);
        }
    }
}
