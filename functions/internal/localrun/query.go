package localrun

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// A person's queries sign in as their own Snowflake user, the way `snow sql` signs in as its
// connection's user, not as the loader: the loader's user does not exist between Part I and
// Part II of the demo. The emulator accepts only Workload Identity logins, so the person is
// an IAM role too, trusted by a user created on first use. Privileges are recorded, not
// enforced, by the emulator; SYSADMIN is what a developer usually queries with.
const (
	developerKeyID   = "ASIALOCALDEVELOPER01"
	developerSecret  = "local-developer-secret"
	developerRole    = "local-developer"
	developerUser    = "LOCAL_DEVELOPER"
	developerSFRole  = "SYSADMIN"
	developerRoleARN = "arn:aws:iam::" + account + ":role/" + developerRole
)

const developerSQL = `
CREATE USER IF NOT EXISTS ` + developerUser + `
    TYPE = SERVICE
    WORKLOAD_IDENTITY = (TYPE = AWS ARN = '` + developerRoleARN + `')
    DEFAULT_ROLE = ` + developerSFRole + `
    DEFAULT_WAREHOUSE = LOADER_WH
    DEFAULT_NAMESPACE = LOADER_DB.RAW
    COMMENT = 'a person querying the local warehouse (go run ./functions/local query)';
GRANT ROLE ` + developerSFRole + ` TO USER ` + developerUser + `;`

// Warehouse is the local Snowflake account of a state folder, open for a person's statements.
// It serves the DuckDB file through the emulator, and statements go through the driver, so a
// query here behaves as the loader's statements do.
type Warehouse struct {
	emu  *sfemu.Server
	db   *sql.DB
	lock *flock.Flock
}

// ErrNoWarehouse means the state folder has no local warehouse yet.
var ErrNoWarehouse = errors.New("no local warehouse yet")

// OpenWarehouse opens the warehouse an earlier run left in dir. It does not create one.
func OpenWarehouse(ctx context.Context, dir string) (*Warehouse, error) {
	path := filepath.Join(dir, "snowflake.duckdb")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: run `go run ./functions/local` once first, which creates it", ErrNoWarehouse, dir)
	}
	id := sfemu.Identity{
		AccessKeyID: developerKeyID, SecretAccessKey: developerSecret,
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + developerRole + "/local-query",
	}
	// The run's lock: a query waits for no run, and a run started meanwhile is told why it
	// cannot start, instead of meeting a DuckDB file that another process holds.
	lock := flock.New(filepath.Join(dir, "run.lock"))
	locked, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("cannot lock the state folder %s (%v); check its permissions", dir, err)
	}
	if !locked {
		return nil, fmt.Errorf("a local run (or another query) is using the state folder %s; query it when that has finished", dir)
	}
	emu, err := sfemu.Start(ctx, sfemu.Config{Path: path, Account: snowflakeAccount, Identities: []sfemu.Identity{id}, MemoryLimit: "256MB"})
	if err != nil {
		_ = lock.Unlock()
		msg := err.Error()
		if strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock") {
			return nil, fmt.Errorf("the Snowflake database %s is in use by another program; close it (or wait for it) and query again", path)
		}
		return nil, fmt.Errorf("the Snowflake database %s cannot be opened: it is damaged, or not a database this version can read; a run tells more", path)
	}
	if err := emu.ExecScript(ctx, developerSQL, nil); err != nil {
		_ = emu.Close()
		_ = lock.Unlock()
		return nil, fmt.Errorf("create the local user %s: %w", developerUser, err)
	}
	// The driver signs its Workload Identity attestation with the standard AWS variables, as
	// it does in Lambda; here they hold the developer role's local credentials.
	for k, v := range id.Env() {
		_ = os.Setenv(k, v)
	}
	cfg := snowflake.DefaultConfig(snowflakeAccount)
	cfg.User, cfg.Role = developerUser, developerSFRole
	cfg.Host, cfg.Port, cfg.Protocol = emu.Host(), emu.Port(), "http"
	db, err := snowflake.OpenInteractive(cfg)
	if err != nil {
		_ = emu.Close()
		_ = lock.Unlock()
		return nil, err
	}
	return &Warehouse{emu: emu, db: db, lock: lock}, nil
}

// Close logs out and closes the DuckDB file, so the next run can open it.
func (w *Warehouse) Close() error {
	err := errors.Join(w.db.Close(), w.emu.Close())
	return errors.Join(err, w.lock.Unlock())
}

// QueryResult is what one statement returned. Values are as the driver gives them: strings for
// numbers and text (Snowflake's exact decimal text), time.Time for dates and timestamps,
// bool, and nil for NULL.
type QueryResult struct {
	Columns []string
	// Types are Snowflake's type names of the columns (FIXED, REAL, TEXT, DATE,
	// TIMESTAMP_TZ, VARIANT, BOOLEAN, ...).
	Types []string
	Rows  [][]any
}

// Query runs one statement and returns everything it returned.
func (w *Warehouse) Query(ctx context.Context, statement string) (*QueryResult, error) {
	rows, err := w.db.QueryContext(ctx, statement)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	res := &QueryResult{}
	for _, c := range cols {
		res.Columns = append(res.Columns, c.Name())
		res.Types = append(res.Types, c.DatabaseTypeName())
	}
	for rows.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}
