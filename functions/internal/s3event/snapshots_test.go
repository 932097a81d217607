package s3event

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The LocalStack recordings were made against real AWS, then had their volatile values
// replaced by placeholders. These tests check what the recordings still prove.

// snapEvent is what one recorded event must yield. Times, sequencers, regions and
// principals are placeholders in the recordings, so the event name and the object's own
// members are what is compared.
type snapEvent struct {
	event, key string
	size       int64
	etag       string
	version    string
	sequencer  string
}

type snapKey struct{ test, content string }

// snapshotTime replaces the "date" placeholder, which is not a time, so that the rest of a
// recorded event can be parsed.
const snapshotTime = "2025-01-21T23:21:10.000Z"

// snapshotItems returns, per test and content key, the recorded items that have the
// member marker (an S3 record, an SNS envelope or an EventBridge event).
func snapshotItems(t *testing.T, name, marker string) map[snapKey][]map[string]any {
	var snap map[string]struct {
		Content map[string]any `json:"recorded-content"`
	}
	require.NoError(t, json.Unmarshal(readFixture(t, name), &snap))
	out := map[snapKey][]map[string]any{}
	for test, rec := range snap {
		short := test[strings.LastIndex(test, "::")+len("::"):]
		for content, v := range rec.Content {
			var items []any
			switch v := v.(type) {
			case []any:
				items = v
			case map[string]any:
				if msgs, ok := v["messages"].([]any); ok {
					items = msgs
				} else {
					items = []any{v}
				}
			}
			for _, it := range items {
				m, ok := it.(map[string]any)
				if !ok {
					continue
				}
				if body, ok := m["Body"].(map[string]any); ok {
					// An SQS message as received, with the notification as its body.
					records := body["Records"].([]any)
					require.Len(t, records, 1)
					m = records[0].(map[string]any)
				}
				if _, ok := m[marker]; ok {
					k := snapKey{short, content}
					out[k] = append(out[k], m)
				}
			}
		}
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// checkSnapshot compares the recorded items with the expectations, both ways.
func checkSnapshot(t *testing.T, items map[snapKey][]map[string]any, want map[snapKey][]snapEvent, check func(t *testing.T, item map[string]any, want snapEvent)) {
	for k := range items {
		assert.Contains(t, want, k, "recorded events without expectations")
	}
	keys := make([]snapKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].test+keys[i].content < keys[j].test+keys[j].content })
	for _, k := range keys {
		t.Run(k.test+"/"+k.content, func(t *testing.T) {
			got := items[k]
			require.Len(t, got, len(want[k]))
			for i, w := range want[k] {
				check(t, got[i], w)
			}
		})
	}
}

func assertSnapObject(t *testing.T, msg Message, kind Kind, w snapEvent) {
	t.Helper()
	assert.Equal(t, kind, msg.Kind)
	require.Len(t, msg.Objects, 1)
	o := msg.Objects[0]
	assert.Equal(t, w, snapEvent{o.EventName, o.Key, o.Size, o.ETag, o.VersionID, o.Sequencer})
	assert.Equal(t, snapshotTime, o.EventTime.Format(eventTimeLayout))
	assert.NotEmpty(t, o.Bucket)
}

