package dev.vltava.interop;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * A transactional producer: committed and aborted transactions, offsets sent to a group in a
 * transaction; read_committed sees only what was committed, read_uncommitted sees all.
 */
final class TransactionScenarios {
    private TransactionScenarios() {}

    static String commitAndAbort(Kafka kafka) throws Exception {
        String topic = Kafka.name("txn");
        String group = Kafka.name("txg");
        kafka.createTopic(topic, 2, Map.of());
        List<TopicPartition> tps = Kafka.partitions(topic, 2);
        try (KafkaProducer<String, String> p = kafka.producer(Kafka.props(
                "transactional.id", Kafka.name("tid"), "transaction.timeout.ms", "30000"))) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, null, "c1-" + i));
            }
            p.commitTransaction();
            p.beginTransaction();
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, null, "a-" + i));
            }
            p.flush();
            p.abortTransaction();
            p.beginTransaction();
            for (int i = 0; i < 6; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, null, "c2-" + i));
            }
            // Offsets committed to a group within the transaction (consume-transform-produce).
            p.sendOffsetsToTransaction(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(5)),
                new ConsumerGroupMetadata(group));
            p.commitTransaction();
        }
        List<ConsumerRecord<String, String>> committed = kafka.readAll(tps, 16,
            Kafka.props("isolation.level", "read_committed"), 20000);
        List<String> values = new ArrayList<>();
        for (ConsumerRecord<String, String> r : committed) {
            values.add(r.value());
        }
        Check.equal(16, values.size(), "read_committed record count (values " + values + ")");
        for (String v : values) {
            Check.isTrue(!v.startsWith("a-"), "read_committed saw aborted record " + v);
        }
        // Per partition, committed records keep their send order.
        for (int part = 0; part < 2; part++) {
            List<String> inPart = new ArrayList<>();
            for (ConsumerRecord<String, String> r : committed) {
                if (r.partition() == part) {
                    inPart.add(r.value());
                }
            }
            List<String> want = new ArrayList<>();
            for (int i = part; i < 10; i += 2) {
                want.add("c1-" + i);
            }
            for (int i = part; i < 6; i += 2) {
                want.add("c2-" + i);
            }
            Check.equal(want, inPart, "read_committed values of partition " + part);
        }
        List<ConsumerRecord<String, String>> all = kafka.readAll(tps, 26,
            Kafka.props("isolation.level", "read_uncommitted"), 20000);
        Check.equal(26, all.size(), "read_uncommitted record count");
        long lastOffset = 0;
        for (ConsumerRecord<String, String> r : all) {
            lastOffset = Math.max(lastOffset, r.offset());
        }
        // Three transactions, each ending in a control record on both partitions: data at 0-4, 6-10, 12-14.
        Check.equal(14L, lastOffset, "last data offset (control records take offsets)");
        var offsets = kafka.admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        Check.equal(5L, offsets.get(new TopicPartition(topic, 0)).offset(), "offset sent in the transaction");
        return "read_committed 16 of 26 records (aborted 10 hidden), group offset 5 committed by the transaction";
    }
}
