package engine

import "context"

// The public store types of this module (memstore.Store, sqlstore.Store) each hold
// one of the engine's stores, so that go doc shows their
// methods while the code stays here. The engine's fast paths check for its own
// types exactly, so that a type embedding a store to override a method is called
// through that method; own finds the engine's store inside the public types, which
// register themselves with RegisterPublic as their packages start.

// unwrappers are the registered public store types, each as a function that
// returns the engine's store inside a value of the type.
var unwrappers []func(Store) (Store, bool)

// RegisterPublic tells the engine that a P holds the engine's store that inner
// returns. A package calls it from init, before any request.
func RegisterPublic[P Store](inner func(P) Store) {
	unwrappers = append(unwrappers, func(s Store) (Store, bool) {
		p, ok := s.(P)
		if !ok {
			return nil, false
		}
		return inner(p), true
	})
}

// own returns the engine's store inside s when s is of a public store type, and s
// otherwise.
func own[S interface {
	Load(context.Context, string) (Record, error)
}](s S) S {
	st, ok := any(s).(Store)
	if !ok {
		return s
	}
	for _, inner := range unwrappers {
		if in, ok := inner(st); ok {
			if in, ok := in.(S); ok {
				return in
			}
		}
	}
	return s
}

// PublicSQLStore returns package sqlstore's Store holding s, for the packages of
// each SQL database, which build s; package sqlstore sets it as it starts.
var PublicSQLStore func(s *SQLStore) any
