// franz-go (github.com/twmb/franz-go/pkg/kgo): the idempotent producer (its default), a
// consumer group committing and resuming, transactions read by read_committed and
// read_uncommitted consumers, and a GroupTransactSession (consume-transform-produce).
package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newKgo(bootstrap string, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap)}, opts...)...)
}

// createTopic creates a topic with kadm and fails on any error (including one that exists).
func createTopic(ctx context.Context, bootstrap, topic string, partitions int32, configs map[string]*string) error {
	cl, err := newKgo(bootstrap)
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if r.Err != nil {
		return fmt.Errorf("create topic %s: %w %s", topic, r.Err, r.ErrMessage)
	}
	return nil
}

// pollN polls until want records arrived (more is an error) or the context ends.
func pollN(ctx context.Context, cl *kgo.Client, want int) ([]*kgo.Record, error) {
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollRecords(ctx, want-len(out))
		if ctx.Err() != nil {
			return out, fmt.Errorf("got %d of %d records before the deadline", len(out), want)
		}
		for _, e := range fs.Errors() {
			return out, fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out, check(len(out) == want, "got %d records, want %d", len(out), want)
}

// values parses record values as integers.
func values(recs []*kgo.Record) []int {
	out := make([]int, len(recs))
	for i, r := range recs {
		v, err := strconv.Atoi(string(r.Value))
		if err != nil {
			v = -1
		}
		out[i] = v
	}
	return out
}

// produceSeq produces values from..to-1 (value = its index, key k<i%keys>) synchronously.
func produceSeq(ctx context.Context, cl *kgo.Client, topic string, from, to, keys int) ([]*kgo.Record, error) {
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		r := &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}
		if keys > 0 {
			r.Key = []byte(fmt.Sprintf("k%d", i%keys))
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce: %w", err)
	}
	return recs, nil
}

// checkKeyOrder checks that every key's values arrive in increasing order, all in one
// partition, and that offsets within a partition are increasing.
func checkKeyOrder(recs []*kgo.Record) error {
	lastVal := map[string]int{}
	keyPart := map[string]int32{}
	lastOff := map[int32]int64{}
	for i, r := range recs {
		v := values(recs[i : i+1])[0]
		k := string(r.Key)
		if p, ok := keyPart[k]; ok && p != r.Partition {
			return fmt.Errorf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		keyPart[k] = r.Partition
		if last, ok := lastVal[k]; ok && v <= last {
			return fmt.Errorf("key %s: value %d after %d", k, v, last)
		}
		lastVal[k] = v
		if last, ok := lastOff[r.Partition]; ok && r.Offset <= last {
			return fmt.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, last)
		}
		lastOff[r.Partition] = r.Offset
	}
	return nil
}

func franzProducerIdempotent(ctx context.Context, bootstrap string) (string, error) {
	const topic, n = "go-franz-produce", 300
	if err := createTopic(ctx, bootstrap, topic, 3, nil); err != nil {
		return "", err
	}
	// The defaults: idempotent, acks=all; a linger to build multi-record batches.
	p, err := newKgo(bootstrap, kgo.ProducerLinger(5e6))
	if err != nil {
		return "", err
	}
	defer p.Close()
	produced, err := produceSeq(ctx, p, topic, 0, n, 10)
	if err != nil {
		return "", err
	}
	perPart := map[int32]int64{}
	for _, r := range produced {
		if r.Offset != perPart[r.Partition] {
			return "", fmt.Errorf("partition %d: record got offset %d, want %d (contiguous)",
				r.Partition, r.Offset, perPart[r.Partition])
		}
		perPart[r.Partition]++
		if r.ProducerID < 0 {
			return "", fmt.Errorf("record has no producer id: the producer is not idempotent")
		}
	}
	if len(perPart) != 3 {
		return "", fmt.Errorf("10 keys landed in %d partitions, want 3", len(perPart))
	}
	c, err := newKgo(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return "", err
	}
	defer c.Close()
	got, err := pollN(ctx, c, n)
	if err != nil {
		return "", err
	}
	seen := map[int]bool{}
	for _, v := range values(got) {
		seen[v] = true
	}
	if len(seen) != n {
		return "", fmt.Errorf("%d distinct values read back, want %d", len(seen), n)
	}
	if err := checkKeyOrder(got); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d records, offsets contiguous per partition %v, key order kept", n, perPart), nil
}

