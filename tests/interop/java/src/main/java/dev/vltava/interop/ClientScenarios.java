package dev.vltava.interop;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the Java client scenarios against one broker, in one JVM (JVM start-up is slow), and
 * prints one line per scenario for tests/interop/test_java_client.py to parse:
 * {@code SCENARIO <name> PASS <detail>} or {@code SCENARIO <name> FAIL <reason>}.
 *
 * <p>Usage: {@code ClientScenarios <bootstrap> [scenario ...]} (all scenarios when none named).
 * Exits 0 only when every scenario passed.
 */
public final class ClientScenarios {
    interface Scenario {
        String run(Kafka kafka) throws Exception;
    }

    static Map<String, Scenario> all() {
        Map<String, Scenario> s = new LinkedHashMap<>();
        s.put("producer_defaults", ProducerScenarios::defaults);
        s.put("consumer_group_classic", GroupScenarios::twoConsumersClassic);
        s.put("transactions", TransactionScenarios::commitAndAbort);
        s.put("admin_topics", AdminScenarios::topics);
        s.put("admin_configs", AdminScenarios::configs);
        s.put("admin_groups", AdminScenarios::groups);
        s.put("admin_offsets_delete_records", AdminScenarios::offsetsAndDeleteRecords);
        s.put("admin_cluster_quorum", AdminScenarios::clusterAndQuorum);
        s.put("admin_scram", ScramScenarios::credentials);
        s.put("admin_client_quotas", ClientQuotaScenarios::quotas);
        // Needs a broker with an authorizer and the client a super user (test_java_admin_acls.py).
        s.put("admin_acls", AclScenarios::acls);
        return s;
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: ClientScenarios <bootstrap> [scenario ...]");
            System.exit(2);
        }
        Map<String, Scenario> scenarios = all();
        List<String> names = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            if (!scenarios.containsKey(args[i])) {
                System.err.println("unknown scenario " + args[i] + "; known: " + scenarios.keySet());
                System.exit(2);
            }
            names.add(args[i]);
        }
        if (names.isEmpty()) {
            names.addAll(scenarios.keySet());
        }
        int passed = 0;
        int failed = 0;
        Kafka kafka = new Kafka(args[0]);
        try {
            for (String name : names) {
                long start = System.currentTimeMillis();
                try {
                    String detail = scenarios.get(name).run(kafka);
                    passed++;
                    System.out.printf("SCENARIO %s PASS %s (%d ms)%n", name, detail,
                        System.currentTimeMillis() - start);
                } catch (Throwable t) {
                    failed++;
                    System.out.printf("SCENARIO %s FAIL %s%n", name, oneLine(t));
                    t.printStackTrace();
                }
                System.out.flush();
            }
        } finally {
            kafka.admin.close();
        }
        System.out.printf("%d passed, %d failed%n", passed, failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static String oneLine(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (b.length() > 0) {
                b.append(" <- ");
            }
            b.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
        }
        return b.toString().replace('\n', ' ');
    }
}
