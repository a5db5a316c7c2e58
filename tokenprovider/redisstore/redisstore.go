// Package redisstore keeps tokenprovider.SessionCache tokens in Redis, so
// that every instance of a Go server shares them: a token fetched by one
// instance is used by the others, and a sign-out (SessionCache.Clear) on one
// instance is seen by all of them at once.
//
// It is a module of its own so that the Redis client never becomes a
// dependency of the convex module. Use it as:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	sessions := tokenprovider.NewSessionCache(&tokenprovider.SessionOptions{
//		Store: redisstore.New(rdb, nil),
//	})
//
// Nothing is cached in the process: every Get reads Redis, so there is no
// local copy to invalidate. Entries expire by Redis's own TTL; the keys are
// the SessionKey hashes SessionCache passes in, under a prefix, so session
// credentials never reach Redis.
//
// A Store is a tokenprovider.Locker: when the first requests of a session
// reach several instances at once, one of them takes a lease on the
// session's key (a "lock:" key under the prefix, SET NX with the lease's
// TTL) and exchanges, and the others wait for the token it stores, so the
// session is exchanged once, not once per instance. A lease holds a random
// value and is released by a script that deletes the key only if it still
// holds that value, so an instance whose lease expired never releases
// another's.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/convexgo/convex/tokenprovider"
)

// DefaultPrefix is put before every key unless Options.Prefix says
// otherwise.
const DefaultPrefix = "convex:token:"

// Options configure a Store. The zero value of each field selects its
// default.
type Options struct {
	// Prefix is put before every key, to keep the entries apart from
	// other data in the same Redis database. Default DefaultPrefix.
	Prefix string
}

// Store is a tokenprovider.Store backed by Redis. It is safe for concurrent
// use, as the Redis client is.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var (
	_ tokenprovider.Store  = (*Store)(nil)
	_ tokenprovider.Locker = (*Store)(nil)
)

// New returns a Store that uses client (a *redis.Client, a cluster or a
// failover client). The caller keeps ownership of client and closes it.
// opts may be nil.
func New(client redis.UniversalClient, opts *Options) *Store {
	s := &Store{client: client, prefix: DefaultPrefix}
	if opts != nil && opts.Prefix != "" {
		s.prefix = opts.Prefix
	}
	return s
}

// Get returns the token stored under key. ok is false when Redis has none
// (never set, deleted or expired).
func (s *Store) Get(ctx context.Context, key string) (token string, ok bool, err error) {
	v, err := s.client.Get(ctx, s.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("redisstore: GET: %w", err)
	}
	return v, true, nil
}

// Set stores token under key with Redis expiry ttl (millisecond
// precision). A ttl under one millisecond deletes the entry instead.
func (s *Store) Set(ctx context.Context, key, token string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return s.Delete(ctx, key)
	}
	if err := s.client.Set(ctx, s.prefix+key, token, ttl).Err(); err != nil {
		return fmt.Errorf("redisstore: SET: %w", err)
	}
	return nil
}

// Delete removes the entry under key; a missing entry is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("redisstore: DEL: %w", err)
	}
	return nil
}

// lockKey is the Redis key of key's lease. SessionCache's keys are hex
// digests, which hold no colon, so no entry's key is a lease's.
func (s *Store) lockKey(key string) string { return s.prefix + "lock:" + key }

// TryLock takes the lease on key for ttl (millisecond precision, at least
// one millisecond) with SET NX PX, the value a random token of the lease.
// It returns nil, nil when another holder's lease is in Redis.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (tokenprovider.Lease, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	l := &lease{s: s, key: s.lockKey(key), value: hex.EncodeToString(b[:])}
	ok, err := s.client.SetNX(ctx, l.key, l.value, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: SET NX: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return l, nil
}

// lease is a Store lease: its key and the random value it set there.
type lease struct {
	s          *Store
	key, value string
}

// releaseScript deletes KEYS[1] only if it holds ARGV[1], in one step:
// a lease that expired, and that another instance holds since, stays.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Release deletes the lease's key if it still holds this lease's value.
func (l *lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.s.client, []string{l.key}, l.value).Err(); err != nil {
		return fmt.Errorf("redisstore: releasing a lease: %w", err)
	}
	return nil
}
