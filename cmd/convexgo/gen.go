package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/convexgo/convex/internal/codegen"
	"github.com/convexgo/convex/internal/version"
	"github.com/convexgo/convex/protocol"
)

// genFile is the name of the file gen writes into --out.
const genFile = "convex_gen.go"

// apiSpecQuery is the system query that `npx convex function-spec` reads
// the functions from (npm-packages/system-udfs/convex/_system/cli/modules.ts).
const apiSpecQuery = "_system/cli/modules:apiSpec"

// maxSpecSize bounds a spec read from a file or a deployment.
const maxSpecSize = 64 << 20

// runGen generates typed Go bindings from a function spec.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", stdout, help{
		usage: "gen (--spec FILE | --url URL --admin-key KEY) --out DIR [--package NAME] [--internal]",
		text: "Writes DIR/" + genFile + ": a typed reference per function of a deployment, with Go\n" +
			"types for its arguments and result, for use with package client. The spec is\n" +
			"the JSON \"npx convex function-spec\" prints, or is read from the deployment.",
	})
	specPath := fs.String("spec", "", `Read the function spec from this file, as "npx convex function-spec" prints it; "-" reads standard input.`)
	url := fs.String("url", "", "Read the spec from this deployment instead, through the system query the official CLI uses; needs --admin-key.")
	adminKey := fs.String("admin-key", os.Getenv("CONVEX_ADMIN_KEY"), "The deployment's admin key, for --url. Default: $CONVEX_ADMIN_KEY.")
	out := fs.String("out", "", `Write the package into this directory; "-" prints it instead.`)
	pkg := fs.String("package", "", "Name the package this; the default is the --out directory's name.")
	internal := fs.Bool("internal", false, "Also generate references to internal functions, which only an admin key can call.")
	timeout := fs.Duration("timeout", 30*time.Second, "Wait this long for the deployment, with --url.")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	if *out == "" {
		return &usageError{msg: "--out is required"}
	}
	name := *pkg
	if name == "" {
		if *out == "-" {
			return &usageError{msg: "--package is required with --out -"}
		}
		abs, err := filepath.Abs(*out)
		if err != nil {
			return err
		}
		name = filepath.Base(abs)
		if !token.IsIdentifier(name) {
			return &usageError{msg: fmt.Sprintf("the directory name %q is not a Go package name: give --package", name)}
		}
	}
	if !token.IsIdentifier(name) || name == "_" {
		return &usageError{msg: fmt.Sprintf("--package %q is not a Go identifier", name)}
	}

	var data []byte
	var source string
	switch {
	case *specPath != "" && *url != "":
		return &usageError{msg: "give --spec or --url, not both"}
	case *specPath == "-":
		b, err := io.ReadAll(io.LimitReader(os.Stdin, maxSpecSize+1))
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		data, source = b, "standard input"
	case *specPath != "":
		b, err := readLimited(*specPath)
		if err != nil {
			return err
		}
		data, source = b, filepath.Base(*specPath)
	case *url != "":
		if *adminKey == "" {
			return &usageError{msg: "--url needs --admin-key (or $CONVEX_ADMIN_KEY)"}
		}
		fctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		hc := &http.Client{}
		defer hc.CloseIdleConnections()
		b, err := fetchSpec(fctx, hc, *url, *adminKey)
		if err != nil {
			return classify(err, deployment{url: *url, source: "--url"})
		}
		data, source = b, strings.TrimRight(*url, "/")
	default:
		return &usageError{msg: "give --spec FILE or --url URL"}
	}
	if len(data) > maxSpecSize {
		return fmt.Errorf("%s: the spec is larger than %d bytes", source, maxSpecSize)
	}

	spec, err := codegen.ReadSpec(data)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	if spec.URL == "" && *url != "" {
		spec.URL = strings.TrimRight(*url, "/")
	}
	src, err := codegen.Generate(spec, codegen.Options{Package: name, Internal: *internal, Source: source})
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := stdout.Write(src)
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, genFile)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return err
	}
	n := 0
	for _, f := range spec.Functions {
		if !f.Internal || *internal {
			n++
		}
	}
	fmt.Fprintf(stderr, "wrote %s: package %s, %d functions\n", path, name, n)
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSpecSize+1))
}

// fetchSpec runs the deployment's apiSpec system query over the HTTP API
// (POST /api/query, authorized with the admin key) and returns its value:
// the functions array that `npx convex function-spec` prints.
func fetchSpec(ctx context.Context, hc *http.Client, deploymentURL, adminKey string) ([]byte, error) {
	body, err := json.Marshal(protocol.HTTPRequest{Path: apiSpecQuery, Args: json.RawMessage("{}"), Format: protocol.FormatConvexEncodedJSON})
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(deploymentURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, &usageError{msg: fmt.Sprintf("--url %q: want an http:// or https:// deployment URL", deploymentURL)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+protocol.PathQuery, bytes.NewReader(body))
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("--url %q: %v", deploymentURL, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Convex-Client", version.ClientHeader)
	req.Header.Set("Authorization", "Convex "+adminKey)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the function spec: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching the function spec: reading the response: %w", err)
	}
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("fetching the function spec: response larger than %d bytes", maxSpecSize)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != 560 {
		var eb protocol.HTTPErrorBody
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &eb) == nil && eb.Code != "" {
			msg = eb.Code + ": " + eb.Message
		}
		err := fmt.Errorf("fetching the function spec: HTTP %d: %s", resp.StatusCode, msg)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, &callError{exitAuth, fmt.Errorf("%w (is the admin key right?)", err)}
		}
		return nil, err
	}
	var r protocol.UDFResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("fetching the function spec: malformed response: %w", err)
	}
	switch r.Status {
	case protocol.StatusSuccess:
		if len(r.Value) == 0 {
			return nil, errors.New("fetching the function spec: the response has no value")
		}
		return r.Value, nil
	case protocol.StatusError:
		return nil, &callError{exitError, fmt.Errorf("fetching the function spec: %s: %s", apiSpecQuery, r.ErrorMessage)}
	}
	return nil, fmt.Errorf("fetching the function spec: response has unknown status %q", r.Status)
}
