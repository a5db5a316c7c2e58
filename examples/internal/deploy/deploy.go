// Package deploy connects the examples to a deployment: the one named by
// CONVEX_URL, or an embedded test deployment with the demo functions.
package deploy

import (
	"fmt"
	"io"
	"os"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
)

// Connection is a client and, when embedded, the deployment it talks to.
type Connection struct {
	Client *client.Client
	// Embedded is the embedded deployment, or nil with CONVEX_URL.
	Embedded *convextest.Deployment
}

// Connect connects to $CONVEX_URL, or starts an embedded deployment when it
// is unset, and says which on log.
func Connect(log io.Writer, opts ...client.Option) (*Connection, error) {
	url := os.Getenv("CONVEX_URL")
	var srv *convextest.Deployment
	if url == "" {
		var err error
		if srv, err = convextest.New(convextest.WithDemoFunctions()); err != nil {
			return nil, err
		}
		url = srv.URL()
		fmt.Fprintf(log, "CONVEX_URL is not set: using an embedded test deployment at %s\n", url)
	} else {
		fmt.Fprintf(log, "connecting to %s\n", url)
	}
	c, err := client.New(url, opts...)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return nil, err
	}
	return &Connection{Client: c, Embedded: srv}, nil
}

// Close closes the client, then the embedded deployment.
func (c *Connection) Close() {
	c.Client.Close()
	if c.Embedded != nil {
		c.Embedded.Close()
	}
}
