// IBM/sarama: the idempotent SyncProducer with acks=all, a ConsumerGroup committing and
// resuming from its committed offset, and ClusterAdmin basics (topics, partitions,
// configs, cluster, groups, offsets, delete records).
package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V4_1_0_0
	c.ClientID = "vltava-go-sarama"
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	return c
}

func saramaProducerIdempotent(ctx context.Context, bootstrap string) (string, error) {
	const topic, n = "go-sarama-produce", 200
	if err := createTopic(ctx, bootstrap, topic, 3, nil); err != nil {
		return "", err
	}
	c := saramaConfig()
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewHashPartitioner
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	if err != nil {
		return "", fmt.Errorf("producer: %w", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i%10)),
			Value: sarama.StringEncoder(strconv.Itoa(i))}
	}
	// Half in one SendMessages call, the rest one by one.
	if err := p.SendMessages(msgs[:n/2]); err != nil {
		return "", fmt.Errorf("send messages: %w", err)
	}
	for _, m := range msgs[n/2:] {
		if _, _, err := p.SendMessage(m); err != nil {
			return "", fmt.Errorf("send message: %w", err)
		}
	}
	perPart := map[int32][]int64{}
	for _, m := range msgs {
		perPart[m.Partition] = append(perPart[m.Partition], m.Offset)
	}
	total := 0
	for part, offs := range perPart {
		seen := map[int64]bool{}
		for _, o := range offs {
			seen[o] = true
		}
		for o := int64(0); o < int64(len(offs)); o++ {
			if !seen[o] {
				return "", fmt.Errorf("partition %d: offsets %v are not 0..%d", part, offs, len(offs)-1)
			}
		}
		total += len(offs)
	}
	cons, err := sarama.NewConsumer([]string{bootstrap}, saramaConfig())
	if err != nil {
		return "", err
	}
	defer cons.Close()
	read := 0
	for part, offs := range perPart {
		pc, err := cons.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			return "", err
		}
		last := map[string]int{}
		for i := 0; i < len(offs); i++ {
			select {
			case m := <-pc.Messages():
				if m.Offset != int64(i) {
					pc.Close()
					return "", fmt.Errorf("partition %d: message %d at offset %d", part, i, m.Offset)
				}
				v, _ := strconv.Atoi(string(m.Value))
				if l, ok := last[string(m.Key)]; ok && v <= l {
					pc.Close()
					return "", fmt.Errorf("key %s: %d after %d", m.Key, v, l)
				}
				last[string(m.Key)] = v
				read++
			case err := <-pc.Errors():
				pc.Close()
				return "", fmt.Errorf("partition consumer: %w", err)
			case <-ctx.Done():
				pc.Close()
				return "", fmt.Errorf("partition %d: read %d of %d", part, i, len(offs))
			}
		}
		pc.Close()
	}
	if read != n || total != n || len(perPart) != 3 {
		return "", fmt.Errorf("read %d, produced %d in %d partitions; want %d in 3", read, total, len(perPart), n)
	}
	return fmt.Sprintf("idempotent acks=all: %d messages in 3 partitions, offsets contiguous, read back in key order", n), nil
}

// groupHandler consumes until want messages were seen, marks them, commits, then cancels.
type groupHandler struct {
	want   int
	cancel context.CancelFunc
	mu     sync.Mutex
	got    []*sarama.ConsumerMessage
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		if len(h.got) < h.want {
			h.got = append(h.got, m)
			s.MarkMessage(m, "")
			if len(h.got) == h.want {
				s.Commit()
				h.cancel()
			}
		}
		h.mu.Unlock()
	}
	return nil
}

