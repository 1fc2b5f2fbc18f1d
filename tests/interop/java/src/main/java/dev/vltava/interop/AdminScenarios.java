package dev.vltava.interop;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.TopicExistsException;

/** The AdminClient: topics, configs, groups, offsets, delete records, cluster and quorum. */
final class AdminScenarios {
    private AdminScenarios() {}

    static String topics(Kafka kafka) throws Exception {
        String a = Kafka.name("adm-a");
        String b = Kafka.name("adm-b");
        kafka.admin.createTopics(List.of(new NewTopic(a, 2, (short) 1),
            new NewTopic(b, 1, (short) 1).configs(Map.of("cleanup.policy", "compact")))).all().get();
        Check.throwsCause(TopicExistsException.class,
            () -> kafka.admin.createTopics(List.of(new NewTopic(a, 2, (short) 1))).all().get(),
            "creating an existing topic");
        Check.eventually(() -> names(kafka).containsAll(Set.of(a, b)), 15000, "both topics listed");
        var desc = kafka.admin.describeTopics(List.of(a, b)).allTopicNames().get();
        Check.equal(2, desc.get(a).partitions().size(), "partitions of " + a);
        Check.equal(1, desc.get(b).partitions().size(), "partitions of " + b);
        Check.equal(1, desc.get(a).partitions().get(0).replicas().size(), "replicas of " + a + "-0");
        Check.isTrue(desc.get(a).topicId() != null, "topic id of " + a);
        kafka.admin.createPartitions(Map.of(a, NewPartitions.increaseTo(5))).all().get();
        Check.eventually(() -> partitionCount(kafka, a) == 5, 15000, a + " grown to 5 partitions");
        kafka.admin.deleteTopics(List.of(a, b)).all().get();
        Check.eventually(() -> {
            Set<String> n = names(kafka);
            return !n.contains(a) && !n.contains(b);
        }, 15000, "both topics gone from listTopics");
        return "created 2, duplicate refused, described, grown 2->5 partitions, deleted";
    }

