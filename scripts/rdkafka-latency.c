/*
 * rdkafka-latency: produce latency of librdkafka at a fixed offered rate, without
 * spending a core on the rate limiter.
 *
 * rdkafka_performance's -r limiter polls in a loop between messages (its wait is under
 * a millisecond, so every poll returns at once): at hundreds of thousands of records per
 * second it keeps one of this machine's two cores busy, and the broker then competes
 * with it. This tool sleeps instead: every millisecond (an absolute clock_nanosleep
 * deadline) it produces the records due by then, so the offered load is the asked rate
 * and the producer thread is idle between ticks.
 *
 * Latency is from a record's due time (not from when produce() returned), so a producer
 * that falls behind its schedule is charged for it (no coordinated omission), to its
 * delivery report. Output, one line: the rate records were offered at (records/s over
 * the sending loop), p50 p99 p99.9 max in ms, and the rate they were delivered at
 * (records/s from the start to the last delivery report).
 *
 *   rdkafka-latency <bootstrap> <topic> <records> <size> <rate> [key=value ...]
 *
 * Extra key=value pairs are librdkafka configuration (acks, linger.ms, ...).
 * Built by scripts/perf-suite.py against the librdkafka that scripts/librdkafka-env.sh
 * builds. A benchmark tool, not a test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rdkafka.h"

static int64_t *latencies_ns;
static long delivered, failed;
static int64_t last_delivery_ns;

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        (void)opaque;
        if (m->err) {
                failed++;
                return;
        }
        last_delivery_ns = now_ns();
        latencies_ns[delivered++] = last_delivery_ns - (int64_t)(intptr_t)m->_private;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static double pct_ms(long n, double p) {
        long i = (long)(n * p);
        if (i >= n)
                i = n - 1;
        return latencies_ns[i] / 1e6;
}

int main(int argc, char **argv) {
        char err[512];
        if (argc < 6) {
                fprintf(stderr,
                        "usage: %s bootstrap topic records size rate [key=value ...]\n",
                        argv[0]);
                return 2;
        }
        const char *topic = argv[2];
        long records = atol(argv[3]);
        size_t size = (size_t)atol(argv[4]);
        double rate = atof(argv[5]);
        if (records <= 0 || rate <= 0) {
                fprintf(stderr, "records and rate must be positive\n");
                return 2;
        }
        latencies_ns = calloc((size_t)records, sizeof(int64_t));
        char *payload = malloc(size ? size : 1);
        if (!latencies_ns || !payload)
                return 1;
        memset(payload, 'x', size);

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "%s\n", err);
                return 2;
        }
        for (int i = 6; i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                if (!eq) {
                        fprintf(stderr, "not key=value: %s\n", argv[i]);
                        return 2;
                }
                *eq = '\0';
                if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof(err)) !=
                    RD_KAFKA_CONF_OK) {
                        fprintf(stderr, "%s\n", err);
                        return 2;
                }
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }

        /* Connect and learn the partition's leader before the clock starts. */
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "no metadata for %s\n", topic);
                return 1;
        }
        rd_kafka_metadata_destroy(md);

        struct timespec tick;
        int64_t start = now_ns();
        long sent = 0;
        for (long ms = 1; sent < records; ms++) {
                int64_t tick_end = start + ms * 1000000;
                long due = (long)(rate * (double)ms / 1000.0);
                if (due > records)
                        due = records;
                for (; sent < due; sent++) {
                        int64_t due_at = start + (int64_t)((double)sent * 1e9 / rate);
                        for (;;) {
                                rd_kafka_resp_err_t e = rd_kafka_producev(
                                    rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(0),
                                    RD_KAFKA_V_VALUE(payload, size),
                                    RD_KAFKA_V_OPAQUE((void *)(intptr_t)due_at),
                                    RD_KAFKA_V_END);
                                if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                                        break;
                                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                                        return 1;
                                }
                                rd_kafka_poll(rk, 1);
                        }
                }
                rd_kafka_poll(rk, 0);
                tick.tv_sec = tick_end / 1000000000;
                tick.tv_nsec = tick_end % 1000000000;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR)
                        ;
        }
        double secs = (now_ns() - start) / 1e9;
        rd_kafka_flush(rk, 60000);
        if (delivered + failed < records || failed) {
                fprintf(stderr, "delivered %ld, failed %ld of %ld\n", delivered, failed, records);
                return 1;
        }
        qsort(latencies_ns, (size_t)delivered, sizeof(int64_t), cmp_i64);
        double delivered_secs = (last_delivery_ns - start) / 1e9;
        printf("%.0f %.3f %.3f %.3f %.3f %.0f\n", delivered / secs, pct_ms(delivered, 0.5),
               pct_ms(delivered, 0.99), pct_ms(delivered, 0.999),
               latencies_ns[delivered - 1] / 1e6, delivered / delivered_secs);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 0;
}
