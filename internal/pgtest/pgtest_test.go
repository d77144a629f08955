package pgtest

import (
	"net"
	"strconv"
	"testing"
)

// TestStart pins the harness: a server answers on its loopback port while the test runs and is gone
// after Stop.
func TestStart(t *testing.T) {
	s := Start(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("server not listening: %v", err)
	}
	_ = conn.Close()
	s.Stop()
	if conn, err := net.Dial("tcp", addr); err == nil {
		_ = conn.Close()
		t.Fatal("server still listening after Stop")
	}
}

// TestRestart pins a database restart: killed, the server stops answering; restarted on the same data,
// it answers on the same port again.
func TestRestart(t *testing.T) {
	s := Start(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	s.Kill()
	if conn, err := net.Dial("tcp", addr); err == nil {
		_ = conn.Close()
		t.Fatal("still listening after Kill")
	}
	s.Restart(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("not listening after Restart: %v", err)
	}
	_ = conn.Close()
}
