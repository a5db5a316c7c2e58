package tokenprovider

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestExpiry(t *testing.T) {
	iat, exp := t0, t0.Add(time.Hour)
	enc := base64.RawURLEncoding.EncodeToString
	cases := []struct {
		name             string
		token            string
		wantIat, wantExp time.Time
		ok               bool
	}{
		{"both", fakeJWT(iat, exp, "u"), iat, exp, true},
		{"no iat", fakeJWT(time.Time{}, exp, "u"), time.Time{}, exp, true},
		{"no exp", fakeJWT(iat, time.Time{}, "u"), time.Time{}, time.Time{}, false},
		{"empty", "", time.Time{}, time.Time{}, false},
		{"opaque", "not-a-jwt", time.Time{}, time.Time{}, false},
		{"payload not JSON", enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte("x")) + ".c2ln", time.Time{}, time.Time{}, false},
		{"exp a string", enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"exp":"soon"}`)) + ".c2ln", time.Time{}, time.Time{}, false},
		{"unknown alg", enc([]byte(`{"alg":"XX1"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d}`, exp.Unix()))) + ".c2ln", time.Time{}, exp, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gi, ge, ok := Expiry(tc.token)
			if ok != tc.ok || !gi.Equal(tc.wantIat) || !ge.Equal(tc.wantExp) {
				t.Errorf("Expiry = %v, %v, %v; want %v, %v, %v", gi, ge, ok, tc.wantIat, tc.wantExp, tc.ok)
			}
		})
	}
}

func TestRefreshDelay(t *testing.T) {
	cases := []struct {
		name   string
		life   time.Duration
		noIat  bool
		leeway time.Duration
		want   time.Duration
		ok     bool
	}{
		{"one hour", time.Hour, false, DefaultRefreshLeeway, time.Hour - 10*time.Second, true},
		{"15 s token", 15 * time.Second, false, DefaultRefreshLeeway, 5 * time.Second, true},
		{"shorter than the leeway: now", 5 * time.Second, false, DefaultRefreshLeeway, 0, true},
		{"exactly the leeway: now", 10 * time.Second, false, DefaultRefreshLeeway, 0, true},
		{"3 s with no leeway", 3 * time.Second, false, 0, 3 * time.Second, true},
		{"2 s: never", 2 * time.Second, false, 0, 0, false},
		{"1 s: never", time.Second, false, 0, 0, false},
		{"negative life: never", -time.Hour, false, 0, 0, false},
		{"a year: capped at 20 days", 365 * 24 * time.Hour, false, DefaultRefreshLeeway, MaxRefreshDelay, true},
		{"no iat: never", time.Hour, true, DefaultRefreshLeeway, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iat := t0
			if tc.noIat {
				iat = time.Time{}
			}
			got, ok := RefreshDelay(fakeJWT(iat, t0.Add(tc.life), "u"), tc.leeway)
			if got != tc.want || ok != tc.ok {
				t.Errorf("RefreshDelay = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := RefreshDelay(fakeJWT(t0, time.Time{}, "u"), 0); ok {
		t.Error("a token without exp was scheduled")
	}
	if _, ok := RefreshDelay("opaque", 0); ok {
		t.Error("an opaque token was scheduled")
	}
}

type clientAuthError struct{ msg string }

func (e *clientAuthError) Error() string   { return e.msg }
func (e *clientAuthError) AuthError() bool { return true }

type httpError struct{ status int }

func (e *httpError) Error() string   { return fmt.Sprintf("HTTP %d", e.status) }
func (e *httpError) AuthError() bool { return e.status == 401 }

func TestIsAuthError(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("network down"), false},
		{ErrInvalidJWKS, false},
		{ErrNoSession, false},
		{ErrExpired, true},
		{fmt.Errorf("wrapped: %w", ErrBadSignature), true},
		{fmt.Errorf("%w: %w", ErrUnknownKID, errors.New("jwt")), true},
		{&clientAuthError{"rejected"}, true},
		{fmt.Errorf("mutation: %w", &clientAuthError{"rejected"}), true},
		{&httpError{401}, true},
		{&httpError{500}, false},
		{fmt.Errorf("query: %w", &httpError{403}), false},
		{errors.Join(errors.New("a"), &httpError{401}), true},
		{errors.Join(errors.New("a"), &httpError{500}), false},
		{fmt.Errorf("outer: %w", errors.Join(&httpError{500}, fmt.Errorf("x: %w", ErrExpired))), true},
	}
	for _, tc := range cases {
		if got := IsAuthError(tc.err); got != tc.want {
			t.Errorf("IsAuthError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestFuncAdapter(t *testing.T) {
	var p Provider = Func(func(_ context.Context, force bool) (string, error) {
		if force {
			return "fresh", nil
		}
		return "cached", nil
	})
	for force, want := range map[bool]string{false: "cached", true: "fresh"} {
		if got, err := p.Token(context.Background(), force); got != want || err != nil {
			t.Errorf("Token(%v) = %q, %v; want %q", force, got, err, want)
		}
	}
}

// referenceExpiry is Expiry as golang-jwt's MapClaims read it, the
// definition the direct payload scan must agree with.
func referenceExpiry(token string) (iat, exp time.Time, ok bool) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil && !errors.Is(err, jwt.ErrTokenUnverifiable) {
		return time.Time{}, time.Time{}, false
	}
	e, err := claims.GetExpirationTime()
	if err != nil || e == nil {
		return time.Time{}, time.Time{}, false
	}
	if i, err := claims.GetIssuedAt(); err == nil && i != nil {
		iat = i.Time
	} else if err != nil {
		return time.Time{}, time.Time{}, false
	}
	return iat, e.Time, true
}

var expiryPayloads = []string{
	`{"exp":1796120900,"iat":1796120000}`, `{"exp":1796120900}`, `{"iat":1,"exp":2.5}`,
	`{"EXP":5}`, `{"\u0065xp":7,"iat":1}`, `{"a":{"exp":3},"exp":4}`, `{"a":"}\"exp\":9","exp":4}`,
	`{"exp":null}`, `{"exp":"5"}`, `{"exp":4,"iat":"x"}`, ` { "exp" : 4 , "iat" : [1,{"x":"]"}] } `,
	`{"exp":4`, `[1]`, `"x"`, `{}`, `{"exp":1e3}`, `{"exp":-1}`, `{"exp":4,"exp":5}`,
}

func TestExpiryAgreesWithMapClaims(t *testing.T) {
	for _, p := range expiryPayloads {
		tok := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(p)) + ".c2ln"
		gi, ge, gok := Expiry(tok)
		wi, we, wok := referenceExpiry(tok)
		if gok != wok || (gok && (!gi.Equal(wi) || !ge.Equal(we))) {
			t.Errorf("payload %s: Expiry = %v %v %v, MapClaims = %v %v %v", p, gi, ge, gok, wi, we, wok)
		}
	}
}

func FuzzExpiryMatchesMapClaims(f *testing.F) {
	for _, p := range expiryPayloads {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tok := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(p)) + ".c2ln"
		gi, ge, gok := Expiry(tok)
		wi, we, wok := referenceExpiry(tok)
		if gok != wok || (gok && (!gi.Equal(wi) || !ge.Equal(we))) {
			t.Fatalf("payload %q: Expiry = %v %v %v, MapClaims = %v %v %v", p, gi, ge, gok, wi, we, wok)
		}
	})
}

// scanSeeds are payloads for comparing scanTimes with readTimes: the ones
// above, and invalid JSON that only a full check refuses.
var scanSeeds = append(append([]string{}, expiryPayloads...),
	`{"exp":4,"x":[1,2}`, `{"exp":4,"x":"a`+"\x01"+`"}`, `{"exp":4,"x":"\q"}`, `{"exp":4,"x":"\u12"}`, `{"exp":4,"x":01}`,
	`{"exp":4,"x":1.}`, `{"exp":4,"x":-}`, `{"exp":4,"x":1e}`, `{"exp":4,"x":tru}`, `{"exp":4,"x":{"a"}}`, `{"exp":4,"x":{1:2}}`,
	`{"exp":4,}`, `{"exp":4} x`, `{"exp":4,"x":[1,]}`, `{"exp":4 "iat":1}`, `{"exp":4,"x":"\u00e9\ud800`+"\xff"+`"}`,
	`{"exp":4,"x":`+strings.Repeat("[", 150)+strings.Repeat("]", 150)+`}`, `{"exp":4,"x":`+strings.Repeat("[", 150)+`}`,
	`{"exp":1796120900.25,"iat":-0.5e1,"x":[true,false,null,{"":""}]}`, "\t{\r\n\"exp\" :\t4 }\n", `{"exp":0}`, `{"exp":4,"exp":null}`)

// TestScanTimesAgreesWithReadTimes checks that whatever the one-pass scan
// accepts, readTimes reads the same, and that it takes Better Auth's
// payloads itself.
func TestScanTimesAgreesWithReadTimes(t *testing.T) {
	for _, p := range scanSeeds {
		checkScanTimes(t, []byte(p))
	}
	for _, p := range []string{expiryPayloads[0], `{"iat":1796128487,"name":"Bench","email":"b@example.com","emailVerified":false,` +
		`"createdAt":"2026-12-01T12:34:47.166Z","sessionId":"77JnYsxy","sub":"H47Lqn8O","exp":1796129387,"iss":"http://127.0.0.1:45855","aud":"convex"}`} {
		if _, _, ok := scanTimes([]byte(p)); !ok {
			t.Errorf("scanTimes declined %s", p)
		}
	}
	for _, p := range scanSeeds[len(expiryPayloads):][:15] {
		if _, _, ok := scanTimes([]byte(p)); ok {
			t.Errorf("scanTimes took invalid JSON %q", p)
		}
	}
}

func checkScanTimes(t *testing.T, data []byte) {
	t.Helper()
	exp, iat, ok := scanTimes(data)
	if !ok {
		return
	}
	e, i, err := readTimes(bytes.Clone(data))
	if err != nil || e == nil || !e.Equal(exp) || i == nil && !iat.IsZero() || i != nil && !i.Equal(iat) {
		t.Fatalf("%q: scanTimes = %v %v, readTimes = %v %v %v", data, exp, iat, e, i, err)
	}
}

func FuzzScanTimes(f *testing.F) {
	for _, p := range scanSeeds {
		f.Add([]byte(p))
	}
	f.Fuzz(checkScanTimes)
}

// TestExpiryMemo checks that the memo answers as Expiry does for many
// tokens sharing its slots (each asked twice, from several goroutines
// under -race), and that a token asked again is not parsed again.
func TestExpiryMemo(t *testing.T) {
	var m expiryMemo
	tokens := []string{"", "x", "x.y.z", "a.e30.b", fakeJWT(time.Time{}, t0, "u")}
	for i := range 3 * memoSlots {
		tokens = append(tokens, fakeJWT(t0, t0.Add(time.Duration(i)*time.Second), fmt.Sprint("user-", i)))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2 {
				for _, tok := range tokens {
					gi, ge, gok := m.expiry(tok)
					wi, we, wok := Expiry(tok)
					if gok != wok || !gi.Equal(wi) || !ge.Equal(we) {
						t.Errorf("%q: memo %v %v %v, Expiry %v %v %v", tok, gi, ge, gok, wi, we, wok)
					}
				}
			}
		})
	}
	wg.Wait()
	tok := tokens[len(tokens)-1]
	m.expiry(tok)
	if n := testing.AllocsPerRun(100, func() { m.expiry(tok) }); n != 0 {
		t.Fatalf("a token asked again cost %v allocations: it was parsed again", n)
	}
}
