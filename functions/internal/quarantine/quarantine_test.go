package quarantine

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
)

func TestReportKey(t *testing.T) {
	l := DefaultLayout("data-bucket")
	tests := []struct {
		name, key, want string
	}{
		{name: "the upload", key: "incoming/2026/a.ndjson", want: "quarantine/2026/a.ndjson.report.json"},
		{name: "the quarantined copy", key: "quarantine/2026/a.ndjson", want: "quarantine/2026/a.ndjson.report.json"},
		{name: "the report", key: "quarantine/2026/a.ndjson.report.json", want: "quarantine/2026/a.ndjson.report.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, l.ReportKey(tt.key))
		})
	}
}

func TestFirstProblem(t *testing.T) {
	tests := []struct {
		name string
		r    gate.Report
		want string
	}{
		{name: "a record finding says where", r: gate.Report{Message: "rejected", Errors: []gate.Finding{{Line: 3, Record: 2, Message: "bad"}}}, want: "line 3, record 2: bad"},
		{name: "a file finding", r: gate.Report{Message: "rejected", Errors: []gate.Finding{{Message: "not gzip"}}}, want: "not gzip"},
		{name: "no findings: the summary", r: gate.Report{Message: "the file is empty"}, want: "the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, FirstProblem(tt.r))
		})
	}
}
