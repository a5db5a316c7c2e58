package tokenprovider_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/convexgo/convex/client"
	"github.com/convexgo/convex/convextest"
	"github.com/convexgo/convex/tokenprovider"
)

// demoToken returns an HS256 JWT with the given life, standing in for what
// an auth provider issues. Caches and RefreshDelay only read its claims.
func demoToken(sub string, iat time.Time, life time.Duration) string {
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "iat": iat.Unix(), "exp": iat.Add(life).Unix(),
	}).SignedString([]byte("demo"))
	return tok
}

func ExampleFunc() {
	var p tokenprovider.Provider = tokenprovider.Func(func(ctx context.Context, forceRefresh bool) (string, error) {
		// Ask the auth provider here; forceRefresh means "not from your cache".
		return demoToken("user-1", time.Now(), time.Hour), nil
	})
	tok, err := p.Token(context.Background(), false)
	fmt.Println(tok != "", err)
	// Output: true <nil>
}

func ExampleCache() {
	fetches := 0
	c := tokenprovider.NewCache(tokenprovider.Func(func(context.Context, bool) (string, error) {
		fetches++
		return demoToken(fmt.Sprint("user-", fetches), time.Now(), time.Hour), nil
	}), nil)
	ctx := context.Background()

	tok, _ := c.Token(ctx, false)  // at start-up
	c.Confirm(tok)                 // the deployment accepted it
	again, _ := c.Token(ctx, true) // the refresh asked for right after
	fmt.Println(again == tok, fetches)

	c.Reject(tok)                  // the deployment sent an AuthError
	fresh, _ := c.Token(ctx, true) // always reaches the provider
	fmt.Println(fresh == tok, fetches)
	// Output:
	// true 1
	// false 2
}

func ExampleRefreshDelay() {
	iat := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d, ok := tokenprovider.RefreshDelay(demoToken("u", iat, time.Hour), tokenprovider.DefaultRefreshLeeway)
	fmt.Println(d, ok)
	_, ok = tokenprovider.RefreshDelay(demoToken("u", iat, 2*time.Second), tokenprovider.DefaultRefreshLeeway)
	fmt.Println(ok)
	// Output:
	// 59m50s true
	// false
}

func ExampleSessionCache_Do() {
	// A local deployment; use your deployment's URL.
	d, _ := convextest.New(convextest.WithDemoFunctions())
	defer d.Close()
	convex, _ := client.NewHTTPClient(d.URL()) // one for the whole server

	sessions := tokenprovider.NewSessionCache(nil) // in memory, entries up to 60 s
	ctx := context.Background()
	cookie := "session-cookie-value" // the signed-in user's session credential
	fetches := 0
	fetch := func(ctx context.Context) (string, error) {
		// Exchange the session for a Convex JWT at the auth provider
		// (package betterauth does it for Better Auth sessions).
		fetches++
		return d.Token("user-1", time.Hour, nil)
	}
	for range 3 { // three requests of the same session
		err := sessions.Do(ctx, cookie, fetch, func(ctx context.Context, token string) error {
			who, err := client.Query[*string](ctx, convex.As(client.UserToken(token)), "auth:whoami", nil)
			if err == nil {
				fmt.Println("rendering for", *who)
			}
			return err
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println("token fetches:", fetches)
	// On sign-out:
	fmt.Println(sessions.Clear(ctx, cookie))
	// Output:
	// rendering for user-1
	// rendering for user-1
	// rendering for user-1
	// token fetches: 1
	// <nil>
}

func ExampleVerifier() {
	// A key pair and its JWKS, as a custom JWT provider would publish.
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	x := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	jwks := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"` + x + `"}]}`

	keys, err := tokenprovider.ParseJWKS([]byte(jwks))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := tokenprovider.NewVerifier(keys, &tokenprovider.VerifierOptions{
		Issuer:   "https://auth.example.com",
		Audience: "my-app",
		Now:      func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	issue := func(exp time.Time) string {
		t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
			"iss": "https://auth.example.com", "aud": "my-app", "sub": "user-1",
			"iat": now.Unix(), "exp": exp.Unix(), "role": "admin",
		})
		t.Header["kid"] = "k1"
		s, _ := t.SignedString(priv)
		return s
	}

	claims, err := v.Verify(issue(now.Add(time.Hour)))
	fmt.Println(claims.Subject, claims.Custom["role"], err)

	_, err = v.Verify(issue(now.Add(-time.Hour)))
	fmt.Println(errors.Is(err, tokenprovider.ErrExpired), tokenprovider.IsAuthError(err))
	// Output:
	// user-1 admin <nil>
	// true true
}

func ExampleParseJWKSDataURI() {
	// Convex's auth.config.ts accepts the JWKS of a custom JWT provider as
	// a data: URI; the same string works here.
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	x := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	jwks := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"` + x + `"}]}`
	uri := "data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte(jwks))

	keys, err := tokenprovider.ParseJWKSDataURI(uri)
	fmt.Println(keys.KeyIDs(), err)
	// Output: [k1] <nil>
}

type deploymentAuthError struct{}

func (deploymentAuthError) Error() string   { return "authentication failed" }
func (deploymentAuthError) AuthError() bool { return true }

func ExampleIsAuthError() {
	fmt.Println(tokenprovider.IsAuthError(fmt.Errorf("mutation: %w", deploymentAuthError{})))
	fmt.Println(tokenprovider.IsAuthError(errors.New("connection reset")))
	// Output:
	// true
	// false
}
