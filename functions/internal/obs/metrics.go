package obs

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace the loader's metrics are published under.
const Namespace = "S3SnowflakeLoader"

// Metric names one figure the Lambdas report.
type Metric int

// The metrics. Validator: files accepted, rejected and skipped, bytes accepted, batches
// started. Loader: files and rows loaded, load time, Snowflake logins (a rising count means
// sessions are not being reused). Both: ColdStart.
const (
	FilesAccepted Metric = iota
	FilesRejected
	FilesSkipped
	BytesAccepted
	BatchesStarted
	FilesLoaded
	RowsLoaded
	LoadSeconds
	SnowflakeLogins
	ColdStart
	numMetrics
)

var metricInfo = [numMetrics]struct{ name, unit string }{
	FilesAccepted:   {"FilesAccepted", "Count"},
	FilesRejected:   {"FilesRejected", "Count"},
	FilesSkipped:    {"FilesSkipped", "Count"},
	BytesAccepted:   {"BytesAccepted", "Bytes"},
	BatchesStarted:  {"BatchesStarted", "Count"},
	FilesLoaded:     {"FilesLoaded", "Count"},
	RowsLoaded:      {"RowsLoaded", "Count"},
	LoadSeconds:     {"LoadSeconds", "Seconds"},
	SnowflakeLogins: {"SnowflakeLogins", "Count"},
	ColdStart:       {"ColdStart", "Count"},
}

// String is the metric's CloudWatch name.
func (m Metric) String() string {
	if m < 0 || m >= numMetrics {
		return fmt.Sprintf("Metric(%d)", int(m))
	}
	return metricInfo[m].name
}

// Metrics adds up one invocation's figures and writes them as a CloudWatch Embedded Metric
// Format line: CloudWatch turns the log line into metrics, with no API call on the hot path
// and no extra permission. Make one per container (in main) and Flush it at the end of each
// invocation; the first Flush reports ColdStart 1, later ones 0. Safe for concurrent use.
type Metrics struct {
	function, stage string
	now             func() time.Time

	mu      sync.Mutex
	values  [numMetrics]float64
	set     [numMetrics]bool
	flushed bool
}

// NewMetrics returns metrics for one function (validator, loader) in one stage (dev, prod);
// both become dimensions. An empty stage leaves that dimension out.
func NewMetrics(function, stage string) *Metrics {
	return &Metrics{function: function, stage: stage, now: time.Now}
}

// Add adds v to a metric. Only metrics added to (even with 0) appear in the next Flush, so a
// validator line does not claim the loader loaded zero rows.
func (m *Metrics) Add(metric Metric, v float64) {
	if metric < 0 || metric >= numMetrics {
		return
	}
	m.mu.Lock()
	m.values[metric] += v
	m.set[metric] = true
	m.mu.Unlock()
}

// Flush writes one EMF JSON line with the figures added since the last Flush, then starts
// again from zero.
func (m *Metrics) Flush(w io.Writer) error {
	m.mu.Lock()
	values, set := m.values, m.set
	cold := !m.flushed
	m.values, m.set, m.flushed = [numMetrics]float64{}, [numMetrics]bool{}, true
	m.mu.Unlock()

	values[ColdStart], set[ColdStart] = 0, true
	if cold {
		values[ColdStart] = 1
	}

	dims := []string{"Function"}
	doc := map[string]any{"Function": m.function}
	if m.stage != "" {
		dims = append(dims, "Stage")
		doc["Stage"] = m.stage
	}
	defs := make([]emfMetric, 0, numMetrics)
	for i := range numMetrics {
		if set[i] {
			defs = append(defs, emfMetric{Name: metricInfo[i].name, Unit: metricInfo[i].unit})
			doc[metricInfo[i].name] = values[i]
		}
	}
	doc["_aws"] = emfMeta{
		Timestamp: m.now().UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  Namespace,
			Dimensions: [][]string{dims},
			Metrics:    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("obs: encode metrics: %w", err)
	}
	_, err = w.Write(append(line, '\n'))
	return err
}

// The EMF envelope, as specified by CloudWatch: the _aws member says which top-level
// members are metrics and which are dimensions.
type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}
