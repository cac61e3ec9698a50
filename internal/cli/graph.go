package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/novadev/novadev/internal/catalog"
	"github.com/spf13/cobra"
)

type graphOptions struct {
	format string
	only   []string
}

func newGraph(s Streams, g *Global) *cobra.Command {
	o := &graphOptions{}
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the dependency graph of services, stores and bootstraps",
		Long: `Print the dependency graph of the selected environment. An edge "a -> b"
means a needs b. Formats: text (layers that start in parallel, and the
critical path), dot (Graphviz), mermaid, json.`,
		Example: `  novadev graph
  novadev graph --format dot | dot -Tsvg > graph.svg
  novadev graph --format json --only feed-service`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCatalog(s, g)
			if err != nil {
				return err
			}
			gr := c.Graph()
			if len(o.only) > 0 {
				if gr, err = gr.Subgraph(o.only...); err != nil {
					return &UsageError{Err: fmt.Errorf("--only: %w (see novadev graph for the names)", err)}
				}
			}
			format := o.format
			if g.Output == "json" {
				format = "json"
			}
			return writeGraph(s.Out, gr, format)
		},
	}
	// no -f: one meaning per short flag, and -f is logs' --follow (as in
	// docker compose logs -f)
	cmd.Flags().StringVar(&o.format, "format", "text", "text, dot, mermaid or json")
	cmd.Flags().StringSliceVar(&o.only, "only", nil, "show only these nodes and what they need")
	return cmd
}

// GraphJSON is the machine-readable graph: nodes with their kind, and edges
// where from needs to.
type GraphJSON struct {
	Nodes []GraphNode `json:"nodes"`
	Edges []GraphEdge `json:"edges"`
}

// GraphNode is one node of GraphJSON.
type GraphNode struct {
	Name string           `json:"name"`
	Kind catalog.NodeKind `json:"kind"`
	// Unavailable: an optional store this environment has no image for.
	Unavailable string `json:"unavailable,omitempty"`
	// Degraded: the unavailable stores a service runs without.
	Degraded []string `json:"degraded,omitempty"`
}

// GraphEdge is one edge of GraphJSON: From needs To.
type GraphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func writeGraph(w io.Writer, gr *catalog.Graph, format string) error {
	switch format {
	case "json":
		out := GraphJSON{Nodes: []GraphNode{}, Edges: []GraphEdge{}}
		for _, n := range gr.Names() {
			it, _ := gr.Node(n)
			gn := GraphNode{Name: n, Kind: it.Kind, Unavailable: it.Unavailable}
			for _, d := range it.Degraded {
				gn.Degraded = append(gn.Degraded, d.String())
			}
			out.Nodes = append(out.Nodes, gn)
		}
		for _, e := range gr.Edges() {
			out.Edges = append(out.Edges, GraphEdge{e.From, e.To})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "dot":
		var b strings.Builder
		b.WriteString("digraph nova {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
		shapes := map[catalog.NodeKind]string{catalog.KindService: "box", catalog.KindStore: "cylinder", catalog.KindBootstrap: "hexagon"}
		for _, n := range gr.Names() {
			it, _ := gr.Node(n)
			fmt.Fprintf(&b, "  %q [shape=%s];\n", n, shapes[it.Kind])
		}
		for _, e := range gr.Edges() {
			fmt.Fprintf(&b, "  %q -> %q;\n", e.From, e.To)
		}
		b.WriteString("}\n")
		_, err := io.WriteString(w, b.String())
		return err
	case "mermaid":
		var b strings.Builder
		b.WriteString("flowchart LR\n")
		id := func(n string) string { return strings.ReplaceAll(n, "-", "_") }
		for _, n := range gr.Names() {
			it, _ := gr.Node(n)
			switch it.Kind {
			case catalog.KindStore:
				fmt.Fprintf(&b, "  %s[(%s)]\n", id(n), n)
			case catalog.KindBootstrap:
				fmt.Fprintf(&b, "  %s{{%s}}\n", id(n), n)
			default:
				fmt.Fprintf(&b, "  %s[%s]\n", id(n), n)
			}
		}
		for _, e := range gr.Edges() {
			fmt.Fprintf(&b, "  %s --> %s\n", id(e.From), id(e.To))
		}
		_, err := io.WriteString(w, b.String())
		return err
	case "text":
		layers, err := gr.Layers()
		if err != nil {
			return err
		}
		var b strings.Builder
		for i, l := range layers {
			fmt.Fprintf(&b, "layer %d (may start together):\n", i)
			for _, n := range l {
				it, _ := gr.Node(n)
				line := fmt.Sprintf("  %-22s %-9s", n, it.Kind)
				if needs := gr.Needs(n); len(needs) > 0 {
					line += " needs " + strings.Join(needs, ", ")
				}
				// the edge stays; say what this environment cannot run
				if it.Unavailable != "" {
					line += " (unavailable: " + it.Unavailable + ")"
				}
				for _, d := range it.Degraded {
					line += " (degraded: " + d.String() + ")"
				}
				b.WriteString(line + "\n")
			}
		}
		path, _, err := gr.CriticalPath(func(string, *catalog.Item) float64 { return 1 })
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "longest chain (%d nodes): %s\n", len(path), strings.Join(path, " -> "))
		_, err = io.WriteString(w, b.String())
		return err
	}
	return &UsageError{Err: fmt.Errorf("unknown --format %q: use text, dot, mermaid or json", format)}
}
