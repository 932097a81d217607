package sfemu

// Stages and files: COPY INTO <table> from the user stage, with a JSON file format. The
// subset is the one a bulk load of NDJSON needs: one JSON value per line becomes one row;
// the transformation's select list may use $1 (the line as a VARIANT), METADATA$FILENAME
// and METADATA$FILE_ROW_NUMBER (https://docs.snowflake.com/en/user-guide/querying-metadata).
// Each line is parsed by the emulator's PARSE_JSON, so a staged line and a PARSE_JSON of
// the same text give the same VARIANT.
//
// The load streams: lines are appended to DuckDB in chunks, so its memory stays within the
// emulator's DuckDB memory limit however large the staged files are.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// copySpec is a parsed COPY INTO <table>.
type copySpec struct {
	table   string // as written
	columns string // the column list with its parentheses, or ""
	list    string // the transformation's select list; "$1" without one
	stage   string // "~"
	path    string // folder or name prefix in the stage
	opts    map[string]string
	format  map[string]string // FILE_FORMAT = ( ... ) options
}

// copyChunk is how many bytes of lines the emulator appends before DuckDB inserts them;
// a few chunks fit well within the 64 MB memory limit the local stack gives DuckDB.
const copyChunk = 8 << 20

func parseCopy(ws []string) (*copySpec, error) {
	bad := func(format string, args ...any) error {
		return newError("001003", "42000", "SQL compilation error:\n"+format, args...)
	}
	if len(ws) < 5 || !strings.EqualFold(ws[1], "INTO") {
		return nil, bad("syntax error: expected COPY INTO <table> FROM ...")
	}
	c := &copySpec{table: ws[2]}
	if strings.HasPrefix(c.table, "@") || strings.HasPrefix(c.table, "'") {
		return nil, compileError("COPY INTO <location> (unloading) is not supported by the Snowflake emulator.")
	}
	i := 3
	if strings.HasPrefix(ws[i], "(") {
		c.columns = ws[i]
		i++
	}
	if i+1 >= len(ws) || !strings.EqualFold(ws[i], "FROM") {
		return nil, bad("syntax error: expected FROM after COPY INTO %s.", c.table)
	}
	from := ws[i+1]
	src := from
	c.list = "$1"
	if strings.HasPrefix(from, "(") {
		inner := strings.TrimSpace(from[1 : len(from)-1])
		m := reCopySelect.FindStringSubmatch(inner)
		if m == nil {
			return nil, compileError("COPY transformations other than SELECT <list> FROM @stage are not supported by the Snowflake emulator.")
		}
		c.list, src = m[1], m[2]
	}
	var err error
	if c.stage, c.path, err = parseStage(src); err != nil {
		return nil, err
	}
	if c.opts, err = parseOptions(ws[i+2:]); err != nil {
		return nil, err
	}
	c.format = map[string]string{"TYPE": "CSV"}
	if ff, ok := c.opts["FILE_FORMAT"]; ok {
		fws, err := words(strings.TrimSuffix(strings.TrimPrefix(ff, "("), ")"))
		if err != nil {
			return nil, err
		}
		if c.format, err = parseOptions(fws); err != nil {
			return nil, err
		}
	}
	if t := strings.ToUpper(c.format["TYPE"]); t != "JSON" {
		return nil, compileError("COPY with file format TYPE = %s is not supported by the Snowflake emulator; it loads JSON only.", orDefault(t, "CSV"))
	}
	for k, v := range c.format {
		// The options the emulator has are those that leave every value as it is.
		ok := k == "TYPE" || k == "COMPRESSION" && strings.EqualFold(v, "AUTO") ||
			k == "NULL_IF" && strings.ReplaceAll(v, " ", "") == "()" || k == "TRIM_SPACE" && strings.EqualFold(v, "FALSE")
		if !ok {
			return nil, compileError("JSON file format option %s = %s is not supported by the Snowflake emulator, which loads every value as it is.", k, v)
		}
	}
	for k, v := range c.opts {
		switch {
		case k == "FILE_FORMAT", k == "FORCE", k == "PURGE", k == "PATTERN":
		case k == "ON_ERROR" && strings.EqualFold(v, "ABORT_STATEMENT"):
		default:
			return nil, compileError("COPY option %s = %s is not supported by the Snowflake emulator.", k, v)
		}
	}
	return c, nil
}

var reCopySelect = regexp.MustCompile(`(?is)^SELECT\s+(.+?)\s+FROM\s+(@\S+)\s*$`)

