package dev.vltava.interop;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaEntity;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.quota.ClientQuotaFilterComponent;

/** The AdminClient on client quotas: alter, describe with every kind of filter, remove, refuse. */
final class ClientQuotaScenarios {
    private ClientQuotaScenarios() {}

    static String quotas(Kafka kafka) throws Exception {
        String u = Kafka.name("qu");
        String c = Kafka.name("qc");
        ClientQuotaEntity user = entity(ClientQuotaEntity.USER, u);
        ClientQuotaEntity client = entity(ClientQuotaEntity.CLIENT_ID, c);
        ClientQuotaEntity pair = entity(ClientQuotaEntity.USER, u, ClientQuotaEntity.CLIENT_ID, c);
        ClientQuotaEntity defaultClient = entity(ClientQuotaEntity.CLIENT_ID, null);
        kafka.admin.alterClientQuotas(List.of(
            alteration(user, "producer_byte_rate", 1024.0, "consumer_byte_rate", 2048.0),
            alteration(client, "request_percentage", 50.0),
            alteration(pair, "producer_byte_rate", 4096.0),
            alteration(defaultClient, "consumer_byte_rate", 8192.0))).all().get();
        Map<ClientQuotaEntity, Map<String, Double>> want = Map.of(
            user, Map.of("producer_byte_rate", 1024.0, "consumer_byte_rate", 2048.0),
            client, Map.of("request_percentage", 50.0),
            pair, Map.of("producer_byte_rate", 4096.0),
            defaultClient, Map.of("consumer_byte_rate", 8192.0));
        Check.eventually(() -> describe(kafka, ClientQuotaFilter.all()).entrySet()
            .containsAll(want.entrySet()), 15000, "the four entities' quotas described");

        // Exact entity: strict is the user alone, not strict adds the user+client pair.
        Check.equal(Map.of(user, want.get(user)),
            describe(kafka, ClientQuotaFilter.containsOnly(List.of(
                ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, u)))),
            "strict filter on user " + u);
        Check.equal(Map.of(user, want.get(user), pair, want.get(pair)),
            describe(kafka, ClientQuotaFilter.contains(List.of(
                ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, u)))),
            "filter on user " + u);
        Check.equal(Map.of(pair, want.get(pair)),
            describe(kafka, ClientQuotaFilter.containsOnly(List.of(
                ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, u),
                ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.CLIENT_ID, c)))),
            "strict filter on the user+client pair");
        // The default client id.
        Check.equal(Map.of(defaultClient, want.get(defaultClient)),
            describe(kafka, ClientQuotaFilter.containsOnly(List.of(
                ClientQuotaFilterComponent.ofDefaultEntity(ClientQuotaEntity.CLIENT_ID)))),
            "strict filter on the default client id");
        // Any client id: the named one and the default, alone (strict) or with a user.
        Map<ClientQuotaEntity, Map<String, Double>> anyClient = describe(kafka,
            ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofEntityType(
                ClientQuotaEntity.CLIENT_ID))));
        Check.equal(Set.of(client, defaultClient), anyClient.keySet(), "strict filter on any client id");
        Map<ClientQuotaEntity, Map<String, Double>> withClient = describe(kafka,
            ClientQuotaFilter.contains(List.of(ClientQuotaFilterComponent.ofEntityType(
                ClientQuotaEntity.CLIENT_ID))));
        Check.equal(Set.of(client, defaultClient, pair), withClient.keySet(), "filter on any client id");
        Check.equal(Map.of(pair, want.get(pair)),
            describe(kafka, ClientQuotaFilter.containsOnly(List.of(
                ClientQuotaFilterComponent.ofEntityType(ClientQuotaEntity.USER),
                ClientQuotaFilterComponent.ofEntityType(ClientQuotaEntity.CLIENT_ID)))),
            "strict filter on any user with any client id");

        // Removal: one key of the user, every key of the client id.
        kafka.admin.alterClientQuotas(List.of(
            alteration(user, "producer_byte_rate", null),
            alteration(client, "request_percentage", null))).all().get();
        Check.eventually(() -> {
            Map<ClientQuotaEntity, Map<String, Double>> now = describe(kafka, ClientQuotaFilter.all());
            return Map.of("consumer_byte_rate", 2048.0).equals(now.get(user)) && !now.containsKey(client);
        }, 15000, "producer_byte_rate of the user and the client id's quota removed");

        // An unknown key is refused, and nothing of that request is applied.
        Check.throwsCause(InvalidRequestException.class,
            () -> kafka.admin.alterClientQuotas(List.of(alteration(user, "not_a_quota", 1.0)))
                .all().get(),
            "an unknown quota key");
        // Empty names are refused (a null name is the default entity).
        Check.throwsCause(InvalidRequestException.class,
            () -> kafka.admin.alterClientQuotas(List.of(alteration(entity(ClientQuotaEntity.USER, ""),
                "producer_byte_rate", 1.0))).all().get(),
            "an empty user name");
        Check.throwsCause(InvalidRequestException.class,
            () -> kafka.admin.alterClientQuotas(List.of(alteration(
                entity(ClientQuotaEntity.USER, u, ClientQuotaEntity.CLIENT_ID, ""), "producer_byte_rate", 1.0)))
                .all().get(),
            "an empty client id");
        // Filters Kafka refuses: ip beside client-id, an entity type it does not know.
        Check.throwsCause(InvalidRequestException.class,
            () -> kafka.admin.describeClientQuotas(ClientQuotaFilter.contains(List.of(
                ClientQuotaFilterComponent.ofDefaultEntity(ClientQuotaEntity.IP),
                ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.CLIENT_ID, c)))).entities().get(),
            "a filter on ip and client-id");
        Check.throwsCause(UnsupportedVersionException.class,
            () -> kafka.admin.describeClientQuotas(ClientQuotaFilter.contains(List.of(
                ClientQuotaFilterComponent.ofEntityType("group")))).entities().get(),
            "a filter on an unknown entity type");
        Check.equal(Map.of(user, Map.of("consumer_byte_rate", 2048.0)),
            describe(kafka, ClientQuotaFilter.containsOnly(List.of(
                ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, u)))),
            "the user's quotas after the refused changes");

        // Clean up, so the defaults do not throttle later scenarios.
        kafka.admin.alterClientQuotas(List.of(
            alteration(user, "consumer_byte_rate", null),
            alteration(pair, "producer_byte_rate", null),
            alteration(defaultClient, "consumer_byte_rate", null))).all().get();
        Check.eventually(() -> {
            Set<ClientQuotaEntity> left = describe(kafka, ClientQuotaFilter.all()).keySet();
            return Collections.disjoint(left, want.keySet());
        }, 15000, "every quota of the scenario removed");
        return "altered user, client id, user+client and default client; described exact, default and "
            + "any filters strict and not; removed; unknown key, empty names and bad filters refused";
    }

    private static ClientQuotaEntity entity(String... typeAndName) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < typeAndName.length; i += 2) {
            m.put(typeAndName[i], typeAndName[i + 1]);
        }
        return new ClientQuotaEntity(m);
    }

    /** Key/value pairs; a null value removes the key. */
    private static ClientQuotaAlteration alteration(ClientQuotaEntity e, Object... keyValue) {
        List<ClientQuotaAlteration.Op> ops = new java.util.ArrayList<>();
        for (int i = 0; i < keyValue.length; i += 2) {
            ops.add(new ClientQuotaAlteration.Op((String) keyValue[i], (Double) keyValue[i + 1]));
        }
        return new ClientQuotaAlteration(e, ops);
    }

    private static Map<ClientQuotaEntity, Map<String, Double>> describe(Kafka kafka, ClientQuotaFilter f) {
        try {
            return kafka.admin.describeClientQuotas(f).entities().get();
        } catch (Exception e) {
            throw new AssertionError("describeClientQuotas " + f + ": " + e, e);
        }
    }
}
