package dev.vltava.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/** The producer with the Java client's defaults: idempotence on, acks=all. */
final class ProducerScenarios {
    private ProducerScenarios() {}

    static String defaults(Kafka kafka) throws Exception {
        String topic = Kafka.name("producer");
        int partitions = 3;
        int n = 300;
        kafka.createTopic(topic, partitions, Map.of());
        // The defaults this scenario is about, as the client resolves them.
        ProducerConfig cfg = new ProducerConfig(Kafka.props(
            "bootstrap.servers", kafka.bootstrap,
            "key.serializer", "org.apache.kafka.common.serialization.StringSerializer",
            "value.serializer", "org.apache.kafka.common.serialization.StringSerializer"));
        Check.equal(true, cfg.getBoolean(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), "enable.idempotence default");
        Check.equal("-1", cfg.getString(ProducerConfig.ACKS_CONFIG), "acks default (all)");

        List<Future<RecordMetadata>> acks = new ArrayList<>();
        try (KafkaProducer<String, String> p = kafka.producer(Kafka.props())) {
            for (int i = 0; i < n; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, null, "k" + (i % 17), "v" + i,
                    List.<Header>of(new RecordHeader("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8))));
                acks.add(p.send(r));
            }
            p.flush();
        }
        // Offsets per partition are dense from 0; a key always lands on one partition.
        Map<Integer, List<Long>> offsets = new HashMap<>();
        Map<String, Integer> keyPartition = new HashMap<>();
        for (int i = 0; i < n; i++) {
            RecordMetadata md = acks.get(i).get();
            offsets.computeIfAbsent(md.partition(), x -> new ArrayList<>()).add(md.offset());
            Integer prev = keyPartition.put("k" + (i % 17), md.partition());
            Check.isTrue(prev == null || prev == md.partition(), "key k" + (i % 17) + " on two partitions");
        }
        for (Map.Entry<Integer, List<Long>> e : offsets.entrySet()) {
            List<Long> os = e.getValue();
            for (int j = 0; j < os.size(); j++) {
                Check.equal((long) j, os.get(j), "offset #" + j + " of partition " + e.getKey());
            }
        }
        List<ConsumerRecord<String, String>> got = kafka.readAll(Kafka.partitions(topic, partitions), n,
            Kafka.props(), 20000);
        Check.equal(n, got.size(), "records read back");
        Map<String, String> byValue = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) {
            String seq = new String(r.headers().lastHeader("seq").value(), StandardCharsets.UTF_8);
            Check.equal("v" + seq, r.value(), "header seq matches the value");
            byValue.put(r.value(), r.key());
        }
        for (int i = 0; i < n; i++) {
            Check.equal("k" + (i % 17), byValue.get("v" + i), "key of v" + i);
        }
        return n + " records on " + offsets.size() + " partitions, dense offsets, keys and headers intact";
    }
}
