package client

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/convexgo/convex/internal/testserver"
	"github.com/convexgo/convex/transport"
)

// chatListMsgs and chatBodyBytes are the side-by-side comparison's
// Figure 4 (internal/sidebyside): 170 messages with 240-byte bodies, a
// list of about 57 KB of JSON.
const (
	chatListMsgs  = 170
	chatBodyBytes = 240
)

// chatWords is a small vocabulary of common English words for chat-like
// message bodies.
var chatWords = strings.Fields(`the be to of and a in that have I it for not on with he as you do at
this but his by from they we say her she or an will my one all would there their what so up out if
about who get which go me when make can like time no just him know take people into year your good
some could them see other than then now look only come its over think also back after use two how
our work first well way even new want because any these give day most us is are was were been has
had did said meeting tomorrow today deploy build test fixed bug merge review please thanks ok sure
sounds great let me check again later morning afternoon lunch coffee release ticket issue branch
server client query mutation schema table index migration dashboard login error logs yes maybe`)

// chatBodies makes message bodies of chatBodyBytes bytes: "x" repeated,
// as Figure 4 sends (the best case for compression); words drawn from
// chatWords with a Zipf law, like chat text; or base64 of random bytes,
// which deflate can shrink only to about 3/4.
func chatBodies(kind string, seed int64) func() string {
	r := rand.New(rand.NewSource(seed))
	switch kind {
	case "x":
		body := strings.Repeat("x", chatBodyBytes)
		return func() string { return body }
	case "text":
		z := rand.NewZipf(r, 1.1, 4, uint64(len(chatWords)-1))
		return func() string {
			var sb strings.Builder
			for sb.Len() < chatBodyBytes {
				if sb.Len() > 0 {
					sb.WriteByte(' ')
				}
				sb.WriteString(chatWords[z.Uint64()])
			}
			return sb.String()[:chatBodyBytes]
		}
	default:
		buf := make([]byte, chatBodyBytes*3/4)
		return func() string {
			r.Read(buf)
			return base64.StdEncoding.EncodeToString(buf)
		}
	}
}

// registerRotate adds bench:rotate to srv: it sends a message to a
// channel and deletes the channel's oldest one, so that the list keeps
// its size however many times a benchmark runs it (messages:send would
// grow the list by one message per op).
func registerRotate(srv *testserver.Server) {
	srv.RegisterMutation("bench:rotate", func(ctx *testserver.MutationCtx, args map[string]any) (any, error) {
		channel := args["channel"]
		old := ctx.Filter("messages", func(d map[string]any) bool { return d["channel"] == channel })
		id, err := ctx.Insert("messages", map[string]any{"channel": channel, "author": args["author"], "body": args["body"]})
		if err != nil {
			return nil, err
		}
		if len(old) > 0 {
			if err := ctx.Delete(old[0]["_id"].(string)); err != nil {
				return nil, err
			}
		}
		return id, nil
	})
}

// rotateAndSee runs bench:rotate and waits until sub shows the new
// message last, as Figure 4's send-until-own-subscription-shows-it.
func rotateAndSee(ctx context.Context, c *Client, sub *Subscription[[]message], channel, body string) error {
	id, err := Mutation[string](ctx, c, "bench:rotate", map[string]any{"channel": channel, "author": "bench", "body": body})
	if err != nil {
		return err
	}
	shows := func(l []message) bool { return len(l) == chatListMsgs && l[len(l)-1].ID == id }
	if l, err, ok := sub.Latest(); ok && err == nil && shows(l) {
		return nil
	}
	for {
		l, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if shows(l) {
			return nil
		}
	}
}

// BenchmarkChatListCompression is Figure 4's chat list with and without
// permessage-deflate: a list of 170 messages (~57 KB of JSON with
// 240-byte bodies) to which each op sends one message (deleting the
// oldest, so the size stays put), timed until the client's own
// subscription shows it. The deployment accepts compression as the real
// backend does; mode=off does not offer it, mode=receive offers it and
// sends uncompressed (what WithCompression(true) does), mode=both
// compresses the client's messages too. Per op it reports the bytes the
// client's TCP connection read (wire-B-down) and wrote (wire-B-up), and
// the CPU time of the whole process, client and deployment (cpu-ns).
// Over loopback the bytes cost next to nothing; BENCHMARKS.md turns
// wire-B-down into link time for real bandwidths.
func BenchmarkChatListCompression(b *testing.B) {
	modes := []struct {
		name string
		mode transport.Compression
	}{
		{"off", transport.CompressionOff},
		{"receive", transport.CompressionReceive},
		{"both", transport.CompressionBoth},
	}
	for _, kind := range []string{"x", "text", "random"} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("body=%s/mode=%s", kind, m.name), func(b *testing.B) {
				benchChatList(b, kind, m.mode)
			})
		}
	}
}

