package dev.vltava.interop;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/** A consumer group of two consumers (classic protocol) sharing a topic, committing offsets. */
final class GroupScenarios {
    private GroupScenarios() {}

    static String twoConsumersClassic(Kafka kafka) throws Exception {
        String topic = Kafka.name("group");
        String group = Kafka.name("g");
        int partitions = 4;
        int n = 400;
        kafka.createTopic(topic, partitions, Map.of());
        try (KafkaProducer<String, String> p = kafka.producer(Kafka.props())) {
            for (int i = 0; i < n; i++) {
                p.send(new ProducerRecord<>(topic, i % partitions, null, "m" + i));
            }
            p.flush();
        }
        var props = Kafka.props("group.id", group, "group.protocol", "classic",
            "enable.auto.commit", "false", "max.poll.records", "25");
        Set<String> seen = new HashSet<>();
        int[] perConsumer = new int[2];
        try (KafkaConsumer<String, String> a = kafka.consumer(props);
             KafkaConsumer<String, String> b = kafka.consumer(props)) {
            a.subscribe(List.of(topic));
            b.subscribe(List.of(topic));
            List<KafkaConsumer<String, String>> cs = List.of(a, b);
            long deadline = System.currentTimeMillis() + 60000;
            // Both must hold partitions at the end, and every record must have been consumed.
            while (!(seen.size() == n && !a.assignment().isEmpty() && !b.assignment().isEmpty())) {
                Check.isTrue(System.currentTimeMillis() < deadline, "timed out: consumed " + seen.size()
                    + " of " + n + ", assignments " + a.assignment() + " / " + b.assignment());
                for (int i = 0; i < 2; i++) {
                    var recs = cs.get(i).poll(Duration.ofMillis(100));
                    for (ConsumerRecord<String, String> r : recs) {
                        seen.add(r.value());
                        perConsumer[i]++;
                    }
                    if (!recs.isEmpty()) {
                        cs.get(i).commitSync();
                    }
                }
            }
            Set<TopicPartition> union = new HashSet<>(a.assignment());
            union.addAll(b.assignment());
            Check.equal(partitions, union.size(), "partitions assigned over both consumers");
            Check.equal(partitions, a.assignment().size() + b.assignment().size(),
                "no partition assigned to both");
            // Committed offsets sit at the end of every partition.
            Map<TopicPartition, OffsetAndMetadata> committed =
                kafka.admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (TopicPartition tp : Kafka.partitions(topic, partitions)) {
                latest.put(tp, OffsetSpec.latest());
            }
            var ends = kafka.admin.listOffsets(latest).all().get();
            for (TopicPartition tp : Kafka.partitions(topic, partitions)) {
                Check.equal((long) (n / partitions), ends.get(tp).offset(), "end offset of " + tp);
                Check.isTrue(committed.containsKey(tp), "committed offset for " + tp);
                Check.equal(ends.get(tp).offset(), committed.get(tp).offset(), "committed offset of " + tp);
            }
        }
        return n + " records over 2 consumers (" + perConsumer[0] + " + " + perConsumer[1]
            + " deliveries), " + partitions + " partitions split, commits at the end offsets";
    }
}
