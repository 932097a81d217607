package snowflake

import (
	"database/sql"

	"github.com/snowflakedb/gosnowflake"
)

// OpenInteractive returns a database/sql pool for statements a person types, as `snow sql`
// runs them: Workload Identity login as cfg says, AUTOCOMMIT left at its default (on), so
// each statement commits by itself, and no loader session set-up. The loader's Client is not
// used for this: its sessions turn AUTOCOMMIT off for batch transactions.
func OpenInteractive(cfg Config) (*sql.DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	silenceDriver()
	// The login happens when the pool first asks for a connection.
	return sql.OpenDB(gosnowflake.NewConnector(gosnowflake.SnowflakeDriver{}, *cfg.driverConfig())), nil
}
