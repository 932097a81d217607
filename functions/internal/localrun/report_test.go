package localrun

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `go tool task local:screenshot` sets -screenshot to regenerate testdata/report.png.
var screenshotPath = flag.String("screenshot", "", "write a PNG of the rendered run report of the main job to this file")

// chromium finds the browser. CI must have it (.ci/run installs it); elsewhere the test
// says how to get it and skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed, and CI must render the run report: install it with `apt-get install -y chromium` (.ci/run does)")
	}
	t.Skip("Chromium is not installed; to render the run report in it, install it with `sudo apt-get install -y chromium` (Debian, Ubuntu) and run the test again")
	return ""
}

// renderedReport is what the page shows once Chromium has laid it out.
type renderedReport struct {
	Figures   map[string]string
	Daily     [][]string
	DailyHead []string
	Rejected  [][]string
	Links     []string
	Accepted  [][]string
	Undeliv   [][]string
	Execs     [][]string
	Dead      [][]string
	Logins    string
	Refused   string
	Stmts     string
	Chart     *struct {
		Width, Height float64
		Bars          map[string][]struct{ X, H float64 }
		Labels        []string
	}
	Legend    map[string]string
	Resources []string
	Scripts   int
}

// domProbe reads the rendered page: tables by id, the chart's bars with their laid-out
// sizes (getBBox), the legend, and every resource the page fetched.
const domProbe = `(() => {
  const table = id => { const t = document.getElementById(id); if (!t) return null;
    return [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.firstChild && c.firstChild.nodeType === 3 ? c.firstChild.textContent.trim() : c.textContent.trim())); };
  const out = {
    Figures: Object.fromEntries([...document.querySelectorAll('dl.figures dd')].map(d => [d.id, d.textContent.trim()])),
    Daily: table('daily-summary'),
    DailyHead: [...document.querySelectorAll('#daily-summary thead th')].map(e => e.textContent.trim()),
    Rejected: table('rejected-files'),
    Links: [...document.querySelectorAll('#rejected-files a')].map(a => a.getAttribute('href')),
    Accepted: table('accepted-files'),
    Undeliv: table('undelivered-files'),
    Execs: table('executions'),
    Dead: table('dead-letter'),
    Logins: (document.getElementById('sf-logins') || {}).textContent,
    Refused: (document.getElementById('sf-failed-logins') || {}).textContent,
    Stmts: (document.getElementById('sf-statements') || {}).textContent,
    Legend: Object.fromEntries([...document.querySelectorAll('.legend [data-action]')].map(e => [e.dataset.action, e.dataset.color])),
    Resources: performance.getEntriesByType('resource').map(e => e.name),
    Scripts: document.scripts.length,
    Chart: null,
  };
  const svg = document.querySelector('#daily-chart svg');
  if (svg) {
    const box = svg.getBoundingClientRect();
    const bars = {};
    for (const p of svg.querySelectorAll('path')) {
      const m = (p.getAttribute('style') || '').match(/fill:(#[0-9A-Fa-f]{6})/);
      if (!m || m[1].toUpperCase() === '#FFFFFF') continue;
      const b = p.getBBox();
      (bars[m[1].toUpperCase()] ||= []).push({X: b.x, H: b.height});
    }
    out.Chart = {Width: box.width, Height: box.height, Bars: bars, Labels: [...svg.querySelectorAll('text')].map(t => t.textContent.trim())};
  }
  return out;
})()`

// render opens the report in headless Chromium, with the flags a locked-down machine needs,
// and reads it; with shot set it also writes a PNG of the whole page there.
func render(t *testing.T, browser, page, shot string) renderedReport {
	t.Helper()
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	abs, err := filepath.Abs(page)
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+abs)))
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](domProbe))
	require.NoError(t, err)
	var r renderedReport
	require.NoError(t, json.Unmarshal(raw, &r), string(raw))
	if shot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(shot, png, 0o644))
		t.Logf("screenshot of the run report written to %s", shot)
	}
	return r
}

func TestReportRendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	browser := chromium(t)

	t.Run("main job with rejected files", func(t *testing.T) {
		dir := t.TempDir()
		s := run(t, Options{Dir: dir, Files: 4, Records: 25, Seed: 3})
		require.Equal(t, filepath.Join(dir, ReportFile), s.Report)
		require.Positive(t, s.Files.Rejected)
		require.NotEmpty(t, s.DailySummary.Rows)

		r := render(t, browser, s.Report, *screenshotPath)
		assertSelfContained(t, r)
		assertFigures(t, r, s)
		assertDailySummary(t, r, s)
		assertChart(t, r, s)

		require.NotNil(t, r.Rejected, "the rejected files table")
		assert.Len(t, r.Rejected, s.Files.Rejected)
		byRule := map[string]int{}
		for _, row := range r.Rejected {
			require.Len(t, row, 4)
			assert.True(t, strings.HasPrefix(row[0], "incoming/"), row[0])
			byRule[row[1]]++
			assert.NotEmpty(t, row[2], "the first problem of %s", row[0])
		}
		assert.Equal(t, s.Files.Reasons, byRule, "rules as the summary counts them")
		require.Len(t, r.Links, s.Files.Rejected, "a report link per rejected file")
		for _, link := range r.Links {
			assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(link)), "the link opens the file's report")
		}

		require.NotNil(t, r.Accepted)
		assert.Len(t, r.Accepted, s.Files.Accepted)
		var rows int64
		for _, row := range r.Accepted {
			assert.Equal(t, "loaded", row[2])
			rows += atoi(t, row[3])
		}
		assert.Equal(t, s.RowsLoaded, rows, "the accepted files' rows add up to the rows loaded")

		require.Positive(t, s.Files.NotDelivered, "the samples hold a file whose suffix S3 does not announce")
		require.Len(t, r.Undeliv, s.Files.NotDelivered)
		for _, row := range r.Undeliv {
			assert.True(t, strings.HasPrefix(row[0], "incoming/samples/"), row[0])
			assert.Contains(t, row[1], "suffix")
		}
		assert.Equal(t, strconv.Itoa(s.Files.NotDelivered), r.Figures["n-undelivered"])

		require.NotNil(t, r.Execs)
		assert.Len(t, r.Execs, s.Executions.Started)
		var retries int64
		for _, row := range r.Execs {
			assert.Equal(t, "SUCCEEDED", row[1])
			retries += atoi(t, row[3])
		}
		assert.EqualValues(t, s.Executions.Retries, retries)
		assert.Nil(t, r.Dead, "no dead-letter table when the queue is empty")
		assert.Equal(t, "0", r.Refused)
	})

	t.Run("demo Part I: dead-lettered batch, nothing in DAILY_SUMMARY", func(t *testing.T) {
		dir := t.TempDir()
		s := run(t, Options{Dir: dir, Demo: "fail", Seed: 1})
		require.Equal(t, 1, s.DeadLetter.Depth)

		r := render(t, browser, s.Report, "")
		assertSelfContained(t, r)
		assertFigures(t, r, s)
		assert.Nil(t, r.Chart, "no chart of an empty DAILY_SUMMARY")
		require.Len(t, r.Dead, 1)
		assert.Equal(t, "Snowflake.Auth", r.Dead[0][0])
		assert.Contains(t, r.Dead[0][1], "Unable to find an associated Snowflake user")
		assert.Equal(t, strconv.Itoa(s.Files.Accepted), r.Dead[0][3], "the message holds the batch's files")
		require.Len(t, r.Execs, 1)
		assert.Equal(t, "FAILED", r.Execs[0][1])
		assert.Equal(t, "Snowflake.Auth", r.Execs[0][2])
		assert.NotEqual(t, "0", r.Refused, "the login Snowflake turned away")
		require.Len(t, r.Accepted, s.Files.Accepted)
		for _, row := range r.Accepted {
			assert.Equal(t, Phrase(StatusFailed), row[2])
		}
	})
}