// Names the select list may use, and the binds the emulator gives them: :1 is the line's
// text, :2 the staged file's name, :3 the line's row number in its file.
var (
	reColumnRef  = regexp.MustCompile(`(^|[^\w$])\$(\d+)\b`)
	reFileName   = regexp.MustCompile(`(?i)\bMETADATA\$FILENAME\b`)
	reFileRow    = regexp.MustCompile(`(?i)\bMETADATA\$FILE_ROW_NUMBER\b`)
	reOtherMeta  = regexp.MustCompile(`(?i)\bMETADATA\$\w+`)
	copyBindType = []duckdb.Type{duckdb.TYPE_VARCHAR, duckdb.TYPE_VARCHAR, duckdb.TYPE_BIGINT}
)

// copyInsert rewrites the COPY as INSERT INTO <table> SELECT <list> over the binds above,
// in Snowflake's SQL, for the translator.
func (c *copySpec) copyInsert() (string, error) {
	var bad error
	list := reColumnRef.ReplaceAllStringFunc(c.list, func(m string) string {
		sub := reColumnRef.FindStringSubmatch(m)
		if sub[2] != "1" {
			bad = compileError("a JSON file has one column, $1; the select list names $%s.", sub[2])
		}
		return sub[1] + "PARSE_JSON(:1)"
	})
	list = reFileName.ReplaceAllString(list, ":2")
	list = reFileRow.ReplaceAllString(list, ":3")
	if m := reOtherMeta.FindString(list); m != "" {
		return "", compileError("%s is not supported by the Snowflake emulator.", strings.ToUpper(m))
	}
	return "INSERT INTO " + c.table + " " + c.columns + " SELECT " + list, bad
}

// copyInto loads the staged files into the table in the session's transaction (COPY is
// DML: it commits with it, or rolls back with it) and answers with a row per file.
func (s *Server) copyInto(ctx context.Context, sess *session, cmd *fileCommand) (*result, error) {
	c := cmd.copy
	text, err := c.copyInsert()
	if err != nil {
		return nil, err
	}
	st, err := snowsql.Parse(text)
	if err != nil {
		return nil, err
	}
	env := sess.env()
	env.Columns = func(ref snowsql.TableRef) ([]snowsql.Column, error) { return s.columns(ctx, sess, ref) }
	bulk, ok, err := st.Bulk(env)
	if err != nil {
		return nil, err
	}
	if !ok || bulk.Binds < 1 || bulk.Binds > len(copyBindType) {
		return nil, compileError("this COPY transformation is not supported by the Snowflake emulator.")
	}
	files, err := s.stagedFiles(sess.user, c.path, c.opts["PATTERN"])
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return statusResult(typeSelect, "Copy executed with 0 files processed."), nil
	}
	types := make([]duckdb.TypeInfo, bulk.Binds)
	names := make([]string, bulk.Binds)
	for i := range types {
		if types[i], err = duckdb.NewTypeInfo(copyBindType[i]); err != nil {
			return nil, err
		}
		names[i] = snowsql.BindColumn(i + 1)
	}
	loaded := make([]int64, len(files))
	_, err = s.inTx(ctx, sess, true, func() (*result, error) {
		return nil, s.atomically(ctx, sess, func() error {
			return sess.conn.Raw(func(dc any) error {
				a, err := duckdb.NewQueryAppender(dc.(driver.Conn), bulk.SQL, snowsql.BindTable, types, names)
				if err != nil {
					return err
				}
				for i, f := range files {
					if loaded[i], err = s.appendFile(a, f, bulk.Binds); err != nil {
						// Rows appended but not flushed are dropped before the close.
						_ = a.Clear()
						_ = a.Close()
						return err
					}
				}
				return a.Close()
			})
		})
	})
	if err != nil {
		return nil, err
	}
	out := &result{typeID: typeSelect, columns: []column{
		textColumn("file"), textColumn("status"), fixedColumn("rows_parsed", 38, 0), fixedColumn("rows_loaded", 38, 0),
		fixedColumn("error_limit", 38, 0), fixedColumn("errors_seen", 38, 0), textColumn("first_error"),
		fixedColumn("first_error_line", 38, 0), fixedColumn("first_error_character", 38, 0), textColumn("first_error_column_name"),
	}}
	for i, f := range files {
		n := strconv.FormatInt(loaded[i], 10)
		row := cells(f.name, "LOADED", n, n, "1", "0")
		out.rows = append(out.rows, append(row, nil, nil, nil, nil))
	}
	if strings.EqualFold(c.opts["PURGE"], "TRUE") {
		// Snowflake removes the files of a successful load; staged files are not
		// transactional, so this does not wait for the COMMIT.
		for _, f := range files {
			_ = os.Remove(f.path)
			if s.s3 != nil {
				s.s3.forget(f.path)
			}
		}
		s.pruneDirs(s.stageDir(sess.user))
	}
	return out, nil
}

