// Command goclients runs the Go client interop scenarios (franz-go kgo and kadm, IBM/sarama,
// segmentio/kafka-go) against one broker and prints one line per scenario:
//
//	SCENARIO <name> PASS <detail>
//	SCENARIO <name> FAIL <reason>
//
// Usage: goclients <bootstrap> <scenario>... (tests/interop/test_go_clients.py runs it
// against Vltava and Apache Kafka). Every scenario creates its own topics and groups, so
// they are independent of one another, and each is bounded by its own deadline.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// scenario runs against the broker at bootstrap and returns a short summary of what it
// checked, or why it failed.
type scenario func(ctx context.Context, bootstrap string) (string, error)

var scenarios = map[string]scenario{
	"franz_producer_idempotent":   franzProducerIdempotent,
	"franz_group_commit_resume":   franzGroupCommitResume,
	"franz_transactions":          franzTransactions,
	"franz_group_transact":        franzGroupTransact,
	"kadm_topics_configs":         kadmTopicsConfigs,
	"kadm_offsets_delete_records": kadmOffsetsDeleteRecords,
	"kadm_groups":                 kadmGroups,
	"sarama_producer_idempotent":  saramaProducerIdempotent,
	"sarama_group_commit_resume":  saramaGroupCommitResume,
	"sarama_cluster_admin":        saramaClusterAdmin,
	"kafkago_producer":            kafkagoProducer,
	"kafkago_group_commit_resume": kafkagoGroupCommitResume,
}

const scenarioTimeout = 60 * time.Second

func main() {
	if len(os.Args) < 3 {
		names := make([]string, 0, len(scenarios))
		for n := range scenarios {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: goclients <bootstrap> <scenario>...\nscenarios: %s\n",
			strings.Join(names, " "))
		os.Exit(2)
	}
	bootstrap := os.Args[1]
	failed := false
	for _, name := range os.Args[2:] {
		run, ok := scenarios[name]
		if !ok {
			fmt.Printf("SCENARIO %s FAIL unknown scenario\n", name)
			failed = true
			continue
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
		detail, err := runGuarded(ctx, run, bootstrap)
		cancel()
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			failed = true
			fmt.Printf("SCENARIO %s FAIL %s (%s)\n", name, oneLine(err.Error()), took)
		} else {
			fmt.Printf("SCENARIO %s PASS %s (%s)\n", name, oneLine(detail), took)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// runGuarded turns a panic in a scenario into its failure, so the others still run.
func runGuarded(ctx context.Context, run scenario, bootstrap string) (detail string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return run(ctx, bootstrap)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// check returns an error built from format when ok is false.
func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}
