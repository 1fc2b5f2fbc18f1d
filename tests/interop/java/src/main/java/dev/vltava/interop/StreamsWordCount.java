package dev.vltava.interop;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams word count with {@code processing.guarantee=exactly_once_v2}, driven by
 * tests/interop/test_kafka_streams.py: the input lines are split into words, regrouped by
 * word (the repartition topic {@code <app>-words-repartition}), counted in a persistent
 * store (the compacted changelog {@code <app>-counts-changelog}), and every count update (no
 * record cache) is written to the output topic (key: the word, value: the count as a Long).
 *
 * <p>Usage: {@code StreamsWordCount <bootstrap> <application.id> <input> <output> <state.dir>
 * <halt-after> <delay-ms>}. The app processes until a line "stop" (or the end) arrives on
 * stdin, then closes and exits 0 when the close completed. With halt-after &gt; 0 it instead
 * halts the JVM (no close, no shutdown hooks, exit 3) in the middle of input record number
 * halt-after, once the record's first word went to the repartition topic: a crash inside an
 * open transaction that holds records. delay-ms slows each input record so that the crash
 * lands after some transactions committed and before the last.
 *
 * <p>Prints for the test: {@code STATE <state>} on each state change, {@code PROCESSED <n>}
 * every 200 input records, {@code HALT <n>}, {@code ERROR <exception>}, {@code CLOSED <ok>}.
 */
public final class StreamsWordCount {
    private StreamsWordCount() {}

    static final String STORE = "counts";
    static final String GROUPING = "words";

    static Topology topology(String input, String output, long haltAfter, long delayMs) {
        AtomicLong processed = new AtomicLong();
        AtomicLong wordInLine = new AtomicLong();
        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .peek((k, v) -> {
                wordInLine.set(0);
                onInput(processed.incrementAndGet(), delayMs);
            })
            .flatMapValues(StreamsWordCount::words)
            // Words go one by one down to the repartition sink: at the second word of a
            // line, the first is already sent within the open transaction.
            .peek((k, w) -> {
                if (wordInLine.incrementAndGet() == 2 && haltAfter > 0
                        && processed.get() >= haltAfter) {
                    halt(processed.get());
                }
            })
            .groupBy((k, word) -> word, Grouped.with(GROUPING, Serdes.String(), Serdes.String()))
            .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(STORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.Long())
                // Small segments and any dirty ratio, so that the broker compacts the
                // changelog while the test runs (Streams adds cleanup.policy=compact).
                .withLoggingEnabled(Map.of(
                    "segment.ms", "1000", "min.cleanable.dirty.ratio", "0.01")))
            .toStream()
            .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return b.build();
    }

    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        for (String w : line.toLowerCase(Locale.ROOT).split("\\W+")) {
            if (!w.isEmpty()) {
                out.add(w);
            }
        }
        return out;
    }

    private static void onInput(long n, long delayMs) {
        if (n % 200 == 0) {
            System.out.println("PROCESSED " + n);
            System.out.flush();
        }
        if (delayMs > 0) {
            sleep(delayMs);
        }
    }

    /**
     * Halts the JVM in the middle of a transaction: the producer's sender gets a second to
     * deliver what was sent so far, then no commit, no close, no shutdown hook.
     */
    private static void halt(long n) {
        sleep(1000);
        System.out.println("HALT " + n);
        System.out.flush();
        Runtime.getRuntime().halt(3);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: StreamsWordCount <bootstrap> <application.id> <input>"
                + " <output> <state.dir> <halt-after> <delay-ms>");
            System.exit(2);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        // No record cache: every count update goes to the output and the changelog, so the
        // test can check that each word's updates read 1, 2, 3, ... with none twice.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        // A transaction left open by a halted JVM must be aborted by the restarted one
        // (InitProducerId with the same transactional.id), long before this timeout would.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG), "120000");
        // Send at once (Streams lingers 100 ms): a halt then leaves records of its open
        // transaction in the topics, for read_committed to hide.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), "0");
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        // Purge the repartition topic (DeleteRecords) soon after each commit, not every 30 s.
        p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, "500");
        // After a halt, the group waits for the dead member's session to expire before the
        // restarted app gets its tasks: 6 s (the broker's minimum) rather than 45 s.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), "6000");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), "1000");
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());

        KafkaStreams streams = new KafkaStreams(
            topology(args[2], args[3], Long.parseLong(args[5]), Long.parseLong(args[6])), p);
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            System.out.flush();
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.out.println("ERROR " + e.toString().replace('\n', ' '));
            System.out.flush();
            e.printStackTrace();
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();

        BufferedReader in =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.trim().equals("stop")) {
            // Wait for the test to say stop.
        }
        boolean closed = streams.close(Duration.ofSeconds(30));
        System.out.println("CLOSED " + closed);
        System.out.flush();
        System.exit(closed ? 0 : 1);
    }
}
