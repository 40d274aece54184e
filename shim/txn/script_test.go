package txn

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
)

var update = flag.Bool("update", false, "rewrite the expected answers of testdata/*.txt with what the code answers")

// TestScripts replays the transaction scripts of testdata/*.txt, in the manner of
// etcd-io/raft's interaction tests, on a store that writes a commit in one step and on one
// that writes data versions and record in two. A script is a list of steps, each a command
// line, a line `----`, and the expected answer up to a blank line:
//
//	begin NAME [key=IDEM] [fence-older]   start an attempt (NAME stands for its id)
//	write NAME K=V ...                    buffer writes (a value may be a Go-quoted string)
//	delete NAME K ...                     buffer deletes
//	read NAME K ...                       read keys, one answer line each
//	commit NAME [result=R]                commit
//	abort NAME                            abort
//	status NAME                           the status
//	seed K=V ...                          commit the writes in a transaction of their own
//	config K=V ...                        a fresh manager and store: finished-statuses=N
//	restart                               a new manager over the same store
//	fail-next-create lost|landed          the store's next commit record write fails,
//	                                      before writing or after
//	versions                              the number of data versions in the store
//
// A NAME never begun stands for an id no transaction has. Errors answer `error: ` and the
// code of the sentinel error (see errCode). With -update the expected answers are
// rewritten from what the one-step path answers.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		steps := parseScript(t, file)
		for _, path := range []string{"one-step", "two-step"} {
			t.Run(filepath.Base(file)+"/"+path, func(t *testing.T) {
				s := &script{t: t, oneStep: path == "one-step"}
				s.reset(Config{})
				defer func() { s.m.Close() }()
				for i := range steps {
					st := &steps[i]
					got := s.run(st.cmd)
					if *update && path == "one-step" {
						st.want = got
						continue
					}
					if got != st.want {
						t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, st.line, st.cmd, got, st.want)
					}
				}
			})
		}
		if *update {
			writeScript(t, file, steps)
		}
	}
}

// step is one command of a script and its expected answer.
type step struct {
	line     int      // of the command, for messages
	comments []string // the lines before it
	cmd      string
	want     string
}

func parseScript(t *testing.T, file string) []step {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var steps []step
	var comments []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if strings.HasPrefix(l, "#") {
			comments = append(comments, l)
			continue
		}
		st := step{line: i + 1, comments: comments, cmd: l}
		comments = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: want a line ---- after the command %q", file, i+1, l)
		}
		var want []string
		for i += 2; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		st.want = strings.Join(want, "\n")
		steps = append(steps, st)
	}
	return steps
}

