package s3local

import "strings"

// Filter is one S3 event notification filter: a key prefix and a key suffix, both compared
// case-sensitively, as S3 compares them.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
type Filter struct {
	Prefix, Suffix string
}

// Match reports whether S3 would send a notification of key under this filter.
func (f Filter) Match(key string) bool {
	return strings.HasPrefix(key, f.Prefix) && strings.HasSuffix(key, f.Suffix)
}

// IngestFilters are the notification filters of template.yaml's data bucket: one per suffix
// the pipeline loads, all under incoming/. The template's test checks that the template says
// exactly this, so the local S3 delivers what the deployed bucket would.
var IngestFilters = func() []Filter {
	var out []Filter
	for _, ext := range []string{".json", ".ndjson", ".jsonl"} {
		out = append(out, Filter{Prefix: "incoming/", Suffix: ext}, Filter{Prefix: "incoming/", Suffix: ext + ".gz"})
	}
	return out
}()

// Delivered reports whether any of filters matches key.
func Delivered(filters []Filter, key string) bool {
	for _, f := range filters {
		if f.Match(key) {
			return true
		}
	}
	return false
}
