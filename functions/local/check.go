package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/validator"
)

// Exit statuses of check: a rejected file is a verdict a hook or a CI step acts on, a bad
// command line or setting is a mistake to fix first, and they are told apart.
const (
	checkAccepted = 0
	checkRejected = 1
	checkMisused  = 2
)

// checkOptions is check's command line.
type checkOptions struct {
	paths []string
	// settings gives the validator's settings once the flags are parsed: the environment
	// variables the Lambda reads, with the flags over them (settings.go, shared with run).
	settings func(getenv func(string) string, set map[string]bool) (map[string]string, error)
	set      map[string]bool
	prefix   string
	asJSON   bool
}

// parseCheckArgs reads flags and paths in any order, as a person types them.
func parseCheckArgs(args []string, stderr io.Writer) (checkOptions, error) {
	o := checkOptions{set: map[string]bool{}}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.settings = addValidatorFlags(fs)
	fs.StringVar(&o.prefix, "prefix", "incoming/", "S3 key prefix the files are checked under (routes match on it): a file a/b.json in a folder given is checked as PREFIXa/b.json")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON document with every file's verdict and report")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Checks files with the validator's gates, without loading anything.

Each file (or every file under each folder) goes through the same gates, schema and settings
as in the validator Lambda: suffix, size, gzip, UTF-8, JSON, the record schema, duplicate keys,
routing. Nothing is uploaded and no pipeline starts, as with COPY's VALIDATION_MODE. The
settings come from the flags, else from the environment variables the validator Lambda reads:
%s.

Usage: go run ./functions/local check [flags] PATH...

Exit status: 0 when every file is accepted, 1 when any file is rejected, 2 when the command
line or a setting is wrong.

`, strings.Join(validatorVariables, ", "))
		fs.PrintDefaults()
	}
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		o.paths = append(o.paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if len(o.paths) == 0 {
		fs.Usage()
		return o, errors.New("check needs at least one file or folder")
	}
	return o, nil
}

// checkedFile is one file's verdict.
type checkedFile struct {
	Path   string      `json:"path"`
	Key    string      `json:"key"`
	Status string      `json:"status"` // accepted or rejected
	Table  string      `json:"table,omitempty"`
	Format string      `json:"format,omitempty"`
	Report gate.Report `json:"report"`
	// route is the routing field's value of the file's first valid record.
	route string
}

// runCheck is `go run ./functions/local check`.
func runCheck(ctx context.Context, args []string) int {
	return check(ctx, args, os.Getenv, os.Stdout, os.Stderr)
}

func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseCheckArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return checkAccepted
	}
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return checkMisused
	}
	env, err := o.settings(getenv, o.set)
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return checkMisused
	}
	settings, err := validator.LoadSettings(checkEnv(env))
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return checkMisused
	}
	// No S3 client: a schema in S3 is refused with advice, since nothing here reaches AWS.
	g, err := validator.NewGate(ctx, settings, nil)
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return checkMisused
	}
	files, err := listFiles(o.paths, o.prefix)
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return checkMisused
	}

	var results []checkedFile
	rejected := 0
	for _, f := range files {
		res, err := checkOne(ctx, g, f)
		if err != nil {
			fmt.Fprintf(stderr, "check: %s could not be read: %v\n", f.path, err)
			return checkMisused
		}
		if res.Status == "rejected" {
			rejected++
		} else {
			res.Table = settings.Router.Table(res.Key, res.route)
		}
		results = append(results, res)
		if !o.asJSON {
			writeVerdict(stdout, res)
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"files": results, "accepted": len(results) - rejected, "rejected": rejected})
	} else {
		fmt.Fprintf(stdout, "\n%s checked: %d accepted, %d rejected. Nothing was loaded.\n",
			plural(len(results), "file"), len(results)-rejected, rejected)
	}
	if rejected > 0 {
		return checkRejected
	}
	return checkAccepted
}

// checkEnv is the validator's environment for a check: its settings, and a stand-in for the
// state machine ARN the validator requires but check never uses, since it starts nothing.
func checkEnv(settings map[string]string) func(string) string {
	return func(name string) string {
		if name == "STATE_MACHINE_ARN" {
			return "arn:aws:states:us-east-1:000000000000:stateMachine:check-only"
		}
		return settings[name]
	}
}

// fileToCheck is a file on disk and the S3 key it is checked under.
type fileToCheck struct {
	path, key string
	size      int64
}

// listFiles expands folders into the regular files under them, in name order.
func listFiles(paths []string, prefix string) ([]fileToCheck, error) {
	var out []fileToCheck
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: no such file or folder", p)
		}
		if !fi.IsDir() {
			out = append(out, fileToCheck{path: p, key: prefix + filepath.Base(p), size: fi.Size()})
			continue
		}
		var found []fileToCheck
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(p, path)
			found = append(found, fileToCheck{path: path, key: prefix + filepath.ToSlash(rel), size: info.Size()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading folder %s: %w", p, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("folder %s holds no files", p)
		}
		sort.Slice(found, func(i, j int) bool { return found[i].path < found[j].path })
		out = append(out, found...)
	}
	return out, nil
}

func checkOne(ctx context.Context, g *gate.Gate, f fileToCheck) (checkedFile, error) {
	body, err := os.Open(f.path)
	if err != nil {
		return checkedFile{}, err
	}
	defer body.Close()
	res, err := g.Check(ctx, f.key, f.size, body)
	if err != nil {
		return checkedFile{}, err
	}
	out := checkedFile{Path: f.path, Key: f.key, Status: "accepted", Format: string(res.Format),
		Report: gate.NewReport("", f.key, "", "", f.size, res, time.Now())}
	if !res.Accepted {
		out.Status = "rejected"
	}
	out.route = res.RouteValue
	return out, nil
}

// writeVerdict prints one file's verdict and, for a rejected file or skipped records, its
// report: the summary sentence, then each problem found with where it is.
func writeVerdict(w io.Writer, f checkedFile) {
	r := f.Report
	if f.Status == "accepted" {
		fmt.Fprintf(w, "ACCEPTED  %s  %s (%s), would load into %s\n", f.Path, plural(int(r.Records), "record"), f.Format, f.Table)
		if r.BadRecords == 0 {
			return
		}
	} else {
		fmt.Fprintf(w, "REJECTED  %s  rule %s\n", f.Path, r.Rule)
		if r.Rule == gate.RuleSuffix {
			fmt.Fprintf(w, "          S3 sends no notification for this name, so the pipeline would never see it: rename it\n")
		}
	}
	fmt.Fprintf(w, "          %s\n", r.Message)
	if r.TotalErrors <= 1 {
		return // the sentence above already gives the one problem and where it is
	}
	for _, e := range r.Errors {
		where := "file"
		if e.Line > 0 {
			where = fmt.Sprintf("line %d, record %d", e.Line, e.Record)
		}
		fmt.Fprintf(w, "          - %s (%s): %s\n", where, e.Rule, e.Message)
	}
	if more := r.TotalErrors - int64(len(r.Errors)); more > 0 {
		fmt.Fprintf(w, "          ... and %d more\n", more)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