// appendFile appends the lines of one staged file, a JSON value per line, and flushes every
// copyChunk bytes and at the end of the file. It returns the number of rows. When DuckDB
// refuses a chunk, the file is read again to name the line PARSE_JSON refuses.
func (s *Server) appendFile(a *duckdb.Appender, f stagedFile, binds int) (int64, error) {
	var rows, pending, chunkLine int64 = 0, 0, 1
	args := make([]driver.Value, binds)
	flush := func(next int64) error {
		if err := a.Flush(); err != nil {
			return s.locate(f, chunkLine, copyError(f, err))
		}
		pending, chunkLine = 0, next
		return nil
	}
	err := s.eachLine(f, func(lineNo int64, text []byte) error {
		if !utf8.Valid(text) {
			return jsonError(f, lineNo, 0, "invalid UTF-8 sequence")
		}
		rows++
		vals := []driver.Value{string(text), f.name, rows}
		copy(args, vals[:binds])
		if err := a.AppendRow(args...); err != nil {
			return s.locate(f, chunkLine, copyError(f, err))
		}
		if pending += int64(len(text)); pending >= copyChunk {
			return flush(lineNo + 1)
		}
		return nil
	})
	if err != nil {
		return rows, err
	}
	return rows, flush(0)
}

// eachLine calls fn with each line of a staged file that holds more than whitespace,
// decrypted and decompressed as needed, with its line number from 1.
func (s *Server) eachLine(f stagedFile, fn func(lineNo int64, text []byte) error) error {
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer file.Close()
	var src io.Reader = file
	if s.s3 != nil {
		m, err := s.s3.readMeta(f.path)
		if err != nil {
			return err
		}
		if m != nil && m.Metadata["x-amz-key"] != "" {
			if src, err = s.s3.decrypting(file, m); err != nil {
				return jsonError(f, 0, 0, "the file cannot be decrypted: "+err.Error())
			}
		}
	}
	lines := bufio.NewReaderSize(src, 1<<20)
	if magic, _ := lines.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		// COMPRESSION = AUTO: a gzip stream is recognised by its magic number.
		zr, err := gzip.NewReader(lines)
		if err != nil {
			return jsonError(f, 0, 0, "the file is not valid gzip: "+err.Error())
		}
		defer zr.Close()
		lines = bufio.NewReaderSize(zr, 1<<20)
	}
	var long []byte
	for lineNo := int64(1); ; lineNo++ {
		line, err := lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = lines.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if text := bytes.TrimSpace(line); len(text) > 0 {
			if ferr := fn(lineNo, text); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// locate turns err, DuckDB's refusal of the chunk that starts at line from, into the error
// for the first line there that the emulator's PARSE_JSON refuses, with its line and
// character; err itself when none does.
func (s *Server) locate(f stagedFile, from int64, err error) error {
	var sf *sfError
	if !errors.As(err, &sf) || sf.Code != "100069" {
		return err
	}
	found := err
	_ = s.eachLine(f, func(lineNo int64, text []byte) error {
		if lineNo < from {
			return nil
		}
		_, _, perr := snowsql.ParseJSON(string(text), false)
		var je *snowsql.JSONError
		if errors.As(perr, &je) {
			found = jsonError(f, lineNo, int64(je.Pos+1), je.Msg)
			return io.EOF
		}
		return nil
	})
	return found
}

// jsonError is the error Snowflake gives when a staged JSON file does not parse and
// ON_ERROR is ABORT_STATEMENT, the COPY default for bulk loads: 100069, "Error parsing
// JSON", naming the file (https://docs.snowflake.com/en/sql-reference/sql/copy-into-table,
// ON_ERROR).
func jsonError(f stagedFile, line, char int64, detail string) *sfError {
	where := "File '" + f.name + "'"
	if line > 0 {
		where += ", line " + strconv.FormatInt(line, 10)
	}
	if char > 0 {
		where += ", character " + strconv.FormatInt(char, 10)
	}
	return newError("100069", "22P02", "Error parsing JSON: %s\n  %s", detail, where)
}

// copyError turns a failed insert of parsed lines into Snowflake's error: a JSON
// conversion failure is a parse error of the file; anything else keeps its mapping.
func copyError(f stagedFile, err error) error {
	msg := err.Error()
	const parse = "Error parsing JSON: "
	switch {
	case strings.Contains(msg, parse):
		// PARSE_JSON's own refusal (snowsql.ParseJSON), through the appender.
		detail := firstLine(msg[strings.Index(msg, parse)+len(parse):])
		detail, _, _ = strings.Cut(detail, ": appended and not yet flushed")
		return jsonError(f, 0, 0, detail)
	case strings.Contains(msg, "Malformed JSON"), strings.Contains(msg, "Conversion Error") && strings.Contains(msg, "JSON"):
		return jsonError(f, 0, 0, firstLine(msg))
	}
	return err
}