func assertSelfContained(t *testing.T, r renderedReport) {
	t.Helper()
	assert.Empty(t, r.Resources, "the page fetches nothing: no script, style, font or image from anywhere")
	assert.Zero(t, r.Scripts, "the page runs no script")
}

func assertFigures(t *testing.T, r renderedReport, s *Summary) {
	t.Helper()
	want := map[string]int64{
		"n-uploaded": int64(s.Uploaded), "n-accepted": int64(s.Files.Accepted), "n-rejected": int64(s.Files.Rejected),
		"n-rows": s.RowsLoaded, "n-executions": int64(s.Executions.Started), "n-failed": int64(s.Executions.Failed),
		"n-retries": int64(s.Executions.Retries), "n-dlq": int64(s.DeadLetter.Depth), "n-logins": s.Snowflake.Logins,
		"n-raw": s.Snowflake.RawRows,
	}
	for id, n := range want {
		assert.Equal(t, strconv.FormatInt(n, 10), r.Figures[id], id)
	}
	assert.Equal(t, strconv.FormatInt(s.Snowflake.Logins, 10), r.Logins)
	var stmts int64
	for _, n := range s.Snowflake.Statements {
		stmts += n
	}
	assert.Equal(t, strconv.FormatInt(stmts, 10), r.Stmts)
}

func assertDailySummary(t *testing.T, r renderedReport, s *Summary) {
	t.Helper()
	assert.Equal(t, s.DailySummary.Columns, r.DailyHead)
	require.Len(t, r.Daily, len(s.DailySummary.Rows))
	for i, row := range s.DailySummary.Rows {
		for j, v := range row {
			assert.Equal(t, cell(v), r.Daily[i][j], "DAILY_SUMMARY row %d, %s", i, s.DailySummary.Columns[j])
		}
	}
}

// assertChart checks that each action's bars were laid out, one per day, each as tall as
// its count on one scale shared by every bar.
func assertChart(t *testing.T, r renderedReport, s *Summary) {
	t.Helper()
	require.NotNil(t, r.Chart, "the chart is on the page")
	assert.Greater(t, r.Chart.Width, 300.0, "the chart has its width on the page")
	assert.Greater(t, r.Chart.Height, 100.0)
	cols := s.DailySummary.Columns
	var unitHeight float64 // pixels per event, from the first non-zero bar
	for _, a := range chartActions {
		assert.Equal(t, a.Color, r.Legend[a.Name], "legend of %s", a.Name)
		bars := r.Chart.Bars[strings.ToUpper(a.Color)]
		require.Len(t, bars, len(s.DailySummary.Rows), "one %s bar per day", a.Name)
		col := indexOf(cols, a.Column)
		require.GreaterOrEqual(t, col, 0)
		for d, row := range s.DailySummary.Rows {
			want := number(row[col])
			if want == 0 {
				assert.InDelta(t, 0, bars[d].H, 0.5, "%s on %s", a.Name, cell(row[0]))
				continue
			}
			if unitHeight == 0 {
				unitHeight = bars[d].H / want
				require.Positive(t, unitHeight)
			}
			assert.InEpsilon(t, want*unitHeight, bars[d].H, 0.01, "%s on %s: %v events", a.Name, cell(row[0]), want)
		}
		for d := 1; d < len(bars); d++ {
			assert.Greater(t, bars[d].X, bars[d-1].X, "days run left to right")
		}
	}
	for _, row := range s.DailySummary.Rows {
		assert.Contains(t, r.Chart.Labels, cell(row[0]), "the axis names each day")
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	require.NoError(t, err, fmt.Sprintf("%q is not a number", s))
	return n
}
