package placeholder

import (
	"fmt"
	"strings"

	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/parser"
)

// Limits on a GraphQL request, checked before graphql-go sees it: its
// validator (v0.8.1) recurses forever on a fragment that spreads itself
// (a stack overflow kills the process, found by FuzzGatewayRequest), takes
// exponential time on fragments that spread others many times, and panics
// on a variable without a type (recovered too, but refused here first).
const (
	maxQueryBytes      = 64 << 10
	maxQueryDepth      = 64
	maxQuerySelections = 10000
)

// checkQuery rejects what graphql-go cannot be trusted with: oversized or
// too deeply nested documents, fragment cycles and fragment bombs. A
// document that does not parse passes: graphql-go reports the syntax error.
func checkQuery(q string) error {
	if len(q) > maxQueryBytes {
		return fmt.Errorf("query is %d bytes; this gateway takes at most %d", len(q), maxQueryBytes)
	}
	if d := nesting(q); d > maxQueryDepth {
		return fmt.Errorf("query nests %d levels deep; this gateway takes at most %d", d, maxQueryDepth)
	}
	doc, err := parser.Parse(parser.ParseParams{Source: q})
	if err != nil {
		return nil
	}
	frags := map[string]*ast.SelectionSet{}
	var ops []*ast.SelectionSet
	for _, def := range doc.Definitions {
		switch d := def.(type) {
		case *ast.FragmentDefinition:
			if d.Name != nil {
				frags[d.Name.Value] = d.SelectionSet
			}
		case *ast.OperationDefinition:
			ops = append(ops, d.SelectionSet)
			// graphql-go parses `query($v:)` and then dereferences the
			// missing type (found by FuzzGatewayRequest)
			for _, v := range d.VariableDefinitions {
				if v != nil && v.Type == nil {
					name := "?"
					if v.Variable != nil && v.Variable.Name != nil {
						name = v.Variable.Name.Value
					}
					return fmt.Errorf("variable $%s has no type", name)
				}
			}
		}
	}
	// sizes of expanded fragments, memoized; -1 marks "being expanded" so a
	// spread that reaches it again is a cycle
	sizes := map[string]int{}
	var size func(ss *ast.SelectionSet, path []string) (int, error)
	size = func(ss *ast.SelectionSet, path []string) (int, error) {
		if ss == nil {
			return 0, nil
		}
		n := 0
		for _, sel := range ss.Selections {
			var k int
			var err error
			switch s := sel.(type) {
			case *ast.Field:
				k, err = size(s.SelectionSet, path)
				k++
			case *ast.InlineFragment:
				k, err = size(s.SelectionSet, path)
			case *ast.FragmentSpread:
				if s.Name == nil {
					continue
				}
				name := s.Name.Value
				switch v, seen := sizes[name]; {
				case seen && v < 0:
					return 0, fmt.Errorf("fragment cycle: %s -> %s", strings.Join(path, " -> "), name)
				case seen:
					k = v
				default:
					sizes[name] = -1
					k, err = size(frags[name], append(path, name))
					sizes[name] = k
				}
			}
			if err != nil {
				return 0, err
			}
			if n += k; n > maxQuerySelections {
				return 0, fmt.Errorf("query expands to more than %d selections", maxQuerySelections)
			}
		}
		return n, nil
	}
	total := 0
	for _, ss := range ops {
		n, err := size(ss, nil)
		if err != nil {
			return err
		}
		if total += n; total > maxQuerySelections {
			return fmt.Errorf("query expands to more than %d selections", maxQuerySelections)
		}
	}
	// fragments no operation uses are validated too: check them for cycles
	for name, ss := range frags {
		if _, seen := sizes[name]; !seen {
			sizes[name] = -1
			n, err := size(ss, []string{name})
			if err != nil {
				return err
			}
			sizes[name] = n
		}
	}
	return nil
}

// nesting is the deepest bracket nesting of q outside strings and comments.
func nesting(q string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case '"':
			if strings.HasPrefix(q[i:], `"""`) {
				end := strings.Index(q[i+3:], `"""`)
				if end < 0 {
					return deepest
				}
				i += end + 5
				continue
			}
			for i++; i < len(q) && q[i] != '"' && q[i] != '\n'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case '{', '(', '[':
			if depth++; depth > deepest {
				deepest = depth
			}
		case '}', ')', ']':
			depth--
		}
	}
	return deepest
}
