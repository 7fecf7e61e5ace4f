package echosess_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestParity checks that this package and the Echo v4 package (the root of the
// repository) export the same names with the same meaning: every exported
// function, type, variable and constant of one is declared in the other with the
// same signature, type or value, Echo's request context (echo.Context in v4,
// *echo.Context in v5) aside. A name added to one fails here until the other has
// it, so that porting an app between the two changes its imports and Echo's own
// types, nothing else.
func TestParity(t *testing.T) {
	v4, v5 := exported(t, ".."), exported(t, ".")
	for _, name := range slices.Sorted(maps.Keys(v4)) {
		switch got, ok := v5[name]; {
		case !ok:
			t.Errorf("%s is in the v4 package but not in the v5 one:\n\t%s", name, v4[name])
		case got != v4[name]:
			t.Errorf("%s differs:\n\tv4: %s\n\tv5: %s", name, v4[name], got)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(v5)) {
		if _, ok := v4[name]; !ok {
			t.Errorf("%s is in the v5 package but not in the v4 one:\n\t%s", name, v5[name])
		}
	}
	if len(v4) < 50 {
		t.Errorf("found only %d exported names in the v4 package", len(v4))
	}
}

// exported returns the exported top-level names declared in the package in dir,
// test files aside, each with its declaration as source text, doc comments left out
// and Echo v5's *echo.Context spelled as Echo v4's echo.Context.
func exported(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if file.Name.Name != "echosess" {
			t.Fatalf("%s: package %s, want echosess", path, file.Name.Name)
		}
		files = append(files, file)
	}
	text := func(node any) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, node); err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(b.String(), "*echo.Context", "echo.Context")
	}
	names := make(map[string]string)
	for _, file := range files {
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names[d.Name.Name] = "func " + d.Name.Name + strings.TrimPrefix(text(d.Type), "func")
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names[s.Name.Name] = "type " + text(s)
						}
					case *ast.ValueSpec:
						for i, name := range s.Names {
							if !name.IsExported() {
								continue
							}
							decl := d.Tok.String() + " " + name.Name
							if s.Type != nil {
								decl += " " + text(s.Type)
							}
							if i < len(s.Values) {
								decl += " = " + text(s.Values[i])
							}
							names[name.Name] = decl
						}
					}
				}
			}
		}
	}
	return names
}

// TestSameStoresFile checks that stores.go, which re-exports the store contract and
// knows no Echo, is the same file in both packages, doc comments included, so that
// neither drifts from the other.
func TestSameStoresFile(t *testing.T) {
	v4, err := os.ReadFile("../stores.go")
	if err != nil {
		t.Fatal(err)
	}
	v5, err := os.ReadFile("stores.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v4, v5) {
		t.Fatal("stores.go differs between the v4 and v5 packages; copy one over the other: cp stores.go echov5/")
	}
}