func benchChatList(b *testing.B, kind string, mode transport.Compression) {
	srv := testserver.NewDemo()
	b.Cleanup(srv.Close)
	registerRotate(srv)
	w := &wireCounter{}
	c, err := New(srv.URL(), withCompressionMode(mode), WithHTTPClient(w.client(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	next := chatBodies(kind, 1)
	const channel = "chat"
	for range chatListMsgs {
		if _, err := Mutation[string](ctx, c, "messages:send", map[string]any{"channel": channel, "author": "bench", "body": next()}); err != nil {
			b.Fatal(err)
		}
	}
	sub, err := Subscribe[[]message](ctx, c, "messages:list", map[string]any{"channel": channel})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	if l, err := sub.Next(ctx); err != nil || len(l) != chatListMsgs {
		b.Fatalf("list: %d messages, %v", len(l), err)
	}
	raw, err := c.QueryRaw(ctx, "messages:list", map[string]any{"channel": channel}, ViaSocket())
	if err != nil {
		b.Fatal(err)
	}
	wantCompressed := 0
	if mode != transport.CompressionOff {
		wantCompressed = 1
	}
	if st := srv.Stats(); st.SocketsOpened != 1 || st.SocketsCompressed != wantCompressed {
		b.Fatalf("%d sockets, %d compressed; want 1, %d", st.SocketsOpened, st.SocketsCompressed, wantCompressed)
	}
	bodies := make([]string, 0, 1024)
	read0, written0 := w.read.Load(), w.written.Load()
	cpu0, cpuOK := processCPU()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if len(bodies) == 0 {
			b.StopTimer()
			for range cap(bodies) {
				bodies = append(bodies, next())
			}
			b.StartTimer()
		}
		body := bodies[len(bodies)-1]
		bodies = bodies[:len(bodies)-1]
		if err := rotateAndSee(ctx, c, sub, channel, body); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	cpu1, _ := processCPU()
	b.ReportMetric(float64(len(raw)), "list-B")
	b.ReportMetric(float64(w.read.Load()-read0)/float64(n), "wire-B-down/op")
	b.ReportMetric(float64(w.written.Load()-written0)/float64(n), "wire-B-up/op")
	if cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(n), "cpu-ns/op")
	}
}

// chatList returns the JSON of a 170-message chat list with bodies of
// kind, as the deployment encodes it.
func chatList(b *testing.B, kind string) []byte {
	srv := testserver.NewDemo()
	defer srv.Close()
	c, err := New(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	next := chatBodies(kind, 1)
	for range chatListMsgs {
		if _, err := Mutation[string](ctx, c, "messages:send", map[string]any{"channel": "chat", "author": "bench", "body": next()}); err != nil {
			b.Fatal(err)
		}
	}
	raw, err := c.QueryRaw(ctx, "messages:list", map[string]any{"channel": "chat"})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkChatListDeflate isolates the CPU cost of compression on the
// ~57 KB chat list: deflating it at level 1 (flate.BestSpeed, what
// coder/websocket and so the test deployment use), at level 6 (the
// default level of flate2, which the backend's tungstenite uses; Go's
// level 6 is a stand-in for its output size, not its speed), and
// inflating the level-6 output, which is what a client reading a
// compressed Transition pays. wire-B is the compressed size.
func BenchmarkChatListDeflate(b *testing.B) {
	for _, kind := range []string{"x", "text", "random"} {
		list := chatList(b, kind)
		var level6 []byte
		for _, level := range []int{1, 6} {
			var buf bytes.Buffer
			fw, err := flate.NewWriter(&buf, level)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("body=%s/deflate-level=%d", kind, level), func(b *testing.B) {
				b.SetBytes(int64(len(list)))
				b.ReportAllocs()
				for b.Loop() {
					buf.Reset()
					fw.Reset(&buf)
					if _, err := fw.Write(list); err != nil {
						b.Fatal(err)
					}
					if err := fw.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				// Less the 4-byte sync marker permessage-deflate leaves off.
				b.ReportMetric(float64(buf.Len()-4), "wire-B")
			})
			if level == 6 {
				level6 = bytes.Clone(buf.Bytes())
			}
		}
		b.Run(fmt.Sprintf("body=%s/inflate", kind), func(b *testing.B) {
			b.SetBytes(int64(len(list)))
			b.ReportAllocs()
			src := bytes.NewReader(level6)
			fr := flate.NewReader(src)
			out := make([]byte, len(list))
			for b.Loop() {
				src.Reset(level6)
				if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(fr, out); err != nil {
					b.Fatal(err)
				}
			}
			if !bytes.Equal(out, list) {
				b.Fatal("inflated bytes differ from the list")
			}
		})
	}
}
