package snowflake

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

// ddlColumns returns the column names of CREATE TABLE ... <table> (...) in script, in order.
func ddlColumns(t *testing.T, script, table string) []string {
	t.Helper()
	start := regexp.MustCompile(`(?is)CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+[A-Z_.]*\b` + table + `\s*\(`).FindStringIndex(script)
	require.NotNil(t, start, "setup.sql creates %s", table)
	body := script[start[1]:]
	end := strings.Index(body, ");")
	require.Positive(t, end, "the DDL of %s ends with );", table)
	var cols []string
	for _, line := range strings.Split(body[:end], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		cols = append(cols, strings.Fields(line)[0])
	}
	return cols
}

func TestColumnsMatchSetupSQL(t *testing.T) {
	assert.Equal(t, RawDataColumns, ddlColumns(t, scripts.Setup, "RAW_DATA"))
	assert.Equal(t, FileLoadsColumns, ddlColumns(t, scripts.Setup, "FILE_LOADS"))
}

func TestStatementsNameEveryColumn(t *testing.T) {
	st := statements{table: "RAW_DATA"}
	insert := st.insertRows([]int{0})
	assert.Contains(t, insert, "INSERT INTO RAW_DATA ("+strings.Join(RawDataColumns, ", ")+")")
	merge := st.merge([]int{0}, []int{1})
	assert.Contains(t, merge, "INSERT ("+strings.Join(FileLoadsColumns, ", ")+")")
	for _, col := range FileLoadsColumns[2:] {
		if col == "S3_BUCKET" || col == "S3_KEY" {
			continue
		}
		assert.Contains(t, merge, col+" = ", "the MERGE updates %s", col)
	}
	// The payload is a VARIANT from the COPY on: no statement carries or re-parses it.
	assert.Contains(t, insert, "SELECT r.PAYLOAD, r.LINE_NO - 1")
	assert.NotContains(t, insert, "PARSE_JSON")
	st.stage = "@~/s3-snowflake-loader/0a/"
	assert.Contains(t, st.copyStage(), "FROM (SELECT METADATA$FILENAME, METADATA$FILE_ROW_NUMBER, $1 FROM @~/s3-snowflake-loader/0a/)")
	assert.Contains(t, st.copyStage(), "FILE_FORMAT = (TYPE = JSON NULL_IF = () TRIM_SPACE = FALSE)")
	assert.Equal(t, "REMOVE @~/s3-snowflake-loader/0a/", st.remove())
}
