// Package cli implements Ariadne's terminal client: `ariadne trace` prints
// a trace as a waterfall and `ariadne search` prints matching traces as a
// table. Both talk to a server's native HTTP API.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultServer is the query API of a local all-in-one server.
const DefaultServer = "http://127.0.0.1:16686"

// maxBody bounds what the client reads from the server.
const maxBody = 256 << 20

// client talks to the native API of one server.
type client struct {
	base string
	http *http.Client
}

func newClient(server string) (*client, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server: %q is not an http(s) URL such as %s", server, DefaultServer)
	}
	return &client{base: strings.TrimRight(u.String(), "/"), http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// serverError is a non-200 answer; body is the raw answer.
type serverError struct {
	code int
	msg  string
	body []byte
}

func (e *serverError) Error() string { return fmt.Sprintf("server answered %d: %s", e.code, e.msg) }

// get fetches path and returns the body of a 200 answer; other answers
// become errors carrying the server's message.
func (c *client) get(ctx context.Context, path string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot reach the server at %s (set --server): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading the answer of %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, resp.StatusCode, &serverError{code: resp.StatusCode, msg: sanitize(msg), body: b}
	}
	return b, resp.StatusCode, nil
}