func TestFixtureLocalStackSQSSnapshot(t *testing.T) {
	fixturesDir(t)
	const created, tag = "437b930db84b8079c2dd804a71936b5f", "f3e6da48d914f3f04f6bd9cb092c044d"
	want := map[snapKey][]snapEvent{
		{"test_object_created_put", "receive_messages"}: {
			{"ObjectCreated:Put", "my_key_0", 9, created, "", "sequencer"},
			{"ObjectCreated:Put", "my_key_1", 14, "6c7ba9c5a141421e1c03cb9807c97c74", "", "sequencer"},
		},
		// A copy has no versionId.
		{"test_object_created_copy", "receive_messages"}: {
			{"ObjectCreated:Copy", "<object-key:1>", 9, created, "", "sequencer"},
		},
		{"test_object_created_and_object_removed", "receive_messages"}: {
			{"ObjectCreated:Copy", "<object-key:1>", 9, created, "", "sequencer"},
			{"ObjectCreated:Put", "<object-key:2>", 9, created, "", "sequencer"},
			{"ObjectRemoved:Delete", "<object-key:2>", 0, "", "", "sequencer"},
		},
		{"test_object_created_complete_multipart_upload", "receive_messages"}: {
			{"ObjectCreated:CompleteMultipartUpload", "test-key", 6144, "8eabe9d6b43316e840b079170916c079-1", "", "sequencer"},
		},
		// The key "a@b" arrives as "a%40b".
		{"test_key_encoding", "receive_messages"}: {
			{"ObjectCreated:Put", "a@b", 9, created, "", "sequencer"},
		},
		{"test_object_created_put_with_presigned_url_upload", "receive_messages"}: {
			{"ObjectCreated:Put", "key-by-hostname", 9, created, "", "sequencer"},
		},
		{"test_object_created_put_with_presigned_url_upload", "receive_messages_region_2"}: {
			{"ObjectCreated:Put", "key-by-hostname", 9, created, "", "sequencer"},
		},
		// Tagging and ACL events are eventVersion 2.3, without size or sequencer.
		{"test_object_tagging_put_event", "receive_messages"}: {
			{"ObjectTagging:Put", "<object-key:1>", 0, tag, "", ""},
		},
		{"test_object_tagging_delete_event", "receive_messages"}: {
			{"ObjectTagging:Delete", "<object-key:1>", 0, tag, "", ""},
		},
		{"test_object_put_acl", "receive_messages"}: {
			{"ObjectAcl:Put", "my_key_acl", 0, created, "", ""},
			{"ObjectAcl:Put", "my_key_acl", 0, created, "", ""},
			{"ObjectAcl:Put", "my_key_acl", 0, created, "", ""},
		},
		{"test_xray_header", "receive_messages"}: {
			{"ObjectCreated:Put", "test-data", 9, created, "", "sequencer"},
		},
		{"test_notifications_with_filter", "message"}: {
			{"ObjectCreated:Put", "testupload/dir1/testfile.txt", 32, "f527a5c9f427867aeaf091c134949aa0", "", "sequencer"},
		},
		{"test_delete_objects", "receive_messages"}: {
			{"ObjectRemoved:Delete", "<object-key:1>", 0, "", "", "sequencer"},
			{"ObjectRemoved:Delete", "<object-key:2>", 0, "", "", "sequencer"},
			{"ObjectRemoved:Delete", "<object-key:3>", 0, "", "", "sequencer"},
		},
		{"test_restore_object", "receive_messages"}: {
			{"ObjectRestore:Post", "my_key_restore", 9, created, "", "sequencer"},
			{"ObjectRestore:Completed", "my_key_restore", 9, created, "", "sequencer"},
		},
		// Versioned: two puts, a delete of a version (no eTag) and a delete marker (the MD5
		// of nothing). Once versioning is suspended, puts carry no versionId.
		{"test_object_created_put_versioned", "message-versioning-active"}: {
			{"ObjectCreated:Put", "test-key", 13, "6869c34ca384e0ed836d49214f881e87", "version-id", "sequencer"},
			{"ObjectCreated:Put", "test-key", 4, "8d777f385d3dfec8815d20f7496026dc", "version-id", "sequencer"},
			{"ObjectRemoved:Delete", "test-key", 0, "", "version-id", "sequencer"},
			{"ObjectRemoved:DeleteMarkerCreated", "test-key", 0, "d41d8cd98f00b204e9800998ecf8427e", "version-id", "sequencer"},
		},
		{"test_object_created_put_versioned", "message-versioning-suspended"}: {
			{"ObjectCreated:Put", "test-key", 13, "2fb1d4988881168bbcd6432d7593be5a", "", "sequencer"},
			{"ObjectRemoved:Delete", "test-key", 0, "", "version-id", "sequencer"},
		},
	}
	items := snapshotItems(t, snapshotFiles[0], "eventSource")
	checkSnapshot(t, items, want, func(t *testing.T, rec map[string]any, w snapEvent) {
		// As recorded, eventTime is the placeholder "date", which a typed parser refuses.
		pe := requireReason(t, parseErr(Parse(mustJSON(t, map[string]any{"Records": []any{rec}}))), ReasonInvalidField)
		assert.Equal(t, "eventTime", pe.Field)

		rec["eventTime"] = snapshotTime
		msg, err := Parse(mustJSON(t, map[string]any{"Records": []any{rec}}))
		require.NoError(t, err)
		assertSnapObject(t, msg, KindS3, w)
	})
}

