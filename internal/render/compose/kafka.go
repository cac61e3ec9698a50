package compose

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"

	kresource "k8s.io/apimachinery/pkg/api/resource"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/novadev/novadev/internal/contract"
)

// KafkaDataDir is where the official Apache Kafka image keeps its logs: the
// one directory its Dockerfile creates writable for its non-root user
// (appuser), so a fresh named volume mounted there inherits that owner.
const KafkaDataDir = "/var/lib/kafka/data"

// KRaftEnv configures the official apache/kafka image as a single combined
// broker and controller (KRaft, no ZooKeeper). The image builds
// server.properties from KAFKA_* variables only when some are set, and then
// needs every required one: node id, roles, listeners, the controller
// quorum and a cluster id. Clients see what the offline broker offers:
// PLAINTEXT on the store's port, advertised as <store>:<port> (the host
// reaches it through the published port and the supervisor's name remap),
// replication 1 for the internal topics (one broker) and no automatic
// topic creation (kafka-topics creates the catalog's topics).
func KRaftEnv(c *catalog.Catalog, st *catalog.Store) contract.Env {
	p := strconv.Itoa(st.Port)
	ctrl := strconv.Itoa(st.Port + 1)
	env := contract.Env{
		{Name: "KAFKA_NODE_ID", Value: contract.Text("1")},
		{Name: "KAFKA_PROCESS_ROLES", Value: contract.Text("broker,controller")},
		{Name: "KAFKA_LISTENERS", Value: contract.Text("PLAINTEXT://0.0.0.0:" + p + ",CONTROLLER://127.0.0.1:" + ctrl)},
		{Name: "KAFKA_ADVERTISED_LISTENERS", Value: contract.Text("PLAINTEXT://" + st.Name + ":" + p)},
		{Name: "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", Value: contract.Text("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")},
		{Name: "KAFKA_CONTROLLER_LISTENER_NAMES", Value: contract.Text("CONTROLLER")},
		{Name: "KAFKA_INTER_BROKER_LISTENER_NAME", Value: contract.Text("PLAINTEXT")},
		{Name: "KAFKA_CONTROLLER_QUORUM_VOTERS", Value: contract.Text("1@127.0.0.1:" + ctrl)},
		{Name: "CLUSTER_ID", Value: contract.Text(clusterID(c.Env.Project))},
		{Name: "KAFKA_LOG_DIRS", Value: contract.Text(KafkaDataDir)},
		{Name: "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", Value: contract.Text("1")},
		{Name: "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", Value: contract.Text("1")},
		{Name: "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", Value: contract.Text("1")},
		{Name: "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", Value: contract.Text("0")},
		{Name: "KAFKA_AUTO_CREATE_TOPICS_ENABLE", Value: contract.Text("false")},
	}
	if heap := kafkaHeap(st.Resources.Limits.Memory); heap != "" {
		// the JVM's default heap (1 GiB) is above the container's limit
		env = append(env, contract.Var{Name: "KAFKA_HEAP_OPTS", Value: contract.Text(heap)})
	}
	return env
}

// clusterID is a stable KRaft cluster id per project: 16 bytes, base64url
// without padding, as kafka-storage random-uuid prints them. Stable so a
// kept volume formatted with it is accepted on the next up.
func clusterID(project string) string {
	sum := sha256.Sum256([]byte("novadev kraft " + project))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// kafkaHeap is half the memory limit as the JVM's fixed heap (the rest is
// metaspace, threads and the page cache Kafka relies on); "" without a
// limit.
func kafkaHeap(limit string) string {
	if limit == "" {
		return ""
	}
	q, err := kresource.ParseQuantity(limit)
	if err != nil {
		return ""
	}
	mib := q.Value() / 2 / (1 << 20)
	if mib < 128 {
		mib = 128
	}
	return fmt.Sprintf("-Xms%dm -Xmx%dm", mib, mib)
}
