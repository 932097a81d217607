package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

// runQuery is `go run ./functions/local query "SELECT ..."`: the local `snow sql -q`.
func runQuery(ctx context.Context, args []string) int {
	return query(ctx, args, os.Stdout, os.Stderr)
}

func query(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	dir := localrun.DefaultOptions().Dir
	var asJSON bool
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dir, "dir", dir, "the state folder of the local runs")
	fs.BoolVar(&asJSON, "json", false, "print the rows as a JSON array of objects, one per row")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Runs one SQL statement against the local Snowflake warehouse and prints what it returns.

The statement goes through the Snowflake driver to the local emulator, as the loader's do, on
the warehouse the last run left in the state folder; it works between runs. Tables live in
LOADER_DB.RAW: RAW_DATA, FILE_LOADS and DAILY_SUMMARY. A statement that changes data commits.

Usage: go run ./functions/local query [flags] "SELECT ..."

Example: go run ./functions/local query "SELECT * FROM DAILY_SUMMARY ORDER BY EVENT_DATE"

`)
		fs.PrintDefaults()
	}
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	statement := strings.TrimSpace(strings.Join(words, " "))
	if statement == "" {
		fs.Usage()
		fmt.Fprintln(stderr, "\nquery: give the SQL statement to run, in quotes")
		return 2
	}

	wh, err := localrun.OpenWarehouse(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, "query:", err)
		return 1
	}
	defer wh.Close()
	res, err := wh.Query(ctx, statement)
	if err != nil {
		fmt.Fprintln(stderr, "query failed:", err)
		return 1
	}
	if asJSON {
		err = writeQueryJSON(stdout, res)
	} else {
		writeQueryTable(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "query:", err)
		return 1
	}
	return 0
}

// writeQueryTable prints the rows in a box, as `snow sql` does, numbers aligned to the right.
// text/tabwriter aligns every column the same way, so the few lines of layout are written here.
func writeQueryTable(w io.Writer, res *localrun.QueryResult) {
	if len(res.Columns) == 0 {
		fmt.Fprintln(w, "Statement executed.")
		return
	}
	cells := make([][]string, len(res.Rows))
	width := make([]int, len(res.Columns))
	for i, c := range res.Columns {
		width[i] = utf8.RuneCountInString(c)
	}
	for r, row := range res.Rows {
		cells[r] = make([]string, len(row))
		for i, v := range row {
			cells[r][i] = queryCell(v, res.Types[i])
			width[i] = max(width[i], utf8.RuneCountInString(cells[r][i]))
		}
	}
	border := func(edge, join string) {
		parts := make([]string, len(width))
		for i, n := range width {
			parts[i] = strings.Repeat("-", n+2)
		}
		fmt.Fprintln(w, edge+strings.Join(parts, join)+edge)
	}
	line := func(row []string, numeric bool) {
		parts := make([]string, len(row))
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if numeric && isNumber(res.Types[i]) {
				parts[i] = " " + pad + c + " "
			} else {
				parts[i] = " " + c + pad + " "
			}
		}
		fmt.Fprintln(w, "|"+strings.Join(parts, "|")+"|")
	}
	border("+", "+")
	line(res.Columns, false)
	border("|", "+")
	for _, row := range cells {
		line(row, true)
	}
	border("+", "+")
	fmt.Fprintln(w, plural(len(res.Rows), "row"))
}

func isNumber(typ string) bool { return typ == "FIXED" || typ == "REAL" }

// queryCell is a value as a person reads it: a date as a date, NULL spelt out.
func queryCell(v any, typ string) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if typ == "DATE" {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case string:
		// A VARIANT comes as indented JSON; one line keeps the table a table.
		var compact bytes.Buffer
		if (typ == "VARIANT" || typ == "OBJECT" || typ == "ARRAY") && json.Compact(&compact, []byte(x)) == nil {
			return compact.String()
		}
		return strings.ReplaceAll(x, "\n", " ")
	default:
		return fmt.Sprint(x)
	}
}

// writeQueryJSON prints one object per row. Numbers stay Snowflake's exact decimal text as
// JSON numbers, and VARIANT, OBJECT and ARRAY values are embedded as JSON.
func writeQueryJSON(w io.Writer, res *localrun.QueryResult) error {
	out := make([]orderedRow, 0, len(res.Rows))
	for _, row := range res.Rows {
		obj := orderedRow{names: res.Columns, values: make([]any, len(row))}
		for i, v := range row {
			obj.values[i] = jsonCell(v, res.Types[i])
		}
		out = append(out, obj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func jsonCell(v any, typ string) any {
	s, ok := v.(string)
	if !ok {
		if t, isTime := v.(time.Time); isTime && typ == "DATE" {
			return t.Format(time.DateOnly)
		}
		return v
	}
	switch typ {
	case "FIXED", "REAL":
		if json.Valid([]byte(s)) {
			return json.Number(s)
		}
	case "VARIANT", "OBJECT", "ARRAY":
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
	}
	return s
}

// orderedRow is a row as a JSON object whose keys keep the statement's column order, which a
// map would sort.
type orderedRow struct {
	names  []string
	values []any
}

func (r orderedRow) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range r.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(r.values[i])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}
