package sfemu

import (
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// bind is one entry of a query-request's "bindings": a Snowflake type and a value that is
// a string, null, or, for array binding, an array of strings and nulls (one per row).
type bind struct {
	typ     string
	scalar  *string
	isArray bool
	array   []string
	nulls   []bool // nil when no element is null
}

// at is the value for array row r (r < 0 or a scalar bind: the scalar); ok is false for NULL.
func (b *bind) at(r int) (string, bool) {
	if !b.isArray || r < 0 {
		if b.scalar == nil {
			return "", false
		}
		return *b.scalar, true
	}
	if b.nulls != nil && b.nulls[r] {
		return "", false
	}
	return b.array[r], true
}

// bindSet holds a statement's binds by position; rows is the number of array rows, or 0
// when every bind is a scalar.
type bindSet struct {
	binds []bind
	rows  int
}

func (b *bindSet) count() int {
	if b == nil {
		return 0
	}
	return len(b.binds)
}

func decodeBindings(m map[string]bind) (*bindSet, error) {
	if len(m) == 0 {
		return nil, nil
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 {
			return nil, compileError("Bind variable :%s is named; the emulator supports positional binds (?, :1) only.", k)
		}
		keys = append(keys, n)
	}
	sort.Ints(keys)
	out := &bindSet{binds: make([]bind, keys[len(keys)-1])}
	for i := range out.binds {
		out.binds[i].typ = "TEXT"
	}
	rows := -1
	for _, k := range keys {
		b := m[strconv.Itoa(k)]
		b.typ = strings.ToUpper(b.typ)
		if b.isArray {
			if rows >= 0 && len(b.array) != rows {
				return nil, newError("002034", "22000", "Array bind variables have different lengths: %d and %d.", rows, len(b.array))
			}
			rows = len(b.array)
		}
		out.binds[k-1] = b
	}
	if rows > 0 {
		out.rows = rows
	}
	return out, nil
}

// scalarArgs are the Go values of scalar binds 1..n for DuckDB.
func (b *bindSet) scalarArgs(n int) ([]any, error) {
	return b.rowArgs(n, -1)
}

// rowArgs are the values of binds 1..n for array row r (r < 0: scalars only).
func (b *bindSet) rowArgs(n, r int) ([]any, error) {
	args := make([]any, n)
	for i := 0; i < n; i++ {
		bd := &b.binds[i]
		v, ok := bd.at(r)
		if !ok {
			continue
		}
		x, err := goValue(bd.typ, v)
		if err != nil {
			return nil, bindError(i+1, bd.typ, v, err)
		}
		args[i] = x
	}
	return args, nil
}

func bindError(n int, typ, v string, err error) error {
	return newError("100038", "22018", "Bind variable :%d of type %s has a value that cannot be read: '%s' (%v)", n, typ, v, err)
}

// goValue converts a bound string to the Go value DuckDB takes for its type.
func goValue(typ, s string) (any, error) {
	switch typ {
	case "FIXED":
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if _, ok := new(big.Int).SetString(s, 10); ok {
			return s, nil
		}
		return nil, fmt.Errorf("not an integer")
	case "REAL":
		return strconv.ParseFloat(s, 64)
	case "BOOLEAN":
		switch strings.ToLower(s) {
		case "true", "1", "t", "yes", "y", "on":
			return true, nil
		case "false", "0", "f", "no", "n", "off":
			return false, nil
		}
		return nil, fmt.Errorf("not a boolean")
	case "TIMESTAMP_TZ":
		return parseEpochNanos(s, true)
	case "TIMESTAMP_LTZ", "TIMESTAMP_NTZ":
		return parseEpochNanos(s, false)
	case "DATE":
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		t := time.UnixMilli(ms).UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
	case "TIME":
		ns, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return time.Time{}.Add(time.Duration(ns)).Format("15:04:05.999999999"), nil
	case "BINARY":
		return hex.DecodeString(s)
	}
	return s, nil
}

// parseEpochNanos reads the driver's timestamp binds: epoch nanoseconds, followed for
// TIMESTAMP_TZ by a space and the UTC offset in minutes plus 1440.
func parseEpochNanos(s string, withOffset bool) (time.Time, error) {
	zone := time.UTC
	if withOffset {
		if i := strings.IndexByte(s, ' '); i >= 0 {
			off, err := strconv.Atoi(s[i+1:])
			if err != nil {
				return time.Time{}, err
			}
			s = s[:i]
			if off != 1440 {
				zone = time.FixedZone("", (off-1440)*60)
			}
		}
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return time.Time{}, fmt.Errorf("not epoch nanoseconds")
	}
	sec, nsec := new(big.Int).DivMod(n, big.NewInt(1e9), new(big.Int))
	return time.Unix(sec.Int64(), nsec.Int64()).In(zone), nil
}

// appendType is the DuckDB type of a bind column on the bulk path.
func appendType(b *bind, rows int) (duckdb.TypeInfo, error) {
	t := duckdb.TYPE_VARCHAR
	switch b.typ {
	case "FIXED":
		t = duckdb.TYPE_BIGINT
		for r := 0; r < rows; r++ {
			if v, ok := b.at(r); ok {
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					t = duckdb.TYPE_VARCHAR
					break
				}
			}
		}
	case "REAL":
		t = duckdb.TYPE_DOUBLE
	case "BOOLEAN":
		t = duckdb.TYPE_BOOLEAN
	case "TIMESTAMP_TZ", "TIMESTAMP_LTZ":
		t = duckdb.TYPE_TIMESTAMP_TZ
	case "TIMESTAMP_NTZ":
		t = duckdb.TYPE_TIMESTAMP
	case "DATE":
		t = duckdb.TYPE_DATE
	case "BINARY":
		t = duckdb.TYPE_BLOB
	}
	return duckdb.NewTypeInfo(t)
}

// columnValues converts one bind into appender values of the given type, one per row; a
// scalar next to arrays applies to every row.
func columnValues(n int, b *bind, rows int, t duckdb.TypeInfo) ([]driver.Value, error) {
	out := make([]driver.Value, rows)
	asText := t.InternalType() == duckdb.TYPE_VARCHAR && b.typ != "TIME"
	for r := 0; r < rows; r++ {
		v, ok := b.at(r)
		if !ok {
			continue
		}
		if asText {
			out[r] = v
			continue
		}
		x, err := goValue(b.typ, v)
		if err != nil {
			return nil, bindError(n, b.typ, v, err)
		}
		out[r] = x
	}
	return out, nil
}
