package verify

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit XML, the shape CI systems (GitHub Actions reporters, GitLab,
// Jenkins) read: one testsuite, one testcase per check.

// JUnitSuites is the document root.
type JUnitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fail    int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Skipped int          `xml:"skipped,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is the one suite of a verification run.
type JUnitSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Fail      int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Props     []JUnitProperty `xml:"properties>property,omitempty"`
	Cases     []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is a name/value pair of the suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one check.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitFailure says what failed; its text adds the node's log tail.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitSkipped says why a check did not run.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// JUnit converts a report; classnames are "verify.<instance>.<kind>".
func JUnit(r *Report) *JUnitSuites {
	s := JUnitSuite{
		Name: "novadev verify " + r.Instance, Tests: len(r.Results), Fail: r.Count(Failed), Skipped: r.Count(Skipped),
		Time: seconds(r.Duration), Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"),
		Props: []JUnitProperty{{Name: "instance", Value: r.Instance}},
	}
	for _, res := range r.Results {
		kind := string(res.Kind)
		if kind == "" {
			kind = "verify"
		}
		jc := JUnitCase{Name: res.ID, Classname: "verify." + r.Instance + "." + kind, Time: seconds(res.Duration)}
		switch res.Status {
		case Failed:
			text := res.What + "\n\n" + res.Message
			if res.Node != "" {
				text += "\n\nnode: " + res.Node
			}
			if res.LogTail != "" {
				text += "\nlast log lines of " + res.Node + ":\n" + strings.TrimRight(res.LogTail, "\n")
			}
			typ := "check"
			if res.Blocked != "" {
				typ = "blocked by " + res.Blocked
			}
			jc.Failure = &JUnitFailure{Message: firstLine(res.Message), Type: typ, Text: xmlSafe(text)}
		case Skipped:
			jc.Skipped = &JUnitSkipped{Message: res.Message}
		default:
			jc.SystemOut = xmlSafe(res.Message)
		}
		s.Cases = append(s.Cases, jc)
	}
	return &JUnitSuites{Name: "novadev verify", Tests: s.Tests, Fail: s.Fail, Skipped: s.Skipped, Time: s.Time, Suites: []JUnitSuite{s}}
}

// WriteJUnit writes r as a JUnit XML document.
func WriteJUnit(w io.Writer, r *Report) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(JUnit(r)); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlSafe drops characters XML 1.0 cannot carry (log lines may hold
// terminal escapes); encoding/xml would otherwise write U+FFFD.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != 0xFFFE && r != 0xFFFF) {
			return r
		}
		return -1
	}, s)
}