func TestFixtureLocalStackSNSSnapshot(t *testing.T) {
	fixturesDir(t)
	want := map[snapKey][]snapEvent{
		{"test_object_created_put", "receive_messages"}: {
			{"ObjectCreated:Put", "bucket-key", 11, "c8e3a3027a133355210f85cfbb1acc35", "", "sequencer"},
			{"ObjectCreated:Put", "bucket-key", 12, "05c7c1b96e20928f6e55a881b5ca1c45", "", "sequencer"},
		},
		{"test_bucket_notifications_with_filter", "message"}: {
			{"ObjectCreated:Put", "testupload/dir1/testfile.txt", 35, "f5260f0f41af2722d9fe17a57dfa9da5", "", "sequencer"},
		},
	}
	items := snapshotItems(t, snapshotFiles[1], "Type")
	checkSnapshot(t, items, want, func(t *testing.T, env map[string]any, w snapEvent) {
		assert.Equal(t, "Amazon S3 Notification", env["Subject"])
		// The recording holds Message decoded into an object; SNS sends a string.
		pe := requireReason(t, parseErr(Parse(mustJSON(t, env))), ReasonInvalidField)
		assert.Equal(t, "Message", pe.Field)

		inner := env["Message"].(map[string]any)
		for _, r := range inner["Records"].([]any) {
			r.(map[string]any)["eventTime"] = snapshotTime
		}
		env["Message"] = string(mustJSON(t, inner))
		msg, err := Parse(mustJSON(t, env))
		require.NoError(t, err)
		assertSnapObject(t, msg, KindSNS, w)
	})
}

func TestFixtureLocalStackEventBridgeSnapshot(t *testing.T) {
	fixturesDir(t)
	const etag = "437b930db84b8079c2dd804a71936b5f"
	want := map[snapKey][]snapEvent{
		{"test_object_created_put", "object_created"}: {
			{"ObjectCreated:Put", "<key-name:1>", 4, "8d777f385d3dfec8815d20f7496026dc", "", "object-sequencer"},
		},
		{"test_object_created_put", "object_deleted"}: {
			{"ObjectRemoved:Delete", "<key-name:1>", 0, "", "", "object-sequencer"},
		},
		{"test_object_put_acl", "messages"}: {
			{"ObjectAcl:Put", "<key-name:1>", 0, etag, "", ""},
			{"ObjectAcl:Put", "<key-name:1>", 0, etag, "", ""},
			{"ObjectAcl:Put", "<key-name:1>", 0, etag, "", ""},
			{"ObjectCreated:Put", "<key-name:1>", 9, etag, "", "object-sequencer"},
		},
		{"test_restore_object", "messages"}: {
			{"ObjectRestore:Post", "<key-name:1>", 9, etag, "", ""},
			{"ObjectRestore:Completed", "<key-name:1>", 9, etag, "", ""},
		},
		{"test_object_created_put_in_different_region", "object-created-different-regions"}: {
			{"ObjectCreated:Put", "<key-name:1>", 4, "8d777f385d3dfec8815d20f7496026dc", "", "object-sequencer"},
			{"ObjectCreated:Put", "<key-name:1>", 4, "8d777f385d3dfec8815d20f7496026dc", "", "object-sequencer"},
		},
		{"test_object_created_put_versioned", "message-versioning-active"}: {
			{"ObjectCreated:Put", "<key-name:1>", 13, "2fb1d4988881168bbcd6432d7593be5a", "", "object-sequencer"},
			{"ObjectRemoved:Delete", "<key-name:1>", 0, "", "<version-id:3>", "object-sequencer"},
		},
		{"test_object_created_put_versioned", "message-versioning-suspended"}: {
			{"ObjectCreated:Put", "<key-name:1>", 13, "2fb1d4988881168bbcd6432d7593be5a", "", "object-sequencer"},
			{"ObjectRemoved:Delete", "<key-name:1>", 0, "", "<version-id:3>", "object-sequencer"},
		},
	}
	items := snapshotItems(t, snapshotFiles[2], "detail-type")
	checkSnapshot(t, items, want, func(t *testing.T, ev map[string]any, w snapEvent) {
		pe := requireReason(t, parseErr(Parse(mustJSON(t, ev))), ReasonInvalidField)
		assert.Equal(t, "time", pe.Field)

		ev["time"] = snapshotTime
		msg, err := Parse(mustJSON(t, ev))
		require.NoError(t, err)
		assertSnapObject(t, msg, KindEventBridge, w)
	})
}

func parseErr(_ Message, err error) error { return err }