func writeScript(t *testing.T, file string, steps []step) {
	var b strings.Builder
	for i, st := range steps {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, c := range st.comments {
			b.WriteString(c + "\n")
		}
		if i == 0 && len(st.comments) > 0 {
			b.WriteString("\n") // after the file's header
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n", st.cmd, st.want)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// script is the state of one script's run.
type script struct {
	t       *testing.T
	oneStep bool
	cfg     Config
	st      *landing
	m       *Manager
	ids     map[string]string // name -> id
	names   map[string]string // id -> name
}

// reset starts a fresh store and manager with cfg.
func (s *script) reset(cfg Config) {
	if s.m != nil {
		s.m.Close()
	}
	s.cfg, s.st = cfg, &landing{Store: mem.New()}
	s.ids, s.names = map[string]string{}, map[string]string{}
	s.restart()
}

// restart starts a new manager over the same store.
func (s *script) restart() {
	if s.m != nil {
		s.m.Close()
	}
	var st store.Store = s.st
	if s.oneStep {
		st = landingOneStep{s.st}
	}
	m, err := New(context.Background(), st, s.cfg)
	if err != nil {
		s.t.Fatalf("start manager: %v", err)
	}
	s.m = m
}

// id returns the id NAME stands for.
func (s *script) id(name string) string {
	if id, ok := s.ids[name]; ok {
		return id
	}
	return "0123456789abcdef0123456789abcdef" // never issued: ids are random
}

// name returns the name of id, or id itself.
func (s *script) name(id string) string {
	if n, ok := s.names[id]; ok {
		return n
	}
	return id
}

func (s *script) run(line string) string {
	f := fields(line)
	args := f[1:]
	need := func(n int) bool { return len(args) >= n }
	switch {
	case f[0] == "begin" && need(1):
		return s.begin(args[0], args[1:])
	case f[0] == "write" && need(2):
		var out []string
		for _, kv := range args[1:] {
			k, v := s.pair(kv)
			out = append(out, answer(s.m.Write(s.id(args[0]), k, []byte(v))))
		}
		return strings.Join(out, "\n")
	case f[0] == "delete" && need(2):
		var out []string
		for _, k := range args[1:] {
			out = append(out, answer(s.m.Delete(s.id(args[0]), s.word(k))))
		}
		return strings.Join(out, "\n")
	case f[0] == "read" && need(2):
		var out []string
		for _, k := range args[1:] {
			out = append(out, s.read(args[0], s.word(k)))
		}
		return strings.Join(out, "\n")
	case f[0] == "commit" && need(1):
		var result []byte
		for _, a := range args[1:] {
			if k, v := s.pair(a); k == "result" {
				result = []byte(v)
			}
		}
		info, err := s.m.Commit(context.Background(), s.id(args[0]), result)
		return s.outcome(info, err)
	case f[0] == "abort" && need(1):
		_, err := s.m.Abort(context.Background(), s.id(args[0]))
		if err != nil {
			return answer(err)
		}
		return "aborted"
	case f[0] == "status" && need(1):
		info, err := s.m.Status(context.Background(), s.id(args[0]))
		if err != nil {
			return answer(err)
		}
		if info.Winner != "" {
			return fmt.Sprintf("%s by %s", info.Status, s.name(info.Winner))
		}
		return string(info.Status)
	case f[0] == "seed" && need(1):
		info, err := s.m.Begin(context.Background(), BeginOptions{})
		if err != nil {
			return answer(err)
		}
		for _, kv := range args {
			k, v := s.pair(kv)
			if err := s.m.Write(info.ID, k, []byte(v)); err != nil {
				return answer(err)
			}
		}
		_, err = s.m.Commit(context.Background(), info.ID, nil)
		return answer(err)
	case f[0] == "config":
		var cfg Config
		for _, a := range args {
			k, v := s.pair(a)
			n, err := strconv.Atoi(v)
			if k != "finished-statuses" || err != nil {
				s.t.Fatalf("config %s: want finished-statuses=N", a)
			}
			cfg.FinishedStatuses = n
		}
		s.reset(cfg)
		return "ok"
	case f[0] == "restart":
		s.restart()
		return "ok"
	case f[0] == "fail-next-create" && need(1) && (args[0] == "lost" || args[0] == "landed"):
		if args[0] == "lost" {
			s.st.loseNext(1)
		} else {
			s.st.failNext(1, 0)
		}
		return "ok"
	case f[0] == "versions":
		n := 0
		s.st.List(context.Background(), record.VersionPrefix, false, func(string, []byte) error { n++; return nil })
		return fmt.Sprintf("%d data versions", n)
	}
	s.t.Fatalf("bad script line %q: see TestScripts for the commands", line)
	return ""
}

func (s *script) begin(name string, opts []string) string {
	var o BeginOptions
	for _, a := range opts {
		if a == "fence-older" {
			o.FenceOlder = true
			continue
		}
		if k, v := s.pair(a); k == "key" {
			o.IdemKey = v
		}
	}
	info, err := s.m.Begin(context.Background(), o)
	if err != nil {
		return answer(err)
	}
	if info.Status == Running {
		if _, taken := s.ids[name]; taken {
			s.t.Fatalf("begin %s: the name is taken", name)
		}
		s.ids[name], s.names[info.ID] = info.ID, name
		return fmt.Sprintf("running, attempt %d", info.Attempt)
	}
	return fmt.Sprintf("%s by %s, attempt %d, result %q", info.Status, s.name(info.ID), info.Attempt, info.Result)
}

func (s *script) read(name, key string) string {
	r, err := s.m.Read(context.Background(), s.id(name), key)
	switch {
	case err != nil:
		return key + ": " + answer(err)
	case !r.Found:
		return key + ": none"
	}
	return key + "=" + strconv.Quote(string(r.Value))
}

// outcome is the answer of a commit.
func (s *script) outcome(info Info, err error) string {
	if errors.Is(err, ErrFenced) && info.ID != "" {
		return fmt.Sprintf("fenced by %s, result %q", s.name(info.ID), info.Result)
	}
	if err != nil {
		return answer(err)
	}
	return string(info.Status)
}

// fields splits line at spaces outside Go-quoted strings.
func fields(line string) []string {
	var out []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range line {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// pair splits K=V, each side perhaps Go-quoted.
func (s *script) pair(a string) (string, string) {
	k, v, ok := strings.Cut(a, "=")
	if !ok {
		s.t.Fatalf("%q: want K=V", a)
	}
	return s.word(k), s.word(v)
}

// word unquotes a Go-quoted word.
func (s *script) word(w string) string {
	if !strings.HasPrefix(w, `"`) {
		return w
	}
	u, err := strconv.Unquote(w)
	if err != nil {
		s.t.Fatalf("%s: %v", w, err)
	}
	return u
}

// answer is "ok" or the code of err.
func answer(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + errCode(err)
}

// errCode names the sentinel error err wraps, as the HTTP API's code would.
func errCode(err error) string {
	codes := []struct {
		err  error
		code string
	}{
		{ErrFenced, "fenced"}, {ErrCommitTried, "commit_tried"}, {ErrCommitted, "committed"},
		{ErrAborted, "aborted"}, {ErrTxnNotFound, "txn_not_found"}, {ErrBadKey, "bad_key"},
		{ErrBadIdemKey, "bad_idempotency_key"}, {ErrReadSetTooLarge, "read_set_too_large"},
		{ErrTooLarge, "too_large"}, {ErrBusy, "busy"}, {ErrStore, "store_failed"},
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return err.Error()
}