func franzGroupCommitResume(ctx context.Context, bootstrap string) (string, error) {
	const topic, group, n, first = "go-franz-group", "go-franz-group", 100, 60
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
	opts := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	c1, err := newKgo(bootstrap, opts...)
	if err != nil {
		return "", err
	}
	got, err := pollN(ctx, c1, first)
	if err == nil {
		err = c1.CommitRecords(ctx, got...)
	}
	c1.Close() // leaves the group
	if err != nil {
		return "", fmt.Errorf("first consumer: %w", err)
	}
	for i, v := range values(got) {
		if v != i {
			return "", fmt.Errorf("first consumer: record %d has value %d", i, v)
		}
	}
	adm, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer adm.Close()
	offs, err := kadm.NewClient(adm).FetchOffsets(ctx, group)
	if err != nil {
		return "", fmt.Errorf("fetch offsets: %w", err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil || o.At != first {
		return "", fmt.Errorf("committed offset %+v (found %v), want %d", o, ok, first)
	}
	c2, err := newKgo(bootstrap, opts...)
	if err != nil {
		return "", err
	}
	defer c2.Close()
	rest, err := pollN(ctx, c2, n-first)
	if err != nil {
		return "", fmt.Errorf("second consumer: %w", err)
	}
	for i, v := range values(rest) {
		if v != first+i || rest[i].Offset != int64(first+i) {
			return "", fmt.Errorf("second consumer: record %d has value %d offset %d, want %d",
				i, v, rest[i].Offset, first+i)
		}
	}
	return fmt.Sprintf("read %d, committed %d, resumed at %d and read %d", first, o.At, first, n-first), nil
}

func franzTransactions(ctx context.Context, bootstrap string) (string, error) {
	const topic = "go-franz-txn"
	if err := createTopic(ctx, bootstrap, topic, 1, nil); err != nil {
		return "", err
	}
	p, err := newKgo(bootstrap, kgo.TransactionalID("go-franz-txn"), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return "", err
	}
	defer p.Close()
	// committed 0..9, aborted 100..109, committed 10..14
	batches := []struct {
		from, to int
		commit   kgo.TransactionEndTry
	}{{0, 10, kgo.TryCommit}, {100, 110, kgo.TryAbort}, {10, 15, kgo.TryCommit}}
	for _, b := range batches {
		if err := p.BeginTransaction(); err != nil {
			return "", fmt.Errorf("begin: %w", err)
		}
		if _, err := produceSeq(ctx, p, topic, b.from, b.to, 0); err != nil {
			return "", err
		}
		if err := p.EndTransaction(ctx, b.commit); err != nil {
			return "", fmt.Errorf("end transaction (commit=%v): %w", b.commit, err)
		}
	}
	// 25 records and 3 control markers.
	adm, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err != nil {
		return "", err
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Err != nil || end.Offset != 28 {
		return "", fmt.Errorf("end offset %d (%v), want 28 (25 records, 3 markers)", end.Offset, end.Err)
	}
	read := func(level kgo.IsolationLevel, want int) ([]int, error) {
		c, err := newKgo(bootstrap, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(level),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		recs, err := pollN(ctx, c, want)
		if err != nil {
			return nil, err
		}
		return values(recs), nil
	}
	committed, err := read(kgo.ReadCommitted(), 15)
	if err != nil {
		return "", fmt.Errorf("read_committed: %w", err)
	}
	for i, v := range committed {
		if v != i {
			return "", fmt.Errorf("read_committed: record %d has value %d (aborted records seen?)", i, v)
		}
	}
	all, err := read(kgo.ReadUncommitted(), 25)
	if err != nil {
		return "", fmt.Errorf("read_uncommitted: %w", err)
	}
	if all[10] != 100 || all[19] != 109 || all[20] != 10 {
		return "", fmt.Errorf("read_uncommitted: values %v", all)
	}
	return "commit 10, abort 10, commit 5: read_committed saw 15, read_uncommitted 25, end offset 28", nil
}

// franzGroupTransact: a GroupTransactSession reads 20 records from an input topic in a
// group and writes them doubled to an output topic, committing its offsets in the
// transaction; a first session aborts, so the second reads the same input again.
func franzGroupTransact(ctx context.Context, bootstrap string) (string, error) {
	const in, out, group, n = "go-franz-gts-in", "go-franz-gts-out", "go-franz-gts", 20
	for _, t := range []string{in, out} {
		if err := createTopic(ctx, bootstrap, t, 1, nil); err != nil {
			return "", err
		}
	}
	p, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer p.Close()
	if _, err := produceSeq(ctx, p, in, 0, n, 0); err != nil {
		return "", err
	}
	session := func(try kgo.TransactionEndTry) (int, error) {
		s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(bootstrap),
			kgo.TransactionalID("go-franz-gts"), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DefaultProduceTopic(out),
			kgo.RequireStableFetchOffsets(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return 0, err
		}
		defer s.Close()
		var got []*kgo.Record
		for len(got) < n {
			fs := s.PollFetches(ctx)
			if ctx.Err() != nil {
				return 0, fmt.Errorf("session read %d of %d", len(got), n)
			}
			for _, e := range fs.Errors() {
				return 0, fmt.Errorf("fetch: %w", e.Err)
			}
			got = append(got, fs.Records()...)
		}
		if err := s.Begin(); err != nil {
			return 0, fmt.Errorf("begin: %w", err)
		}
		for _, v := range values(got) {
			s.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(2 * v))}, nil)
		}
		committed, err := s.End(ctx, try)
		if err != nil {
			return 0, fmt.Errorf("end: %w", err)
		}
		if committed != (try == kgo.TryCommit) {
			return 0, fmt.Errorf("End(%v) reported committed=%v", try, committed)
		}
		return len(got), nil
	}
	if _, err := session(kgo.TryAbort); err != nil {
		return "", fmt.Errorf("aborting session: %w", err)
	}
	if _, err := session(kgo.TryCommit); err != nil {
		return "", fmt.Errorf("committing session: %w", err)
	}
	c, err := newKgo(bootstrap, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return "", err
	}
	defer c.Close()
	recs, err := pollN(ctx, c, n)
	if err != nil {
		return "", fmt.Errorf("output: %w", err)
	}
	for i, v := range values(recs) {
		if v != 2*i {
			return "", fmt.Errorf("output record %d is %d, want %d", i, v, 2*i)
		}
	}
	ac, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer ac.Close()
	offs, err := kadm.NewClient(ac).FetchOffsets(ctx, group)
	if err != nil {
		return "", err
	}
	o, ok := offs.Lookup(in, 0)
	if !ok || o.At != n {
		return "", fmt.Errorf("group offset %+v, want %d", o, n)
	}
	return fmt.Sprintf("aborted session then committed one: %d doubled records read_committed, group offset %d", n, o.At), nil
}
