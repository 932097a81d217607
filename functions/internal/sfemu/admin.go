package sfemu

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// adminSession is a session for the administrator calls: no login, role ACCOUNTADMIN.
func (s *Server) adminSession(ctx context.Context) (*session, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	sess := &session{user: "ADMIN", role: "ACCOUNTADMIN", account: strings.ToUpper(s.cfg.Account), admin: true}
	if err := s.openSession(ctx, sess); err != nil {
		return nil, err
	}
	return sess, nil
}

// ExecScript runs a SQL script as an administrator, the way `snow sql -f file -D
// name=value` does: <% name %> variables are substituted from vars first (every one the
// script uses must be given), then each statement runs in turn in one session, so USE
// statements carry over. The first failing statement stops the script.
func (s *Server) ExecScript(ctx context.Context, script string, vars map[string]string) error {
	text, err := snowsql.Expand(script, vars)
	if err != nil {
		return fmt.Errorf("sfemu: %w", err)
	}
	stmts, err := snowsql.Split(text)
	if err != nil {
		return fmt.Errorf("sfemu: script: %w", fromDuck(err))
	}
	sess, err := s.adminSession(ctx)
	if err != nil {
		return err
	}
	defer s.endSession(sess)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	for i, text := range stmts {
		st, err := snowsql.Parse(text)
		if err == nil {
			_, err = s.run(ctx, sess, st, nil)
		}
		if err != nil {
			return fmt.Errorf("sfemu: script statement %d (%s): %w", i+1, snippet(text), fromDuck(err))
		}
		s.log.Debug("script statement", "n", i+1, "sql", snippet(text))
	}
	return nil
}

func snippet(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 80 {
		return sql[:77] + "..."
	}
	return sql
}

// Query runs one Snowflake statement as an administrator and returns its columns and rows.
// Values are Go values by Snowflake type: NUMBER with scale 0 as int64, other numbers as
// float64, BOOLEAN as bool, dates and timestamps as time.Time (UTC), text and VARIANT as
// string (VARIANT as its JSON text), NULL as nil.
func (s *Server) Query(ctx context.Context, sql string) ([]string, [][]any, error) {
	st, err := snowsql.Parse(sql)
	if err != nil {
		return nil, nil, fmt.Errorf("sfemu: query: %w", fromDuck(err))
	}
	sess, err := s.adminSession(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer s.endSession(sess)
	sess.mu.Lock()
	res, err := s.run(ctx, sess, st, nil)
	sess.mu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("sfemu: query %s: %w", snippet(sql), fromDuck(err))
	}
	cols := make([]string, len(res.columns))
	for i, c := range res.columns {
		cols[i] = c.Name
	}
	rows := make([][]any, len(res.rows))
	for r, row := range res.rows {
		rows[r] = make([]any, len(row))
		for i, cell := range row {
			if cell == nil {
				continue
			}
			rows[r][i] = goCell(res.columns[i], *cell)
		}
	}
	return cols, rows, nil
}

// goCell turns a Snowflake result cell back into a Go value.
func goCell(c column, cell string) any {
	switch c.Type {
	case "fixed":
		if c.Scale == nil || *c.Scale == 0 {
			if n, err := strconv.ParseInt(cell, 10, 64); err == nil {
				return n
			}
			return cell
		}
		f, _ := strconv.ParseFloat(cell, 64)
		return f
	case "real":
		f, _ := strconv.ParseFloat(cell, 64)
		return f
	case "boolean":
		return cell == "1" || strings.EqualFold(cell, "true")
	case "date":
		days, _ := strconv.ParseInt(cell, 10, 64)
		return time.Unix(days*86400, 0).UTC()
	case "timestamp_tz", "timestamp_ltz", "timestamp_ntz":
		sec := strings.SplitN(cell, " ", 2)[0]
		f, _ := strconv.ParseFloat(sec, 64)
		whole, frac := math.Modf(f)
		parts := strings.SplitN(sec, ".", 2)
		nsec := int64(frac * 1e9)
		if len(parts) == 2 {
			n, _ := strconv.ParseInt((parts[1] + "000000000")[:9], 10, 64)
			nsec = n
			if strings.HasPrefix(sec, "-") && n > 0 {
				nsec = -n
			}
		}
		return time.Unix(int64(whole), nsec).UTC()
	}
	return cell
}
