package localrun

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The chart of DAILY_SUMMARY is drawn in Go by gonum's plot package (gonum.org/v1/plot) and
// put into the page as inline SVG. It is a maintained library of the Gonum project; drawing
// on the server keeps the report one file that a browser shows with no script and no network
// fetch, where a JavaScript charting library would have to be inlined (hundreds of kilobytes)
// or loaded from a CDN.

// chartAction is one action of DAILY_SUMMARY as the chart shows it.
type chartAction struct {
	Name   string // the action's value in the events, e.g. add_to_cart
	Column string // its DAILY_SUMMARY column, e.g. ADD_TO_CARTS
	Color  string // #RRGGBB, as the SVG fills its bars
}

// chartActions are the actions, bottom of the stack first, in the Okabe-Ito palette, which
// stays distinguishable for the common forms of colour blindness.
var chartActions = []chartAction{
	{"view", "VIEWS", "#0072B2"},
	{"click", "CLICKS", "#E69F00"},
	{"add_to_cart", "ADD_TO_CARTS", "#009E73"},
	{"purchase", "PURCHASES", "#CC79A7"},
	{"refund", "REFUNDS", "#D55E00"},
}

// dailyChart draws events by day, stacked by action. It returns no chart, and no error, when
// DAILY_SUMMARY has no rows or lacks the columns.
func dailyChart(columns []string, rows [][]any) (template.HTML, []chartAction, error) {
	dateCol := indexOf(columns, "EVENT_DATE")
	if dateCol < 0 || len(rows) == 0 {
		return "", nil, nil
	}
	var actions []chartAction
	var colIdx []int
	for _, a := range chartActions {
		if i := indexOf(columns, a.Column); i >= 0 {
			actions = append(actions, a)
			colIdx = append(colIdx, i)
		}
	}
	if len(actions) == 0 {
		return "", nil, nil
	}
	days := make([]string, len(rows))
	for r, row := range rows {
		days[r] = cell(row[dateCol])
	}

	p := plot.New()
	p.Title.Text = "Events by day and action (DAILY_SUMMARY)"
	p.Y.Label.Text = "events"
	p.Y.Min = 0
	// A bar per day; narrower when there are many days, so the chart keeps its width.
	width := vg.Points(math.Max(4, math.Min(28, 600/float64(len(days)))))
	var below *plotter.BarChart
	totals := make([]float64, len(rows))
	for a, action := range actions {
		values := make(plotter.Values, len(rows))
		for r, row := range rows {
			values[r] = number(row[colIdx[a]])
			totals[r] += values[r]
		}
		bars, err := plotter.NewBarChart(values, width)
		if err != nil {
			return "", nil, err
		}
		bars.Color = hexColor(action.Color)
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		// The page draws the legend in HTML beside the chart, where it never covers a bar.
		p.Add(bars)
		below = bars
	}
	// Some room above the tallest bar, which would otherwise touch the frame.
	p.Y.Max = math.Max(1, slices.Max(totals)*1.08)
	p.NominalX(days...)
	if len(days) > 10 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = draw.XRight
	}

	canvas := vgsvg.NewWith(vgsvg.UseWH(22*vg.Centimeter, 10*vg.Centimeter))
	p.Draw(draw.New(canvas))
	var svg bytes.Buffer
	if _, err := canvas.WriteTo(&svg); err != nil {
		return "", nil, err
	}
	return inlineSVG(svg.String()), actions, nil
}

// inlineSVG drops the XML prologue a standalone SVG file has and an HTML page must not, and
// labels the drawing for screen readers. The SVG is gonum's output from numbers and dates,
// with no text from outside.
func inlineSVG(s string) template.HTML {
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = strings.Replace(s, "<svg", `<svg role="img" aria-label="Events by day and action, from DAILY_SUMMARY"`, 1)
	return template.HTML(s) //nolint:gosec // drawn here from numbers and dates only
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

// number is a DAILY_SUMMARY cell as a float, 0 for NULL.
func number(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case float64:
		return x
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err == nil {
			return f
		}
	}
	return 0
}

func hexColor(s string) color.Color {
	var r, g, b uint8
	_, _ = fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b)
	return color.RGBA{R: r, G: g, B: b, A: 255}
}
