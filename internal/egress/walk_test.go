package egress

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbidden lists, per import path, the names whose use outside this
// package builds a client or dials the network.
var forbidden = map[string]map[string]string{
	"net/http": {
		"Client":           "builds an http.Client",
		"Transport":        "builds an http.Transport",
		"DefaultClient":    "uses the default client",
		"DefaultTransport": "uses the default transport",
		"Get":              "sends with the default client",
		"Head":             "sends with the default client",
		"Post":             "sends with the default client",
		"PostForm":         "sends with the default client",
	},
	"net": {
		"Dial":        "dials the network",
		"DialTimeout": "dials the network",
		"DialTCP":     "dials the network",
		"DialUDP":     "dials the network",
		"DialIP":      "dials the network",
		"DialUnix":    "dials the network",
		"Dialer":      "dials the network",
	},
	"crypto/tls": {
		"Dial":            "dials the network",
		"DialWithDialer":  "dials the network",
		"Dialer":          "dials the network",
		"Client":          "opens a TLS client connection",
		"DialWithContext": "dials the network",
	},
	"github.com/cogenesis/cogenesis/openaiapi": {
		"New": "builds an openaiapi.Client",
	},
	"net/http/httputil": {
		"NewSingleHostReverseProxy": "forwards requests to the network",
		"ReverseProxy":              "forwards requests to the network",
	},
}

// TestNothingElseReachesTheNetwork walks the module's non-test Go files
// and fails if anything outside this package builds an http.Client, an
// http.Transport or an openaiapi.Client, or dials the network. A reference
// to net/http's Client type as a parameter or field counts too: a client
// can only come from here.
func TestNothingElseReachesTheNetwork(t *testing.T) {
	root := moduleRoot(t)
	self := filepath.Join(root, "internal", "egress")
	files, found := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			if path == self {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		files++
		for _, v := range violations(t, path) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%s", rel, v)
			found++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("walked %d Go files under %s: not the module", files, root)
	}
	t.Logf("%d non-test Go files, %d violations", files, found)
}

// TestWalkerFindsViolations runs the walker's check on code that does each
// forbidden thing, so that the test above cannot pass by seeing nothing.
func TestWalkerFindsViolations(t *testing.T) {
	src := `package x

import (
	h "net/http"
	"net"
	"github.com/cogenesis/cogenesis/openaiapi"
)

func a() {
	_ = &h.Client{}
	var c *h.Client // a reference, not a client
	_ = c
	_ = h.DefaultTransport
	_, _ = net.Dial("tcp", "x:1")
	_, _ = openaiapi.New(openaiapi.Config{})
	var d net.Dialer
	_ = d
	_, _ = h.Get("http://x")
}
`
	p := filepath.Join(t.TempDir(), "x.go")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := violations(t, p)
	if len(got) != 6 {
		t.Fatalf("found %d violations, want 6:\n%s", len(got), strings.Join(got, "\n"))
	}
}

func violations(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // local name → import path
	for _, imp := range f.Imports {
		ip, _ := strconv.Unquote(imp.Path.Value)
		if _, ok := forbidden[ip]; !ok {
			continue
		}
		local := ip[strings.LastIndex(ip, "/")+1:]
		if imp.Name != nil {
			local = imp.Name.Name
		}
		names[local] = ip
	}
	// Types are forbidden where a value of them is made: a composite
	// literal, new(T), or a variable of the type itself (its zero value
	// works). A field or parameter of type *http.Client is not a client.
	made := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CompositeLit:
			made[x.Type] = true
		case *ast.CallExpr:
			if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "new" && len(x.Args) == 1 {
				made[x.Args[0]] = true
			}
		case *ast.ValueSpec:
			if x.Type != nil {
				made[x.Type] = true
			}
		}
		return true
	})
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		ip, ok := names[id.Name]
		if !ok {
			return true
		}
		why, bad := forbidden[ip][sel.Sel.Name]
		if bad && isType[sel.Sel.Name] && !made[sel] {
			bad = false
		}
		if bad {
			out = append(out, strconv.Itoa(fset.Position(sel.Pos()).Line)+": "+id.Name+"."+sel.Sel.Name+" "+why+" outside internal/egress")
		}
		return true
	})
	return out
}

// isType names the forbidden names that are types.
var isType = map[string]bool{"Client": true, "Transport": true, "Dialer": true, "ReverseProxy": true}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
