package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/whispernet/whispernet/status"
)

func TestHealth(t *testing.T) {
	// The real status handler, as "seed --http" and "peer --http" serve it.
	good := httptest.NewServer(statusMux(status.NewRegistry()))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	goodAddr := strings.TrimPrefix(good.URL, "http://")
	cases := []struct {
		name    string
		args    []string
		code    int
		errText string
	}{
		{"addr", []string{goodAddr}, ExitOK, ""},
		{"url without path", []string{good.URL}, ExitOK, ""},
		{"full url", []string{good.URL + "/healthz"}, ExitOK, ""},
		{"flag after addr", []string{goodAddr, "--timeout", "1s"}, ExitOK, ""},
		{"not found", []string{good.URL + "/nothing"}, ExitFail, "404 Not Found"},
		{"503", []string{bad.URL}, ExitFail, "503 Service Unavailable"},
		{"refused", []string{closed}, ExitFail, "connection refused"},
		{"two args", []string{goodAddr, goodAddr}, ExitUsage, "at most one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := run(t, context.Background(), append([]string{"health"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(stderr, c.errText) || (c.errText == "" && stderr != "") {
				t.Errorf("stderr %q, want it to contain %q", stderr, c.errText)
			}
		})
	}
}

func TestHealthURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9000":               "http://127.0.0.1:9000/healthz",
		"seed-0:9000":                  "http://seed-0:9000/healthz",
		"http://seed-0:9000":           "http://seed-0:9000/healthz",
		"http://seed-0:9000/healthz":   "http://seed-0:9000/healthz",
		"https://node.example/healthz": "https://node.example/healthz",
		"[::1]:9000":                   "http://[::1]:9000/healthz",
	} {
		if got := healthURL(in); got != want {
			t.Errorf("healthURL(%q) = %q, want %q", in, got, want)
		}
	}
}
