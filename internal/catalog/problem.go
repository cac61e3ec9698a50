package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a catalog file. Line and Col start at 1; zero means
// unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Problem is one thing wrong with a catalog: where, which field, what, and
// what to do about it.
type Problem struct {
	Pos   Pos    `json:"pos"`
	Field string `json:"field,omitempty"` // dotted path, e.g. services.feed-service.dependsOn[1]
	Msg   string `json:"message"`
	Hint  string `json:"hint,omitempty"` // e.g. `did you mean "user-service"?`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Pos.String())
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString("; ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// Problems is every problem found in one load; it is an error when not empty.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, line, column, then message, so reports are
// stable.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return ps[i].Msg < ps[j].Msg
	})
}

type problems struct{ list Problems }

// maxProblems caps one report: past it, more lines help nobody and a
// generated input could make millions.
const maxProblems = 1000

// maxSuggestCandidates bounds the names a "did you mean" compares against.
const maxSuggestCandidates = 500

// fill gives problems added since index from, whose object was never
// decoded (so has no position), at least the file they are about.
func (p *problems) fill(from int, file string) {
	for i := from; i < len(p.list); i++ {
		if p.list[i].Pos.File == "" {
			p.list[i].Pos.File = file
		}
	}
}

// full reports that the report is capped: work spent on more problems
// (suggestions) is wasted.
func (p *problems) full() bool { return len(p.list) >= maxProblems }

func (p *problems) add(pos Pos, field, hint, format string, args ...any) {
	switch {
	case len(p.list) > maxProblems:
		return
	case len(p.list) == maxProblems:
		p.list = append(p.list, Problem{Pos: Pos{File: pos.File}, Msg: fmt.Sprintf("more than %d problems: the rest are not shown", maxProblems)})
		return
	}
	p.list = append(p.list, Problem{Pos: pos, Field: field, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// suggest returns `did you mean "x"?` for the closest candidate within a
// small edit distance, or "".
func suggest(got string, candidates []string) string {
	// a suggestion costs a distance per candidate: with thousands of names
	// (a generated catalog full of mistakes) that is quadratic, so none
	if len(candidates) > maxSuggestCandidates || len(got) > 100 {
		return ""
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(got), strings.ToLower(c))
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := len(got)/3 + 1
	if limit > 4 {
		limit = 4
	}
	if best == "" || bestD > limit {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
