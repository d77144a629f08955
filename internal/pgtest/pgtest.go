// Package pgtest starts a private PostgreSQL server for a test: initdb into a fresh folder, the server
// on a free loopback port, run as an unprivileged user (postgres, when the test runs as root, since
// PostgreSQL refuses to run as root), in its own process group, stopped when the test ends — also
// when it fails or panics (the server gets SIGKILL if the test process dies first).
//
// The server's binaries are Debian's (/usr/lib/postgresql/<version>/bin); `make test` installs the
// package first where it is missing (hack/postgres.sh). A test that needs PostgreSQL and does not find
// it fails, rather than skipping: a skipped proof is no proof.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running private PostgreSQL.
type Server struct {
	// DSN connects as the superuser postgres (trust authentication, loopback only).
	DSN  string
	Port int
	dir  string
	bin  string
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{}
}

// BinDir returns the folder of the newest installed PostgreSQL's binaries.
func BinDir() (string, error) {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", errors.New("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: run hack/postgres.sh (make test does)")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Start starts a server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartServer starts a server outside a test (a benchmark, a tool); the caller calls Stop (or Kill,
// then Stop, to remove its folder) on every exit path. The server also gets SIGKILL should the
// calling process die first.
func StartServer() (*Server, error) { return start() }

func start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	cred, err := unprivileged(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Port: port, dir: dir, bin: bin, cred: cred,
		DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if err := s.run(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// run starts the server process on the folder's data and waits until it accepts connections.
func (s *Server) run() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.done = make(chan struct{})
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.Port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	done := s.done
	go func() { _ = s.cmd.Wait(); _ = log.Close(); close(done) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		s.Kill()
		return fmt.Errorf("%w; server log:\n%s", err, out)
	}
	return nil
}

// Restart starts a killed or stopped server again on the same data and port (a database restart).
// A killed server's backends may hold its shared memory for a moment, and PostgreSQL then refuses to
// start: it is tried again for a few seconds.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for range 20 {
		if err = s.run(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal(err)
}

// unprivileged returns the credential to run PostgreSQL with: none when not root, else the postgres
// user's, with dir handed to it.
func unprivileged(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and no postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("pgtest: postgres exited while starting")
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second)
		if err == nil {
			_ = conn.Close()
			if ready(s) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pgtest: postgres not ready within %s", timeout)
}

// ready runs pg_isready, which tells "accepting connections" from "starting up".
func ready(s *Server) bool {
	bin, err := BinDir()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port)).Run() == nil
}

// PID is the postmaster's process id; it leads the server's process group, so its backends are
// the processes of that group (and its reaped children's CPU time is in its own /proc/<pid>/stat).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Kill ends the server as a crash would (SIGKILL to its group); Restart starts it again.
func (s *Server) Kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// Shutdown stops the server (fast shutdown, then SIGKILL after 10 s) and keeps its data, for Restart.
func (s *Server) Shutdown() {
	select {
	case <-s.done:
	default:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.Kill()
		}
	}
}

// Stop shuts the server down and removes its folder.
func (s *Server) Stop() {
	s.Shutdown()
	_ = os.RemoveAll(s.dir)
}

// CreateDatabase creates the database name on the server and returns the DSN that connects to it
// (a store per test on one server: databases are cheap, servers are not).
func (s *Server) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	dsn, err := s.createDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// NewDatabase is CreateDatabase outside a test: it creates the database name and returns its DSN.
func (s *Server) NewDatabase(ctx context.Context, name string) (string, error) {
	return s.createDatabase(ctx, name)
}

func (s *Server) createDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(s.DSN)
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
