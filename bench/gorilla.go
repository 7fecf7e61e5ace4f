package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/sessions"
)

// GorillaMemStore is a gorilla/sessions Store that keeps each session's values in
// process memory, gob-encoded, under a random 256-bit ID; the cookie holds only that
// ID. It is the server-side memory store that gorilla/sessions itself does not ship,
// written here so that the gorilla case is compared on the same terms as scs's
// memstore and echosess's MemoryStore, rather than with values carried in a cookie.
//
// Like those stores it serializes values, so that concurrent requests never share a
// map. It never purges expired entries: benchmark sessions live for a day.
type GorillaMemStore struct {
	// Options are the cookie options for new sessions.
	Options sessions.Options

	n     *Counter
	mu    sync.RWMutex
	items map[string]gorillaItem
}

type gorillaItem struct {
	data   []byte
	expiry time.Time
}

// NewGorillaMemStore returns an empty store whose sessions last a day. It counts
// its loads and saves in n, unless n is nil.
func NewGorillaMemStore(n *Counter) *GorillaMemStore {
	return &GorillaMemStore{
		Options: sessions.Options{Path: "/", MaxAge: 86400, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		n:       n,
		items:   make(map[string]gorillaItem),
	}
}

// Get returns the request's session named name, loading it once per request through
// gorilla's per-request registry.
func (s *GorillaMemStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the session whose ID the request's cookie names, or a new empty one.
func (s *GorillaMemStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := s.Options
	sess.Options = &opts
	sess.IsNew = true
	ck, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	s.n.read()
	s.mu.RLock()
	it, ok := s.items[ck.Value]
	s.mu.RUnlock()
	if !ok || !it.expiry.After(time.Now()) {
		return sess, nil
	}
	if err := gob.NewDecoder(bytes.NewReader(it.data)).Decode(&sess.Values); err != nil {
		return sess, err
	}
	sess.ID, sess.IsNew = ck.Value, false
	return sess, nil
}

// Save stores the session's values and sets its cookie; a negative MaxAge deletes it.
func (s *GorillaMemStore) Save(_ *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			s.n.write()
			s.mu.Lock()
			delete(s.items, sess.ID)
			s.mu.Unlock()
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.ID == "" {
		sess.ID = randomID()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(sess.Values); err != nil {
		return err
	}
	it := gorillaItem{data: buf.Bytes(), expiry: time.Now().Add(time.Duration(sess.Options.MaxAge) * time.Second)}
	s.put(sess.ID, it)
	http.SetCookie(w, sessions.NewCookie(sess.Name(), sess.ID, sess.Options))
	return nil
}

func (s *GorillaMemStore) put(id string, it gorillaItem) {
	s.n.write()
	s.mu.Lock()
	s.items[id] = it
	s.mu.Unlock()
}

// randomID returns 32 random bytes, base64url-encoded.
func randomID() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
