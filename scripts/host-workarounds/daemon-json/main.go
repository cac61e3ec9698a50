// Command daemon-json registers a runtime in dockerd's daemon.json and makes
// it the default, keeping every other setting of the file:
//
//	daemon-json FILE NAME PATH
//
// It prints "unchanged" when the file already says so, "changed" after
// writing it (atomically, mode 0644). host-workarounds.sh uses it to
// register runc-wrapper; Go is the one tool every novadev machine has, jq
// and python are not.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: daemon-json FILE RUNTIME-NAME RUNTIME-PATH")
		os.Exit(2)
	}
	changed, err := register(os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "daemon-json: %v\n", err)
		os.Exit(1)
	}
	if changed {
		fmt.Println("changed")
	} else {
		fmt.Println("unchanged")
	}
}

// register edits file; a missing file counts as an empty configuration.
func register(file, name, path string) (bool, error) {
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return false, err
	}
	out, changed, err := merge(data, name, path)
	if err != nil {
		return false, fmt.Errorf("%s: %v (fix or remove the file, then re-run)", file, err)
	}
	if !changed {
		return false, nil
	}
	tmp := file + ".novadev.tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, file)
}

// merge sets runtimes[name].path and default-runtime in a daemon.json
// document (empty means {}), keeping every other key and number as written.
func merge(data []byte, name, path string) ([]byte, bool, error) {
	doc := map[string]any{}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, false, fmt.Errorf("not a JSON object: %v", err)
		}
		if doc == nil { // the document "null"
			return nil, false, fmt.Errorf("not a JSON object: null")
		}
	}
	runtimes, ok := doc["runtimes"].(map[string]any)
	if !ok {
		if doc["runtimes"] != nil {
			return nil, false, fmt.Errorf(`"runtimes" is not an object`)
		}
		runtimes = map[string]any{}
	}
	rt, _ := runtimes[name].(map[string]any)
	if rt != nil && rt["path"] == path && doc["default-runtime"] == name {
		return nil, false, nil
	}
	if rt == nil {
		rt = map[string]any{}
	}
	rt["path"] = path
	runtimes[name] = rt
	doc["runtimes"] = runtimes
	doc["default-runtime"] = name
	out, err := json.MarshalIndent(doc, "", "  ")
	return append(out, '\n'), true, err
}
