package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes the report as one self-contained HTML page: no scripts, no
// external assets. Groups are rows with their count drawn as a bar (relative
// to the largest group) and the example core's stack in a <details> element
// that expands on click.
func WriteHTML(w io.Writer, r *Report) error {
	maxCount := 1
	for _, g := range r.Groups {
		maxCount = max(maxCount, g.Count)
	}
	funcs := template.FuncMap{
		"time": fmtTime,
		"pct": func(n int) string {
			return fmt.Sprintf("%.1f", 100*float64(n)/float64(maxCount))
		},
		"traceback": func(g *Group) string {
			var b strings.Builder
			GroupTraceback(&b, "", g)
			return b.String()
		},
		"join":       strings.Join,
		"exceptions": ExceptionCounts,
		"plural":     plural,
		"hex":        func(p *uint64) string { return fmt.Sprintf("%#x", *p) },
	}
	t, err := template.New("report").Funcs(funcs).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("html template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, r); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

const htmlTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pycore report: {{.Summary}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #1d1d1f; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.15em; margin-top: 2em; }
.rule { color: #555; max-width: 60em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .45em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f5; font-weight: 600; }
td.rank, td.count { text-align: right; font-variant-numeric: tabular-nums; }
td.count { font-weight: 600; }
td.bar { width: 14em; }
.bar-track { width: 14em; background: #eef1f6; }
.bar-fill { height: 1.1em; background: #3f6fd1; min-width: 1px; }
code, pre { font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
ol.frames { margin: .3em 0 .3em 0; padding-left: 1.6em; }
ol.frames .file { color: #666; }
.head { font-weight: 600; }
.new { background: #c62828; color: #fff; border-radius: 3px; padding: 0 .35em; font-size: 11px; font-weight: 600; margin-left: .4em; }
.sigid { color: #888; font-size: 11px; }
.exceptions { color: #8a1f11; font-size: 12.5px; margin: .2em 0; }
details.stack summary { cursor: pointer; color: #23508e; }
pre.traceback { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .6em .8em; overflow-x: auto; margin: .4em 0; }
.versions li { list-style: none; }
.versions, ul.cores { margin: 0; padding: 0; }
ul.cores li { list-style: none; }
ul.cores li.more { color: #555; }
td.example { word-break: break-all; max-width: 24em; }
</style>
</head>
<body>
<h1>pycore report</h1>
<p id="summary">{{.Summary}}. Generated {{time .Generated}} UTC.</p>
<p class="rule"><strong>Signature rule.</strong> {{.Rule}}</p>
{{if .Groups}}
<table id="groups">
<thead><tr><th>#</th><th>Count</th><th>Share</th><th>Signature</th><th>Python</th><th>First (UTC)</th><th>Last (UTC)</th><th>Cores (newest first)</th></tr></thead>
<tbody>
{{range .Groups}}<tr class="group{{if .New}} is-new{{end}}" id="group-{{.Rank}}" data-signature="{{.Signature.ID}}">
<td class="rank">{{.Rank}}</td>
<td class="count">{{.Count}}</td>
<td class="bar"><div class="bar-track"><div class="bar-fill" style="width: {{pct .Count}}%"></div></div></td>
<td class="signature">
<div class="head">{{.Signature.Head}}{{if .New}}<span class="new">new</span>{{end}} <span class="sigid">{{.Signature.ID}}</span></div>
{{if .Signature.Native}}<ol class="frames native">{{range .Signature.Native}}<li><code>{{if .Function}}{{.Function}}{{else}}??{{end}}</code> <span class="file">{{.Module}}{{if not .Function}}{{with .ModuleOffset}}+{{hex .}}{{end}}{{end}}{{if .Line}}, {{.File}}:{{.Line}}{{end}}</span></li>{{end}}</ol>
{{else}}<ol class="frames">{{range .Signature.Frames}}<li><code>{{.Function}}</code> <span class="file">{{.File}}{{if .Line}}:{{.Line}}{{end}}</span></li>{{else}}<li>(no Python frames)</li>{{end}}</ol>
{{end}}
{{if .Exceptions}}<div class="exceptions">Exceptions: {{exceptions .}}</div>
{{end}}<details class="stack"><summary>Stack of the example core ({{.Thread.String}})</summary>
<pre class="traceback">{{traceback .}}</pre>
</details>
</td>
<td><ul class="versions">{{range .Versions}}<li>{{.}}</li>{{end}}</ul></td>
<td>{{time .First}}</td>
<td>{{time .Last}}</td>
<td class="example"><ul class="cores">{{range .Cores}}<li><code>{{.}}</code></li>{{end}}{{if .MoreCores}}<li class="more">and {{.MoreCores}} more</li>{{end}}</ul></td>
</tr>
{{end}}</tbody>
</table>
{{else}}
<p>No readable cores.</p>
{{end}}
{{if .Unreadable}}
<h2 id="unreadable">Unreadable ({{len .Unreadable}})</h2>
<table id="unreadable-files">
<thead><tr><th>File</th><th>Reason</th></tr></thead>
<tbody>
{{range .Unreadable}}<tr class="unreadable"><td><code>{{.Path}}</code></td><td class="reason">{{.Reason}}</td></tr>
{{end}}</tbody>
</table>
{{end}}
{{if .Gone}}
<h2 id="gone">Gone since {{.Baseline}} ({{len .Gone}})</h2>
<ul>
{{range .Gone}}<li class="gone"><code>{{.Signature.Text}}</code> ({{.Count}} {{plural .Count "core" "cores"}} then)</li>
{{end}}</ul>
{{end}}
</body>
</html>
`
