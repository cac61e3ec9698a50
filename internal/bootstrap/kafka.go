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
// partitions gets more, one with another retention gets the catalog's;
// partitions are never removed (Kafka cannot), which is reported. Topics not
// in the catalog are left alone.
type KafkaTopics struct{}

// Name returns catalog.StepKafkaTopics.
func (KafkaTopics) Name() string { return catalog.StepKafkaTopics }

// topicState is what the broker says about one topic.
type topicState struct {
	Partitions  int
	Replication int
	Retention   string // retention.ms as the broker reports it; "" unknown
}

// topicAction is one planned change (or a finding, when Warn).
type topicAction struct {
	Topic     string
	Create    bool
	SetParts  int    // partitions to grow to (0: none)
	Retention string // retention.ms to set ("" none)
	Warn      string
}

// retentionMS is the catalog retention in Kafka's retention.ms notation;
// 0 (unset) is Kafka's default, left alone.
func retentionMS(tp *catalog.Topic) string {
	if tp.Retention.Duration <= 0 {
		return ""
	}
	return strconv.FormatInt(tp.Retention.Milliseconds(), 10)
}

// topicPlan compares the wanted topics with the broker's.
func topicPlan(want []*catalog.Topic, have map[string]topicState) []topicAction {
	var out []topicAction
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
			out = append(out, topicAction{Topic: tp.Name, Warn: fmt.Sprintf("has %d partitions, the catalog says %d: Kafka cannot remove partitions, left as is", st.Partitions, tp.Partitions)})
		}
		if tp.Replication > 0 && st.Replication != tp.Replication {
			out = append(out, topicAction{Topic: tp.Name, Warn: fmt.Sprintf("has replication %d, the catalog says %d: changing it needs a partition reassignment, left as is", st.Replication, tp.Replication)})
		}
		if ret != "" && st.Retention != ret {
			out = append(out, topicAction{Topic: tp.Name, Retention: ret})
		}
	}
	return out
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
func (KafkaTopics) Run(ctx context.Context, c *catalog.Catalog, t Targets, log func(string, ...any)) error {
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
	plan := topicPlan(want, have)
	var errs []error
	changes := 0
	for _, a := range plan {
		switch {
		case a.Warn != "":
			log("%s %s", a.Topic, a.Warn)
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
	if changes == 0 {
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

// observeTopics reads partitions, replication and retention.ms of the
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
			if cf.Key == "retention.ms" && cf.Value != nil {
				st.Retention = *cf.Value
			}
		}
		have[rc.Name] = st
	}
	return have, nil
}