// saramaGroupRound joins the group, consumes want messages and leaves.
func saramaGroupRound(ctx context.Context, bootstrap, group, topic string, want int) ([]*sarama.ConsumerMessage, error) {
	c := saramaConfig()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cg, err := sarama.NewConsumerGroup([]string{bootstrap}, group, c)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &groupHandler{want: want, cancel: cancel}
	errs := make(chan error, 1)
	go func() {
		for e := range cg.Errors() {
			select {
			case errs <- e:
			default:
			}
		}
	}()
	for rctx.Err() == nil {
		if err := cg.Consume(rctx, []string{topic}, h); err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("consume: %w", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != want {
		select {
		case e := <-errs:
			return nil, fmt.Errorf("got %d of %d messages; group error: %w", len(h.got), want, e)
		default:
		}
		return nil, fmt.Errorf("got %d of %d messages", len(h.got), want)
	}
	return h.got, nil
}

func saramaGroupCommitResume(ctx context.Context, bootstrap string) (string, error) {
	const topic, group, n, first = "go-sarama-group", "go-sarama-group", 50, 30
	if err := createTopic(ctx, bootstrap, topic, 1, nil); err != nil {
		return "", err
	}
	p, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer p.Close()
	if _, err := produceSeq(ctx, p, topic, 0, n, 0); err != nil {
		return "", err
	}
	got, err := saramaGroupRound(ctx, bootstrap, group, topic, first)
	if err != nil {
		return "", fmt.Errorf("first member: %w", err)
	}
	for i, m := range got {
		if m.Offset != int64(i) || string(m.Value) != strconv.Itoa(i) {
			return "", fmt.Errorf("first member: message %d at offset %d value %s", i, m.Offset, m.Value)
		}
	}
	adm, err := sarama.NewClusterAdmin([]string{bootstrap}, saramaConfig())
	if err != nil {
		return "", err
	}
	defer adm.Close()
	offs, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		return "", err
	}
	if b := offs.GetBlock(topic, 0); b == nil || b.Err != sarama.ErrNoError || b.Offset != first {
		return "", fmt.Errorf("committed offset %+v, want %d", b, first)
	}
	rest, err := saramaGroupRound(ctx, bootstrap, group, topic, n-first)
	if err != nil {
		return "", fmt.Errorf("second member: %w", err)
	}
	for i, m := range rest {
		if m.Offset != int64(first+i) {
			return "", fmt.Errorf("second member: message %d at offset %d, want %d", i, m.Offset, first+i)
		}
	}
	return fmt.Sprintf("first member read %d and committed %d; second resumed at %d and read %d", first, first, first, n-first), nil
}

func saramaClusterAdmin(ctx context.Context, bootstrap string) (string, error) {
	const topic = "go-sarama-admin"
	adm, err := sarama.NewClusterAdmin([]string{bootstrap}, saramaConfig())
	if err != nil {
		return "", err
	}
	defer adm.Close()
	brokers, controller, err := adm.DescribeCluster()
	if err != nil {
		return "", fmt.Errorf("describe cluster: %w", err)
	}
	if len(brokers) != 1 || brokers[0].Addr() != bootstrap {
		return "", fmt.Errorf("describe cluster: %d brokers, first %s", len(brokers), brokers[0].Addr())
	}
	compact := "compact"
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"cleanup.policy": &compact}}, false); err != nil {
		return "", fmt.Errorf("create topic: %w", err)
	}
	err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return "", fmt.Errorf("creating it again: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if err := adm.CreatePartitions(topic, 3, nil, false); err != nil {
		return "", fmt.Errorf("create partitions: %w", err)
	}
	var md []*sarama.TopicMetadata
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err = adm.DescribeTopics([]string{topic})
		if err != nil {
			return "", err
		}
		if len(md) == 1 && len(md[0].Partitions) == 3 {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("describe topics after create partitions: %+v", md)
		}
		time.Sleep(200 * time.Millisecond)
	}
	topics, err := adm.ListTopics()
	if err != nil {
		return "", err
	}
	if d, ok := topics[topic]; !ok || d.NumPartitions != 3 || *d.ConfigEntries["cleanup.policy"] != "compact" {
		return "", fmt.Errorf("list topics: %s found=%v %+v", topic, ok, d)
	}
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return "", err
	}
	found := map[string]string{}
	for _, e := range entries {
		found[e.Name] = e.Value
	}
	if found["cleanup.policy"] != "compact" || found["min.insync.replicas"] != "1" {
		return "", fmt.Errorf("describe config: cleanup.policy=%q min.insync.replicas=%q", found["cleanup.policy"], found["min.insync.replicas"])
	}
	ms := "120000"
	if err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"min.compaction.lag.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &ms}}, false); err != nil {
		return "", fmt.Errorf("incremental alter config: %w", err)
	}
	// Kafka's broker applies a change once the controller's metadata reaches it: wait a little.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		entries, err = adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic,
			ConfigNames: []string{"min.compaction.lag.ms"}})
		if err == nil && len(entries) == 1 && entries[0].Value == ms {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("after alter: %+v %v", entries, err)
		}
	}
	bentries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.BrokerResource, Name: strconv.Itoa(int(controller))})
	if err != nil || len(bentries) == 0 {
		return "", fmt.Errorf("describe broker config: %d entries, %v", len(bentries), err)
	}
	// Records in partition 0, a deletion up to 5, a group with committed offsets.
	var recs []string
	for i := 0; i < 10; i++ {
		recs = append(recs, strconv.Itoa(i))
	}
	// A compacted topic refuses records without a key (INVALID_RECORD) and takes keyed ones.
	if err := produceTo(ctx, bootstrap, topic, 0, recs[:1], false); !errors.Is(err, kerr.InvalidRecord) {
		return "", fmt.Errorf("a keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}
	if err := produceTo(ctx, bootstrap, topic, 0, recs, true); err != nil {
		return "", err
	}
	// DeleteRecords is refused while the policy is compact only, and works with delete too.
	if err := adm.DeleteRecords(topic, map[int32]int64{0: 5}); !errors.Is(err, sarama.ErrPolicyViolation) {
		return "", fmt.Errorf("delete records on a compact-only topic: %v, want POLICY_VIOLATION", err)
	}
	both := "compact,delete"
	if err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"cleanup.policy": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &both}}, false); err != nil {
		return "", fmt.Errorf("alter cleanup.policy: %w", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := adm.DeleteRecords(topic, map[int32]int64{0: 5})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("delete records after cleanup.policy=compact,delete: %w", err)
		}
	}
	client, err := sarama.NewClient([]string{bootstrap}, saramaConfig())
	if err != nil {
		return "", err
	}
	defer client.Close()
	oldest, err := client.GetOffset(topic, 0, sarama.OffsetOldest)
	if err != nil || oldest != 5 {
		return "", fmt.Errorf("oldest offset after delete records: %d %v, want 5", oldest, err)
	}
	newest, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil || newest != 10 {
		return "", fmt.Errorf("newest offset: %d %v, want 10", newest, err)
	}
	const group = "go-sarama-admin-group"
	if _, err := saramaGroupRound(ctx, bootstrap, group, topic, 5); err != nil {
		return "", fmt.Errorf("group: %w", err)
	}
	groups, err := adm.ListConsumerGroups()
	if err != nil {
		return "", err
	}
	if groups[group] != "consumer" {
		return "", fmt.Errorf("list consumer groups: %v", groups)
	}
	desc, err := adm.DescribeConsumerGroups([]string{group})
	if err != nil || len(desc) != 1 || desc[0].State != "Empty" || desc[0].ProtocolType != "consumer" {
		return "", fmt.Errorf("describe consumer groups: %+v %v", desc, err)
	}
	offs, err := adm.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		return "", err
	}
	if b := offs.GetBlock(topic, 0); b == nil || b.Offset != 10 {
		return "", fmt.Errorf("group offsets (all): %+v", offs.Blocks)
	}
	if err := adm.DeleteConsumerGroupOffset(group, topic, 0); err != nil {
		return "", fmt.Errorf("delete group offset: %w", err)
	}
	offs, err = adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		return "", err
	}
	if b := offs.GetBlock(topic, 0); b == nil || b.Offset != -1 {
		return "", fmt.Errorf("offset after delete group offset: %+v", b)
	}
	if err := adm.DeleteConsumerGroup(group); err != nil {
		return "", fmt.Errorf("delete group: %w", err)
	}
	if err := adm.DeleteTopic(topic); err != nil {
		return "", fmt.Errorf("delete topic: %w", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		topics, err = adm.ListTopics()
		if err != nil {
			return "", err
		}
		if _, ok := topics[topic]; !ok {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("deleted topic still listed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "cluster, create/duplicate/partitions 2->3, list, configs described and altered, broker config, keyless record to a compacted topic refused, delete records refused then allowed with compact,delete, groups listed/described/offsets/deleted, topic deleted", nil
}

// produceTo writes values to one partition in order, keyed by their value if keyed.
func produceTo(ctx context.Context, bootstrap, topic string, partition int32, vals []string, keyed bool) error {
	cl, err := newKgo(bootstrap, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(1))
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}
		if keyed {
			recs[i].Key = []byte(v)
		}
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
