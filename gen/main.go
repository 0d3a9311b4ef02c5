// Command gen turns a declarative MQTT packet spec into the Go codec of
// package packets.
//
// It is run by the go:generate line in packets/doc.go:
//
//	go run ../gen -spec spec/mqtt.json
//
// gen is deterministic: the same spec always yields the same bytes. It writes
// only the files whose content changed and deletes *_gen.go files the spec no
// longer produces. With -check it writes nothing, prints how the files on
// disk differ from what the spec produces, and exits 1 when they do.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		if errors.Is(err, errStale) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

var errStale = errors.New("generated files are out of date")

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	specPath := fs.String("spec", "spec/mqtt.json", "packet spec `file`")
	outDir := fs.String("out", ".", "`directory` of package packets")
	check := fs.Bool("check", false, "report differences instead of writing files; exit 1 when stale")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	spec, err := loadSpec(filepath.Join(*outDir, *specPath))
	if err != nil {
		return err
	}
	files, err := render(spec, "gen -spec "+filepath.ToSlash(*specPath))
	if err != nil {
		return err
	}
	changes, err := compare(*outDir, files)
	if err != nil {
		return err
	}
	if *check {
		for _, c := range changes {
			fmt.Fprint(stdout, c.describe())
		}
		if len(changes) > 0 {
			return errStale
		}
		return nil
	}
	for _, c := range changes {
		path := filepath.Join(*outDir, c.name)
		if c.want == nil {
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(path, c.want, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// change is a generated file whose bytes on disk differ from the rendered
// ones. want is nil for a stale file to delete; have is nil for a new file.
type change struct {
	name       string
	have, want []byte
}

// compare lists the files in dir that must be written or deleted, in name
// order.
func compare(dir string, files map[string][]byte) ([]change, error) {
	var out []change
	for _, name := range sortedNames(files) {
		have, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if !bytes.Equal(have, files[name]) {
			out = append(out, change{name: name, have: have, want: files[name]})
		}
	}
	existing, err := filepath.Glob(filepath.Join(dir, "*_gen.go"))
	if err != nil {
		return nil, err
	}
	for _, path := range existing {
		name := filepath.Base(path)
		if _, ok := files[name]; !ok {
			have, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			out = append(out, change{name: name, have: have})
		}
	}
	return out, nil
}

// describe reports a change as the first differing line with context, which
// is enough to see what moved without a diff library.
func (c change) describe() string {
	switch {
	case c.have == nil:
		return fmt.Sprintf("%s: missing (the spec produces it)\n", c.name)
	case c.want == nil:
		return fmt.Sprintf("%s: stale (the spec no longer produces it)\n", c.name)
	}
	have := strings.Split(string(c.have), "\n")
	want := strings.Split(string(c.want), "\n")
	i := 0
	for i < len(have) && i < len(want) && have[i] == want[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s (on disk)\n+++ %s (from the spec)\n@@ line %d @@\n", c.name, c.name, i+1)
	for j := max(0, i-2); j < i; j++ {
		fmt.Fprintf(&b, " %s\n", have[j])
	}
	for j := i; j < min(len(have), i+3); j++ {
		fmt.Fprintf(&b, "-%s\n", have[j])
	}
	for j := i; j < min(len(want), i+3); j++ {
		fmt.Fprintf(&b, "+%s\n", want[j])
	}
	return b.String()
}
