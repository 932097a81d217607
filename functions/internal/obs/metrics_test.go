package obs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixedMetrics(function, stage string) *Metrics {
	m := NewMetrics(function, stage)
	m.now = func() time.Time { return time.UnixMilli(1700000000123) }
	return m
}

func TestMetricsFlushGolden(t *testing.T) {
	m := fixedMetrics("loader", "dev")
	m.Add(FilesLoaded, 2)
	m.Add(RowsLoaded, 1000)
	m.Add(RowsLoaded, 500)
	m.Add(LoadSeconds, 1.25)
	m.Add(SnowflakeLogins, 1)

	var buf bytes.Buffer
	require.NoError(t, m.Flush(&buf))
	want, err := os.ReadFile(filepath.Join("testdata", "emf-loader.golden.json"))
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), strings.TrimSuffix(buf.String(), "\n"))
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line per flush")
}

// emf is the part of an EMF line the tests read.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func flush(t *testing.T, m *Metrics) (emf, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, m.Flush(&buf))
	var shape emf
	require.NoError(t, json.Unmarshal(buf.Bytes(), &shape))
	require.Len(t, shape.AWS.CloudWatchMetrics, 1)
	var values map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &values))
	return shape, values
}

func TestMetricsFlush(t *testing.T) {
	tests := []struct {
		name      string
		stage     string
		add       map[Metric]float64
		wantDims  []string
		wantNames []string
	}{
		{
			name:      "validator with stage",
			stage:     "prod",
			add:       map[Metric]float64{FilesAccepted: 3, FilesRejected: 0, BatchesStarted: 1},
			wantDims:  []string{"Function", "Stage"},
			wantNames: []string{"FilesAccepted", "FilesRejected", "BatchesStarted", "ColdStart"},
		},
		{
			name:      "nothing added still reports the cold start",
			wantDims:  []string{"Function"},
			wantNames: []string{"ColdStart"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixedMetrics("validator", tt.stage)
			for k, v := range tt.add {
				m.Add(k, v)
			}
			shape, values := flush(t, m)
			d := shape.AWS.CloudWatchMetrics[0]
			assert.Equal(t, Namespace, d.Namespace)
			assert.Equal(t, [][]string{tt.wantDims}, d.Dimensions)
			var names []string
			for _, def := range d.Metrics {
				names = append(names, def.Name)
				assert.Contains(t, values, def.Name, "every declared metric has a value")
			}
			assert.Equal(t, tt.wantNames, names)
			for _, dim := range tt.wantDims {
				assert.Contains(t, values, dim, "every dimension has a value")
			}
			assert.Equal(t, "validator", values["Function"])
		})
	}
}

func TestMetricsResetAfterFlush(t *testing.T) {
	m := fixedMetrics("loader", "")
	m.Add(RowsLoaded, 10)
	_, first := flush(t, m)
	assert.Equal(t, float64(10), first["RowsLoaded"])
	assert.Equal(t, float64(1), first["ColdStart"])

	_, second := flush(t, m)
	assert.NotContains(t, second, "RowsLoaded", "figures start again after a flush")
	assert.Equal(t, float64(0), second["ColdStart"], "only the first flush is a cold start")
}

func TestMetricsConcurrentAdds(t *testing.T) {
	m := fixedMetrics("validator", "dev")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.Add(FilesAccepted, 1)
			}
		})
	}
	wg.Wait()
	_, values := flush(t, m)
	assert.Equal(t, float64(8000), values["FilesAccepted"])
}

func TestMetricString(t *testing.T) {
	assert.Equal(t, "SnowflakeLogins", SnowflakeLogins.String())
	assert.Equal(t, "Metric(99)", Metric(99).String())
}