    static String configs(Kafka kafka) throws Exception {
        String topic = Kafka.name("cfg");
        kafka.createTopic(topic, 1, Map.of("max.message.bytes", "200000"));
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config c = kafka.admin.describeConfigs(List.of(res)).all().get().get(res);
        Check.equal("604800000", c.get("retention.ms").value(), "default retention.ms");
        Check.equal(ConfigEntry.ConfigSource.DEFAULT_CONFIG, c.get("retention.ms").source(), "retention.ms source");
        Check.equal("200000", c.get("max.message.bytes").value(), "max.message.bytes set at creation");
        Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, c.get("max.message.bytes").source(),
            "max.message.bytes source");
        kafka.admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE))))
            .all().get();
        Check.eventually(() -> {
            Config now = describe(kafka, res);
            return "3600000".equals(now.get("retention.ms").value())
                && now.get("max.message.bytes").source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG;
        }, 10000, "retention.ms set and max.message.bytes back to its default");
        Config after = describe(kafka, res);
        Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, after.get("retention.ms").source(),
            "altered retention.ms source");
        Check.equal("1048588", after.get("max.message.bytes").value(), "default max.message.bytes");
        // The broker's own configs.
        Node node = kafka.admin.describeCluster().nodes().get().iterator().next();
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, node.idString());
        Config bc = describe(kafka, broker);
        Check.isTrue(bc.get("num.partitions") != null, "broker config num.partitions described");
        return "described defaults, set retention.ms, deleted an override, described broker " + node.id();
    }

    static String groups(Kafka kafka) throws Exception {
        String topic = Kafka.name("grp");
        String group = Kafka.name("ag");
        kafka.createTopic(topic, 2, Map.of());
        try (KafkaProducer<String, String> p = kafka.producer(Kafka.props())) {
            for (int i = 0; i < 20; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, null, "x" + i));
            }
        }
        TopicPartition tp0 = new TopicPartition(topic, 0);
        TopicPartition tp1 = new TopicPartition(topic, 1);
        try (KafkaConsumer<String, String> c = kafka.consumer(Kafka.props("group.id", group,
                "group.protocol", "classic", "enable.auto.commit", "false"))) {
            c.subscribe(List.of(topic));
            int got = 0;
            long deadline = System.currentTimeMillis() + 30000;
            while (got < 20 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    got++;
                }
            }
            Check.equal(20, got, "records consumed by the group");
            c.commitSync();
            Check.eventually(() -> {
                try {
                    GroupListing l = kafka.admin.listGroups().all().get().stream()
                        .filter(g -> g.groupId().equals(group)).findFirst().orElse(null);
                    return l != null && l.groupState().orElse(null) == GroupState.STABLE;
                } catch (Exception e) {
                    return false;
                }
            }, 10000, "group listed as Stable");
            ConsumerGroupDescription d = kafka.admin.describeConsumerGroups(List.of(group))
                .describedGroups().get(group).get();
            Check.equal(GroupState.STABLE, d.groupState(), "described state");
            Check.equal(1, d.members().size(), "members");
            Check.equal(Set.of(tp0, tp1), d.members().iterator().next().assignment().topicPartitions(),
                "member assignment");
            Check.isTrue(d.coordinator() != null && d.coordinator().id() >= 0, "coordinator");
            Check.throwsCause(GroupNotEmptyException.class,
                () -> kafka.admin.deleteConsumerGroups(List.of(group)).all().get(),
                "deleting a group with a member");
        }
        var offsets = kafka.admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        Check.equal(10L, offsets.get(tp0).offset(), "committed offset of " + tp0);
        Check.equal(10L, offsets.get(tp1).offset(), "committed offset of " + tp1);
        // The group is empty now: offsets can be altered and deleted, the group deleted.
        Check.eventually(() -> {
            try {
                return kafka.admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get()
                    .groupState() == GroupState.EMPTY;
            } catch (Exception e) {
                return false;
            }
        }, 10000, "group Empty after its consumer left");
        kafka.admin.alterConsumerGroupOffsets(group, Map.of(tp0, new OffsetAndMetadata(3, "meta"))).all().get();
        offsets = kafka.admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        Check.equal(3L, offsets.get(tp0).offset(), "altered offset");
        Check.equal("meta", offsets.get(tp0).metadata(), "altered offset metadata");
        kafka.admin.deleteConsumerGroupOffsets(group, Set.of(tp1)).all().get();
        offsets = kafka.admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        Check.isTrue(offsets.get(tp1) == null, "deleted offset of " + tp1 + " is gone: " + offsets);
        kafka.admin.deleteConsumerGroups(List.of(group)).all().get();
        Set<String> left = kafka.admin.listGroups().all().get().stream().map(GroupListing::groupId)
            .collect(Collectors.toSet());
        Check.isTrue(!left.contains(group), "deleted group still listed");
        return "listed Stable, described 1 member with 2 partitions, offsets listed/altered/deleted, group deleted";
    }

    static String offsetsAndDeleteRecords(Kafka kafka) throws Exception {
        String topic = Kafka.name("offs");
        kafka.createTopic(topic, 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 100000;
        try (KafkaProducer<String, String> p = kafka.producer(Kafka.props())) {
            for (int i = 0; i < 50; i++) {
                // Timestamps rise by one second a record; the 30th has the largest.
                long ts = base + (i == 30 ? 90000 : i * 1000L);
                p.send(new ProducerRecord<>(topic, 0, ts, null, "o" + i));
            }
        }
        Check.equal(0L, offset(kafka, tp, OffsetSpec.earliest()), "earliest");
        Check.equal(50L, offset(kafka, tp, OffsetSpec.latest()), "latest");
        Check.equal(10L, offset(kafka, tp, OffsetSpec.forTimestamp(base + 9500)), "offset for a timestamp");
        Check.equal(30L, offset(kafka, tp, OffsetSpec.maxTimestamp()), "offset of the max timestamp");
        var low = kafka.admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(20))).lowWatermarks()
            .get(tp).get();
        Check.equal(20L, low.lowWatermark(), "low watermark after delete records");
        Check.equal(20L, offset(kafka, tp, OffsetSpec.earliest()), "earliest after delete records");
        var recs = kafka.readAll(List.of(tp), 30, Kafka.props(), 15000);
        Check.equal(30, recs.size(), "records left after delete records");
        Check.equal(20L, recs.get(0).offset(), "first offset read");
        Check.equal("o20", recs.get(0).value(), "first value read");
        return "earliest 0, latest 50, by timestamp 10, max timestamp 30, deleted before 20, read 20..49";
    }

    static String clusterAndQuorum(Kafka kafka) throws Exception {
        var cluster = kafka.admin.describeCluster();
        String clusterId = cluster.clusterId().get();
        Check.isTrue(clusterId != null && !clusterId.isEmpty(), "cluster id");
        var nodes = cluster.nodes().get();
        Check.equal(1, nodes.size(), "brokers in the cluster");
        Node controller = cluster.controller().get();
        Check.isTrue(controller != null && controller.id() >= 0, "controller " + controller);
        QuorumInfo q = kafka.admin.describeMetadataQuorum().quorumInfo().get();
        Check.isTrue(q.leaderId() >= 0, "quorum leader " + q.leaderId());
        Check.equal(1, q.voters().size(), "voters");
        Check.equal(q.leaderId(), q.voters().get(0).replicaId(), "the single voter leads");
        Check.isTrue(q.highWatermark() > 0, "quorum high watermark " + q.highWatermark());
        Check.isTrue(q.voters().get(0).logEndOffset() >= q.highWatermark(), "voter log end offset");
        return "cluster " + clusterId + ", 1 broker, quorum leader " + q.leaderId() + " at high watermark "
            + q.highWatermark();
    }

    private static Set<String> names(Kafka kafka) {
        try {
            return kafka.admin.listTopics().names().get();
        } catch (Exception e) {
            return Set.of();
        }
    }

    private static int partitionCount(Kafka kafka, String topic) {
        try {
            return kafka.admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
        } catch (Exception e) {
            return -1;
        }
    }

    private static Config describe(Kafka kafka, ConfigResource res) {
        try {
            return kafka.admin.describeConfigs(List.of(res)).all().get().get(res);
        } catch (Exception e) {
            throw new AssertionError("describeConfigs " + res + ": " + e, e);
        }
    }

    private static long offset(Kafka kafka, TopicPartition tp, OffsetSpec spec) throws Exception {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        req.put(tp, spec);
        return kafka.admin.listOffsets(req).all().get().get(tp).offset();
    }
}
