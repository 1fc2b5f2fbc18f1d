// segmentio/kafka-go: the Writer (acks=all, hash balancer) read back partition by partition
// with a Reader, and a group Reader committing and a second one resuming from the commit.
package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

func kafkagoProducer(ctx context.Context, bootstrap string) (string, error) {
	const topic, n = "go-kafkago-produce", 150
	cl := &kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: 10 * time.Second}
	cr, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}})
	if err != nil {
		return "", fmt.Errorf("create topics: %w", err)
	}
	if err := cr.Errors[topic]; err != nil {
		return "", fmt.Errorf("create topic: %w", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 50}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("k%d", i%10)), Value: []byte(strconv.Itoa(i))}
	}
	// Three calls so the order across calls is fixed for every key.
	for i := 0; i < n; i += 50 {
		if err := w.WriteMessages(ctx, msgs[i:i+50]...); err != nil {
			w.Close()
			return "", fmt.Errorf("write: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	offs, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.LastOffsetOf(0), kafka.LastOffsetOf(1), kafka.LastOffsetOf(2)}}})
	if err != nil {
		return "", fmt.Errorf("list offsets: %w", err)
	}
	ends := map[int]int64{}
	var total int64
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return "", fmt.Errorf("list offsets partition %d: %w", po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
		total += po.LastOffset
	}
	if total != n {
		return "", fmt.Errorf("end offsets %v add up to %d, want %d", ends, total, n)
	}
	read := 0
	for part, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: part,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond})
		last := map[string]int{}
		for i := int64(0); i < end; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return "", fmt.Errorf("partition %d: read %d of %d: %w", part, i, end, err)
			}
			v, _ := strconv.Atoi(string(m.Value))
			if m.Offset != i {
				r.Close()
				return "", fmt.Errorf("partition %d: message %d at offset %d", part, i, m.Offset)
			}
			if l, ok := last[string(m.Key)]; ok && v <= l {
				r.Close()
				return "", fmt.Errorf("key %s: %d after %d", m.Key, v, l)
			}
			last[string(m.Key)] = v
			read++
		}
		r.Close()
	}
	if read != n {
		return "", fmt.Errorf("read %d of %d", read, n)
	}
	return fmt.Sprintf("acks=all, %d messages, end offsets %v, read back in key order", n, ends), nil
}

func kafkagoGroupCommitResume(ctx context.Context, bootstrap string) (string, error) {
	const topic, group, n, first = "go-kafkago-group", "go-kafkago-group", 60, 25
	cl := &kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: 10 * time.Second}
	cr, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil {
		return "", err
	}
	if err := cr.Errors[topic]; err != nil {
		return "", fmt.Errorf("create topic: %w", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: []byte(strconv.Itoa(i))}
	}
	err = w.WriteMessages(ctx, msgs...)
	w.Close()
	if err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	round := func(want, from int) error {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, GroupID: group, Topic: topic,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond, StartOffset: kafka.FirstOffset,
			HeartbeatInterval: 500 * time.Millisecond, JoinGroupBackoff: 200 * time.Millisecond})
		defer r.Close()
		for i := 0; i < want; i++ {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return fmt.Errorf("message %d of %d: %w", i, want, err)
			}
			if m.Offset != int64(from+i) || string(m.Value) != strconv.Itoa(from+i) {
				return fmt.Errorf("message %d at offset %d value %s, want %d", i, m.Offset, m.Value, from+i)
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
		return nil
	}
	if err := round(first, 0); err != nil {
		return "", fmt.Errorf("first reader: %w", err)
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		return "", fmt.Errorf("offset fetch: %w", err)
	}
	if of.Error != nil || len(of.Topics[topic]) != 1 || of.Topics[topic][0].CommittedOffset != first {
		return "", fmt.Errorf("committed offset: %+v (err %v), want %d", of.Topics[topic], of.Error, first)
	}
	if err := round(n-first, first); err != nil {
		return "", fmt.Errorf("second reader: %w", err)
	}
	return fmt.Sprintf("first reader committed %d one by one, second resumed at %d and read %d", first, first, n-first), nil
}
