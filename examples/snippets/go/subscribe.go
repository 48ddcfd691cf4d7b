// subscribe.go: a waitbus subscriber in Go (standard library only), speaking the v1
// wire protocol directly (docs/wire.md). Prints each event as one JSON line on stdout.
//
//	go run subscribe.go                          # every event, live
//	go run subscribe.go -source pytest           # only pytest events (filtered by the hub)
//	go run subscribe.go -match 'fields.outcome="failed"' -since 01JD5Z8Q4W6E7R8T9Y0A1B2C3D
//	go run subscribe.go -source agent -count 1   # exit 0 after one event
//
// Exit: 0 after -count events, 1 when the hub closes the connection, rejects us or goes
// silent, 2 on bad arguments or no hub.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

const maxFrame = 65536

type specList []string

func (s *specList) String() string     { return fmt.Sprint(*s) }
func (s *specList) Set(v string) error { *s = append(*s, v); return nil }

// runtimeDir resolves the socket's directory as the hub does (docs/wire.md section 1).
func runtimeDir() string {
	if d := os.Getenv("WAITBUS_RUNTIME_DIR"); d != "" {
		return d
	}
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); runtime.GOOS == "linux" && xdg != "" {
		if st, err := os.Stat(xdg); err == nil && st.IsDir() {
			return filepath.Join(xdg, "waitbus")
		}
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("waitbus-%d", os.Getuid()))
}

// writeFrame sends one frame: a 4-byte big-endian length, then the JSON body.
func writeFrame(w io.Writer, body []byte) error {
	var header [4]byte
	binary.BigEndian.PutUint32(header[:], uint32(len(body)))
	if _, err := w.Write(header[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// readFrame reads one whole frame body; a length of 0 or over 64 KiB is fatal (no resync).
func readFrame(r io.Reader) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(header[:])
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("bad frame length %d", n)
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return body, err
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "subscribe.go: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	var specs specList
	source := flag.String("source", "", "only events from this source")
	since := flag.String("since", "", "replay stored events after this event id (ULID) first")
	count := flag.Int("count", 0, "exit 0 after this many events (0: never)")
	flag.Var(&specs, "match", "a dotted.key=<json> spec (repeatable; ANDed with -source)")
	flag.Parse()
	if *source != "" {
		quoted, _ := json.Marshal(*source)
		specs = append(specs, "source="+string(quoted))
	}

	subscribe := map[string]any{"proto": 1, "filters": []string{"*"}}
	if len(specs) > 0 {
		subscribe["where"] = [][]string{specs} // one predicate: its specs AND together
	}
	if *since != "" {
		subscribe["since"] = *since
	}
	body, _ := json.Marshal(subscribe)

	sockPath := filepath.Join(runtimeDir(), "broadcast.sock")
	conn, err := net.Dial("unix", sockPath)
	if err != nil {
		fail(2, "cannot reach the hub at %s: %v", sockPath, err)
	}
	defer conn.Close()
	if err := writeFrame(conn, body); err != nil {
		fail(1, "send subscribe: %v", err)
	}

	reader := bufio.NewReader(conn)
	out := bufio.NewWriter(os.Stdout)
	heartbeat := 60.0
	printed := 0
	for {
		// The hub sends a heartbeat every heartbeat_sec: silence for 2.5 of them means it is gone.
		_ = conn.SetReadDeadline(time.Now().Add(time.Duration(heartbeat * 2.5 * float64(time.Second))))
		frame, err := readFrame(reader)
		if err != nil {
			var netErr net.Error
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				fail(1, "the hub closed the connection")
			case errors.As(err, &netErr) && netErr.Timeout():
				fail(1, "the hub went silent")
			default:
				fail(1, "%v", err)
			}
		}
		var head struct {
			Kind         string  `json:"kind"`
			HeartbeatSec float64 `json:"heartbeat_sec"`
			CaughtUpAt   *string `json:"caught_up_at"`
			Reason       string  `json:"reason"`
			Remediation  string  `json:"remediation"`
		}
		if err := json.Unmarshal(frame, &head); err != nil {
			fail(1, "bad frame: %v", err)
		}
		switch head.Kind {
		case "subscribe_ack":
			heartbeat = head.HeartbeatSec
			caughtUp := "null"
			if head.CaughtUpAt != nil {
				caughtUp = *head.CaughtUpAt
			}
			fmt.Fprintf(os.Stderr, "subscribed (caught_up_at %s)\n", caughtUp)
		case "event", "truncated":
			// The frame's own bytes: no re-encoding, so received_at keeps every digit.
			out.Write(frame)
			out.WriteByte('\n')
			out.Flush()
			printed++
			if *count > 0 && printed >= *count {
				return
			}
		case "subscribe_rejected":
			fail(1, "rejected: %s (%s)", head.Reason, head.Remediation)
		default:
			// daemon_heartbeat, and any kind we do not know: ignored, as v1 requires.
		}
	}
}
