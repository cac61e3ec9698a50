package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/novadev/novadev/internal/catalog"
)

// KafkaTopics creates the catalog's topics with their partitions,
// replication and retention (retention.ms). An existing topic with fewer
// partitions gets more, one with another retention gets the catalog's.
// What the step cannot or must not correct is drift and fails it with the
// differences (Options.AllowDrift: a warning): more partitions than the
// catalog (Kafka cannot remove partitions), another replication factor (a
// partition reassignment), another cleanup.policy (the catalog's topics are
// all "delete"; switching a compacted topic could drop keyed data). Topics
// not in the catalog are left alone.
type KafkaTopics struct {
	Options
}

// Name returns catalog.StepKafkaTopics.
func (KafkaTopics) Name() string { return catalog.StepKafkaTopics }

// catalogCleanupPolicy is every catalog topic's cleanup.policy: the catalog
// has no field for compaction, and Kafka's default is delete.
const catalogCleanupPolicy = "delete"

// topicState is what the broker says about one topic.
type topicState struct {
	Partitions  int
	Replication int
	Retention   string // retention.ms as the broker reports it; "" unknown
	Cleanup     string // cleanup.policy as the broker reports it; "" unknown
}

// topicAction is one planned change.
type topicAction struct {
	Topic     string
	Create    bool
	SetParts  int    // partitions to grow to (0: none)
	Retention string // retention.ms to set ("" none)
}

// retentionMS is the catalog retention in Kafka's retention.ms notation;
// 0 (unset) is Kafka's default, left alone.
func retentionMS(tp *catalog.Topic) string {
	if tp.Retention.Duration <= 0 {
		return ""
	}
	return strconv.FormatInt(tp.Retention.Milliseconds(), 10)
}

// topicPlan compares the wanted topics with the broker's: the changes to
// make, and the drift the step does not correct (one line each: topic,
// setting, the catalog's and the broker's value, why).
func topicPlan(want []*catalog.Topic, have map[string]topicState) (out []topicAction, drift []string) {
	for _, tp := range want {
		st, ok := have[tp.Name]
		ret := retentionMS(tp)
		if !ok {
			out = append(out, topicAction{Topic: tp.Name, Create: true, SetParts: tp.Partitions, Retention: ret})
			continue
		}
		switch {
		case st.Partitions < tp.Partitions:
			out = append(out, topicAction{Topic: tp.Name, SetParts: tp.Partitions})
		case st.Partitions > tp.Partitions:
			drift = append(drift, fmt.Sprintf("%s: partitions: catalog %d, broker %d (Kafka cannot remove partitions)", tp.Name, tp.Partitions, st.Partitions))
		}
		if tp.Replication > 0 && st.Replication != tp.Replication {
			drift = append(drift, fmt.Sprintf("%s: replication: catalog %d, broker %d (changing it needs a partition reassignment)", tp.Name, tp.Replication, st.Replication))
		}
		if st.Cleanup != "" && st.Cleanup != catalogCleanupPolicy {
			drift = append(drift, fmt.Sprintf("%s: cleanup.policy: catalog %s, broker %s", tp.Name, catalogCleanupPolicy, st.Cleanup))
		}
		if ret != "" && st.Retention != ret {
			out = append(out, topicAction{Topic: tp.Name, Retention: ret})
		}
	}
	return out, drift
}

// kafkaDriftHint says what to do about topic drift.
const kafkaDriftHint = "make the catalog say what the broker has, or fix the topic by hand " +
	"(kafka-configs.sh --alter for cleanup.policy; delete and let the step recreate it, losing its messages, for partitions or replication), then run again"

// String describes a for the log (check mode says "would have" before it).
func (a topicAction) String() string {
	switch {
	case a.Create:
		return fmt.Sprintf("created %s: %d partitions, retention.ms %s", a.Topic, a.SetParts, orDefault(a.Retention))
	case a.SetParts > 0:
		return fmt.Sprintf("grown %s to %d partitions", a.Topic, a.SetParts)
	default:
		return fmt.Sprintf("set retention.ms of %s to %s", a.Topic, a.Retention)
	}
}

// kafkaTopics returns the topics of the (first) kafka store.
func kafkaTopics(c *catalog.Catalog) []*catalog.Topic {
	for _, st := range c.StoresOfKind(catalog.StoreKafka) {
		return st.Topics
	}
	return nil
}

