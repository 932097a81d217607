package sfemu

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
)

// Statement type ids Snowflake reports; the driver reads DML counts only for ids in
// 0x3000-0x3500 and rows for 0x1000 (SELECT).
const (
	typeSelect   int64 = 0x1000
	typeInsert   int64 = 0x3100
	typeUpdate   int64 = 0x3200
	typeDelete   int64 = 0x3300
	typeMerge    int64 = 0x3400
	typeSession  int64 = 0x4100 // ALTER SESSION
	typeUse      int64 = 0x4300
	typeShow     int64 = 0x4400
	typeDescribe int64 = 0x4500
	typeTCL      int64 = 0x5000
	typeDDL      int64 = 0x6000
)

// column is one entry of a result's rowtype.
type column struct {
	Name       string  `json:"name"`
	Database   string  `json:"database"`
	Schema     string  `json:"schema"`
	Table      string  `json:"table"`
	Nullable   bool    `json:"nullable"`
	Type       string  `json:"type"`
	Length     *int64  `json:"length"`
	ByteLength *int64  `json:"byteLength"`
	Precision  *int64  `json:"precision"`
	Scale      *int64  `json:"scale"`
	Collation  *string `json:"collation"`
}

func i64(n int64) *int64 { return &n }

func textColumn(name string) column {
	return column{Name: name, Type: "text", Nullable: true, Length: i64(16777216), ByteLength: i64(16777216)}
}

func fixedColumn(name string, precision, scale int64) column {
	return column{Name: name, Type: "fixed", Nullable: true, Precision: i64(precision), Scale: i64(scale)}
}

// result is what a statement answers: a rowtype, rows of cells (nil is NULL) and the
// statement type id.
type result struct {
	columns []column
	rows    [][]*string
	typeID  int64
	// transfer, for a PUT or GET, is the answer's data: what the driver needs to move the
	// files itself (stage.go). The driver makes the rows of the result.
	transfer map[string]any
}

func statusResult(typeID int64, msg string) *result {
	return &result{columns: []column{textColumn("status")}, rows: [][]*string{{&msg}}, typeID: typeID}
}

func countResult(typeID int64, names []string, counts []int64) *result {
	r := &result{typeID: typeID, rows: [][]*string{make([]*string, len(names))}}
	for i, n := range names {
		r.columns = append(r.columns, fixedColumn(n, 38, 0))
		s := strconv.FormatInt(counts[i], 10)
		r.rows[0][i] = &s
	}
	return r
}

// cellFormat converts a DuckDB value to the text Snowflake sends for its rowtype.
type cellFormat func(v any) (string, error)

