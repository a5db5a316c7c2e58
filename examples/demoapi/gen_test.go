package demoapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/convexgo/convex/convextest"
	"github.com/convexgo/convex/internal/codegen"
)

var update = flag.Bool("update", false, "rewrite convex_gen.go from the demo deployment's spec")

// The committed bindings are what `convexgo gen --url` makes of the demo
// deployment's own function spec: regenerate with go test -update.
func TestBindingsAreCurrent(t *testing.T) {
	d := convextest.Start(t, convextest.WithDemoFunctions())
	body := bytes.NewReader([]byte(`{"path":"_system/cli/modules:apiSpec","args":{},"format":"convex_encoded_json"}`))
	req, err := http.NewRequest(http.MethodPost, d.URL()+"/api/query", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Convex "+d.AdminKey())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status string          `json:"status"`
		Value  json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &r); err != nil || r.Status != "success" {
		t.Fatalf("apiSpec: %s (%v)", data, err)
	}
	specJSON, _ := json.Marshal(map[string]any{"url": "http://127.0.0.1:3210", "functions": r.Value})
	spec, err := codegen.ReadSpec(specJSON)
	if err != nil {
		t.Fatal(err)
	}
	src, err := codegen.Generate(spec, codegen.Options{Package: "demoapi", Source: "the demo deployment (convexgo dev)"})
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("convex_gen.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile("convex_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, src) {
		t.Fatal("convex_gen.go is out of date: run go test ./demoapi -update in examples/")
	}
}
