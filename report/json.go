package report

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the report as one indented JSON document, the form
// --baseline reads back.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JSONLines writes one CoreResult per line (use it as Options.OnCore).
type JSONLines struct{ enc *json.Encoder }

// NewJSONLines writes lines to w.
func NewJSONLines(w io.Writer) *JSONLines {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONLines{enc: enc}
}

// Write writes one core's line.
func (j *JSONLines) Write(r *CoreResult) error { return j.enc.Encode(r) }