// describeColumn maps a DuckDB result column to Snowflake's rowtype and cell format.
func describeColumn(ct *sql.ColumnType) (column, cellFormat) {
	name := ct.Name()
	dbType := ct.DatabaseTypeName()
	switch {
	case dbType == "BOOLEAN":
		return column{Name: name, Type: "boolean", Nullable: true}, func(v any) (string, error) {
			if b, ok := v.(bool); ok && b {
				return "1", nil
			}
			return "0", nil
		}
	case dbType == "TINYINT" || dbType == "SMALLINT" || dbType == "INTEGER" || dbType == "BIGINT" ||
		dbType == "UTINYINT" || dbType == "USMALLINT" || dbType == "UINTEGER":
		return fixedColumn(name, 18, 0), formatNumber
	case dbType == "UBIGINT" || dbType == "HUGEINT" || dbType == "UHUGEINT":
		return fixedColumn(name, 38, 0), formatNumber
	case strings.HasPrefix(dbType, "DECIMAL"):
		p, sc, ok := ct.DecimalSize()
		if !ok {
			p, sc = 38, 0
			var pp, ss int64
			if _, err := fmt.Sscanf(dbType, "DECIMAL(%d,%d)", &pp, &ss); err == nil {
				p, sc = pp, ss
			}
		}
		return fixedColumn(name, p, sc), formatNumber
	case dbType == "FLOAT" || dbType == "DOUBLE":
		return column{Name: name, Type: "real", Nullable: true}, formatNumber
	case dbType == "DATE":
		return column{Name: name, Type: "date", Nullable: true}, func(v any) (string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", fmt.Errorf("date value of type %T", v)
			}
			days := math.Floor(float64(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix()) / 86400)
			return strconv.FormatInt(int64(days), 10), nil
		}
	case dbType == "TIME" || dbType == "TIMETZ":
		return column{Name: name, Type: "time", Nullable: true, Scale: i64(9)}, func(v any) (string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", fmt.Errorf("time value of type %T", v)
			}
			secs := t.Hour()*3600 + t.Minute()*60 + t.Second()
			return fmt.Sprintf("%d.%09d", secs, t.Nanosecond()), nil
		}
	case dbType == "TIMESTAMPTZ":
		return column{Name: name, Type: "timestamp_tz", Nullable: true, Scale: i64(9)}, func(v any) (string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", fmt.Errorf("timestamp value of type %T", v)
			}
			_, off := t.Zone()
			return epochText(t) + " " + strconv.Itoa(off/60+1440), nil
		}
	case strings.HasPrefix(dbType, "TIMESTAMP"):
		return column{Name: name, Type: "timestamp_ntz", Nullable: true, Scale: i64(9)}, func(v any) (string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", fmt.Errorf("timestamp value of type %T", v)
			}
			return epochText(time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)), nil
		}
	case dbType == "BLOB":
		return column{Name: name, Type: "binary", Nullable: true, Length: i64(8388608), ByteLength: i64(8388608)}, func(v any) (string, error) {
			b, _ := v.([]byte)
			return strings.ToUpper(hex.EncodeToString(b)), nil
		}
	case dbType == "JSON":
		// The query was rewritten to return JSON as text (see queryRows).
		return column{Name: name, Type: "variant", Nullable: true, Length: i64(16777216), ByteLength: i64(16777216)}, formatVariant
	case strings.HasSuffix(dbType, "[]") || strings.HasPrefix(dbType, "STRUCT") || strings.HasPrefix(dbType, "MAP") || strings.Contains(dbType, "]"):
		return column{Name: name, Type: "variant", Nullable: true, Length: i64(16777216), ByteLength: i64(16777216)}, func(v any) (string, error) {
			b, err := json.Marshal(v)
			if err != nil {
				return "", err
			}
			return formatVariant(string(b))
		}
	}
	return textColumn(name), func(v any) (string, error) {
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			if len(x) == 16 && dbType == "UUID" {
				return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:]), nil
			}
			return string(x), nil
		case fmt.Stringer:
			return x.String(), nil
		}
		return fmt.Sprint(v), nil
	}
}

// epochText is seconds since the epoch with nine fractional digits.
func epochText(t time.Time) string {
	sec := t.Unix()
	nsec := t.Nanosecond()
	return strconv.FormatInt(sec, 10) + "." + fmt.Sprintf("%09d", nsec)
}

func formatNumber(v any) (string, error) {
	switch x := v.(type) {
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return fmt.Sprint(x), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN", nil
		case math.IsInf(x, 1):
			return "inf", nil
		case math.IsInf(x, -1):
			return "-inf", nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case *big.Int:
		return x.String(), nil
	case duckdb.Decimal:
		return formatDecimal(x), nil
	}
	return "", fmt.Errorf("number value of type %T", v)
}

func formatDecimal(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	s := new(big.Int).Abs(d.Value).String()
	neg := d.Value.Sign() < 0
	if d.Scale > 0 {
		sc := int(d.Scale)
		if len(s) <= sc {
			s = strings.Repeat("0", sc-len(s)+1) + s
		}
		s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// formatVariant pretty-prints JSON text with two-space indents, as Snowflake sends
// VARIANT values.
func formatVariant(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", err
		}
		s = string(b)
	}
	if len(s) > 0 && (s[0] == '{' || s[0] == '[') {
		var buf bytes.Buffer
		if err := json.Indent(&buf, []byte(s), "", "  "); err == nil {
			return buf.String(), nil
		}
	}
	return s, nil
}

// appendJSONString writes s as a JSON string. It is the hot path of large answers, so it
// avoids encoding/json's reflection.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xF])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