// kafkaAdmin returns an admin client for t's brokers.
func kafkaAdmin(t Targets) (*kadm.Client, error) {
	if len(t.KafkaBrokers) == 0 {
		return nil, fmt.Errorf("no Kafka brokers (%s)", EnvKafkaBrokers)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.KafkaBrokers...), kgo.Dialer(t.dialer()),
		kgo.RequestRetries(3), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// Run implements Step.
func (k KafkaTopics) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
	adm, err := kafkaAdmin(t)
	if err != nil {
		return fmt.Errorf("kafka-topics: %w", err)
	}
	defer adm.Close()
	want := kafkaTopics(c)
	have, err := observeTopics(ctx, adm, want)
	if err != nil {
		return fmt.Errorf("kafka-topics: %w", err)
	}
	plan, drift := topicPlan(want, have)
	if k.Check {
		var diffs []string
		for _, a := range plan {
			diffs = append(diffs, "would have "+a.String())
		}
		return checkResult(catalog.StepKafkaTopics, diffs, drift, k.AllowDrift, log, kafkaDriftHint)
	}
	var errs []error
	changes := 0
	for _, a := range plan {
		switch {
		case a.Create:
			var cfg map[string]*string
			if a.Retention != "" {
				cfg = map[string]*string{"retention.ms": &a.Retention}
			}
			repl := int16(-1) // the broker's default
			for _, tp := range want {
				if tp.Name == a.Topic && tp.Replication > 0 {
					repl = int16(tp.Replication)
				}
			}
			resp, err := adm.CreateTopic(ctx, int32(a.SetParts), repl, cfg, a.Topic)
			if err = errors.Join(err, resp.Err); err != nil {
				errs = append(errs, fmt.Errorf("create %s: %w %s", a.Topic, err, resp.ErrMessage))
				continue
			}
			log("created %s: %d partitions, replication %d, retention.ms %s", a.Topic, a.SetParts, repl, orDefault(a.Retention))
			changes++
		case a.SetParts > 0:
			resp, err := adm.UpdatePartitions(ctx, a.SetParts, a.Topic)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("grow %s to %d partitions: %w", a.Topic, a.SetParts, err))
				continue
			}
			log("%s: grew from %d to %d partitions", a.Topic, have[a.Topic].Partitions, a.SetParts)
			changes++
		case a.Retention != "":
			resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &a.Retention}}, a.Topic)
			if err == nil {
				for _, r := range resp {
					err = errors.Join(err, r.Err)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("set retention.ms of %s: %w", a.Topic, err))
				continue
			}
			log("%s: retention.ms %s -> %s", a.Topic, orDefault(have[a.Topic].Retention), a.Retention)
			changes++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka-topics: %w", err)
	}
	if err := driftResult(catalog.StepKafkaTopics, drift, k.AllowDrift, log, kafkaDriftHint); err != nil {
		return err
	}
	if changes == 0 && len(drift) == 0 {
		log("%d topics already as the catalog says; nothing changed", len(want))
	}
	return nil
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// observeTopics reads partitions, replication, retention.ms and cleanup.policy of the
// wanted topics that exist.
func observeTopics(ctx context.Context, adm *kadm.Client, want []*catalog.Topic) (map[string]topicState, error) {
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	have := map[string]topicState{}
	var names []string
	for _, tp := range want {
		d, ok := details[tp.Name]
		if !ok || d.Err != nil {
			continue
		}
		repl := 0
		for _, p := range d.Partitions {
			repl = max(repl, len(p.Replicas))
		}
		have[tp.Name] = topicState{Partitions: len(d.Partitions), Replication: repl}
		names = append(names, tp.Name)
	}
	if len(names) == 0 {
		return have, nil
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, rc := range cfgs {
		st, ok := have[rc.Name]
		if !ok || rc.Err != nil {
			continue
		}
		for _, cf := range rc.Configs {
			if cf.Value == nil {
				continue
			}
			switch cf.Key {
			case "retention.ms":
				st.Retention = *cf.Value
			case "cleanup.policy":
				st.Cleanup = *cf.Value
			}
		}
		have[rc.Name] = st
	}
	return have, nil
}
