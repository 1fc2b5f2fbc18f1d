// kadm (github.com/twmb/franz-go/pkg/kadm): topics (create, list, duplicate, delete),
// configs (describe, incremental alter), offsets (start, end, by time) with DeleteRecords,
// and groups (list, describe, fetch offsets, delete).
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func configValue(rc kadm.ResourceConfig, key string) (string, bool) {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value, true
		}
	}
	return "", false
}

func kadmTopicsConfigs(ctx context.Context, bootstrap string) (string, error) {
	cl, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ret := "86400000"
	created, err := adm.CreateTopics(ctx, 4, 1, map[string]*string{"retention.ms": &ret},
		"go-kadm-a", "go-kadm-b")
	if err != nil {
		return "", err
	}
	if err := created.Error(); err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	for _, r := range created {
		if r.NumPartitions != 4 || r.ReplicationFactor != 1 {
			return "", fmt.Errorf("create %s answered %d partitions rf %d", r.Topic, r.NumPartitions, r.ReplicationFactor)
		}
	}
	again, err := adm.CreateTopics(ctx, 1, 1, nil, "go-kadm-a")
	if err != nil {
		return "", err
	}
	if err := again["go-kadm-a"].Err; !errors.Is(err, kerr.TopicAlreadyExists) {
		return "", fmt.Errorf("creating an existing topic: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range []string{"go-kadm-a", "go-kadm-b"} {
		d, ok := listed[t]
		if !ok || len(d.Partitions) != 4 || d.Err != nil {
			return "", fmt.Errorf("list topics: %s found=%v partitions=%d err=%v", t, ok, len(d.Partitions), d.Err)
		}
	}
	if _, ok := listed["__consumer_offsets"]; ok {
		return "", fmt.Errorf("ListTopics shows the internal __consumer_offsets")
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "go-kadm-a")
	if err != nil {
		return "", err
	}
	rc, err := rcs.On("go-kadm-a", nil)
	if err != nil || rc.Err != nil {
		return "", fmt.Errorf("describe configs: %v %v", err, rc.Err)
	}
	if v, _ := configValue(rc, "retention.ms"); v != ret {
		return "", fmt.Errorf("retention.ms = %q, want %s", v, ret)
	}
	if v, _ := configValue(rc, "cleanup.policy"); v != "delete" {
		return "", fmt.Errorf("cleanup.policy = %q, want the default delete", v)
	}
	seg := "3600000"
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: &seg},
		{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "go-kadm-a")
	if err != nil {
		return "", err
	}
	for _, a := range alt {
		if a.Err != nil {
			return "", fmt.Errorf("alter configs %s: %w %s", a.Name, a.Err, a.ErrMessage)
		}
	}
	// Kafka's broker applies a change once the controller's metadata reaches it: wait a little.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		rcs, err = adm.DescribeTopicConfigs(ctx, "go-kadm-a")
		if err != nil {
			return "", err
		}
		rc, _ = rcs.On("go-kadm-a", nil)
		segV, _ := configValue(rc, "segment.ms")
		retV, _ := configValue(rc, "retention.ms")
		if segV == seg && retV == "604800000" {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("after alter: segment.ms = %q (want %s), retention.ms = %q (want the default 604800000)",
				segV, seg, retV)
		}
	}
	deleted, err := adm.DeleteTopics(ctx, "go-kadm-a", "go-kadm-b")
	if err != nil {
		return "", err
	}
	if err := deleted.Error(); err != nil {
		return "", fmt.Errorf("delete: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		listed, err = adm.ListTopics(ctx)
		if err != nil {
			return "", err
		}
		_, a := listed["go-kadm-a"]
		_, b := listed["go-kadm-b"]
		if !a && !b {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("deleted topics still listed after 10 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "created 2 topics (4 partitions, retention.ms), duplicate refused, listed, configs described and altered, deleted", nil
}

func kadmOffsetsDeleteRecords(ctx context.Context, bootstrap string) (string, error) {
	const topic = "go-kadm-offsets"
	if err := createTopic(ctx, bootstrap, topic, 2, nil); err != nil {
		return "", err
	}
	cl, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	before := time.Now().Add(-time.Second).UnixMilli()
	// 50 records to partition 0, 30 to partition 1.
	var recs []*kgo.Record
	for i := 0; i < 80; i++ {
		p := int32(0)
		if i >= 50 {
			p = 1
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprint(i))})
	}
	pcl, err := newKgo(bootstrap, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return "", err
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return "", err
	}
	lookup := func(l kadm.ListedOffsets, err error, p int32, want int64, what string) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		o, ok := l.Lookup(topic, p)
		if !ok || o.Err != nil || o.Offset != want {
			return fmt.Errorf("%s of partition %d: %d (found %v, err %v), want %d", what, p, o.Offset, ok, o.Err, want)
		}
		return nil
	}
	for p, want := range map[int32]int64{0: 50, 1: 30} {
		l, err := adm.ListEndOffsets(ctx, topic)
		if err := lookup(l, err, p, want, "end offset"); err != nil {
			return "", err
		}
		l, err = adm.ListStartOffsets(ctx, topic)
		if err := lookup(l, err, p, 0, "start offset"); err != nil {
			return "", err
		}
		l, err = adm.ListOffsetsAfterMilli(ctx, before, topic)
		if err := lookup(l, err, p, 0, "offset after a time before the first record"); err != nil {
			return "", err
		}
	}
	l, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), topic)
	if err := lookup(l, err, 0, 50, "offset after a future time"); err != nil {
		return "", err
	}
	var to kadm.Offsets
	to.AddOffset(topic, 0, 20, -1)
	to.AddOffset(topic, 1, 30, -1)
	dr, err := adm.DeleteRecords(ctx, to)
	if err != nil {
		return "", err
	}
	if err := dr.Error(); err != nil {
		return "", fmt.Errorf("delete records: %w", err)
	}
	for p, want := range map[int32]int64{0: 20, 1: 30} {
		r, _ := dr.Lookup(topic, p)
		if r.LowWatermark != want {
			return "", fmt.Errorf("delete records partition %d: low watermark %d, want %d", p, r.LowWatermark, want)
		}
		l, err := adm.ListStartOffsets(ctx, topic)
		if err := lookup(l, err, p, want, "start offset after delete records"); err != nil {
			return "", err
		}
	}
	var beyond kadm.Offsets
	beyond.AddOffset(topic, 0, 51, -1)
	dr, err = adm.DeleteRecords(ctx, beyond)
	if err != nil {
		return "", err
	}
	if r, _ := dr.Lookup(topic, 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		return "", fmt.Errorf("delete records beyond the end: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}
	// Reading from the start now begins at the new start offset.
	c, err := newKgo(bootstrap, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return "", err
	}
	defer c.Close()
	got, err := pollN(ctx, c, 30)
	if err != nil {
		return "", err
	}
	if got[0].Offset != 20 || string(got[0].Value) != "20" {
		return "", fmt.Errorf("first record after delete records: offset %d value %s", got[0].Offset, got[0].Value)
	}
	return "end 50/30, start 0, by time 0 and 50, delete records to 20/30, beyond end refused, read from 20", nil
}

func kadmGroups(ctx context.Context, bootstrap string) (string, error) {
	const topic, group = "go-kadm-groups", "go-kadm-group"
	if err := createTopic(ctx, bootstrap, topic, 2, nil); err != nil {
		return "", err
	}
	p, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer p.Close()
	if _, err := produceSeq(ctx, p, topic, 0, 40, 8); err != nil {
		return "", err
	}
	c, err := newKgo(bootstrap, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return "", err
	}
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	got, err := pollN(ctx, c, 40)
	if err != nil {
		return "", err
	}
	if err := c.CommitRecords(ctx, got...); err != nil {
		return "", err
	}
	acl, err := newKgo(bootstrap)
	if err != nil {
		return "", err
	}
	defer acl.Close()
	adm := kadm.NewClient(acl)
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		return "", err
	}
	if g, ok := lg[group]; !ok || g.ProtocolType != "consumer" || g.State != "Stable" {
		return "", fmt.Errorf("list groups: %+v (found %v), want a Stable consumer group", g, ok)
	}
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", err
	}
	d := dg[group]
	if d.Err != nil || d.State != "Stable" || len(d.Members) != 1 || d.Protocol == "" {
		return "", fmt.Errorf("describe group: state %s members %d protocol %q err %v", d.State, len(d.Members), d.Protocol, d.Err)
	}
	if parts := dg.AssignedPartitions()[topic]; len(parts) != 2 {
		return "", fmt.Errorf("describe group: assigned partitions %v, want 2", parts)
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return "", err
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			total += o.At
		}
	})
	if total != 40 {
		return "", fmt.Errorf("committed offsets add up to %d, want 40", total)
	}
	lag, err := adm.Lag(ctx, group)
	if err != nil {
		return "", err
	}
	if l := lag[group]; (&l).Error() != nil || l.Lag.Total() != 0 {
		return "", fmt.Errorf("lag: %d (err %v), want 0", l.Lag.Total(), (&l).Error())
	}
	// Deleting a group with a member is refused; once empty it can be deleted.
	del, err := adm.DeleteGroups(ctx, group)
	if err != nil {
		return "", err
	}
	if !errors.Is(del[group].Err, kerr.NonEmptyGroup) {
		return "", fmt.Errorf("deleting a group with a member: %v, want NON_EMPTY_GROUP", del[group].Err)
	}
	c.Close()
	closed = true
	dg, err = adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", err
	}
	if d := dg[group]; d.State != "Empty" || len(d.Members) != 0 {
		return "", fmt.Errorf("after the member left: state %s members %d, want Empty", d.State, len(d.Members))
	}
	del, err = adm.DeleteGroups(ctx, group)
	if err != nil {
		return "", err
	}
	if del[group].Err != nil {
		return "", fmt.Errorf("delete empty group: %w", del[group].Err)
	}
	lg, err = adm.ListGroups(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := lg[group]; ok {
		return "", fmt.Errorf("deleted group still listed")
	}
	return "listed Stable, described (1 member, 2 partitions), offsets 40, lag 0, non-empty delete refused, Empty after leave, deleted", nil
}
