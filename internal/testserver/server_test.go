package testserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStartOnAddressAndHandler(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	RegisterDemo(s)
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	if _, err := Start(strings.TrimPrefix(s.URL(), "http://")); err == nil {
		t.Fatal("a second server started on the same address")
	}

	// The handler mounted in another server serves the same deployment.
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	resp, err := http.Post(hs.URL+"/api/query", "application/json", strings.NewReader(`{"path":"counter:get","args":{"name":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body := readAll(t, resp); body != `{"status":"success","value":0}` || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%s %v", body, resp.Header)
	}
	req, _ := http.NewRequest(http.MethodOptions, hs.URL+"/api/query", nil)
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight %d %v", pre.StatusCode, pre.Header)
	}
	if st := s.Stats(); st.HTTPRequests != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestNewPanicsOnBadOptions(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(WithTransitionChunkSize(0))
}
