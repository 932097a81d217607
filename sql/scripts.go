// Package scripts embeds the Snowflake SQL scripts, for the tests and the local runner that run them.
package scripts

import _ "embed"

// The scripts, as the Snowflake CLI runs them (snow sql -f sql/<name>.sql).
var (
	// Setup creates the warehouse, database, schema, role, tables and dynamic table.
	//go:embed setup.sql
	Setup string

	// LambdaWID creates the service user that trusts the Lambda's IAM role; it takes the
	// template variable role_arn.
	//go:embed lambda_wid.sql
	LambdaWID string

	// Queries reads the loaded rows, the daily summary and the audit of files loaded.
	//go:embed queries.sql
	Queries string

	// Cleanup drops everything the other scripts created.
	//go:embed cleanup.sql
	Cleanup string
)
