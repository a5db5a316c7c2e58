package tokenprovider

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultLeeway is the clock skew a Verifier allows on "exp", "nbf" and
// "iat", as Convex deployments do.
const DefaultLeeway = 5 * time.Second

// MaxTokenSize is the longest token, in bytes, a Verifier reads; a longer
// one is refused with ErrTokenTooLarge before it is decoded, so hostile
// input costs no base64, JSON or signature work.
//
// The Convex backend's source sets no limit on a token's own length
// (extract_bearer_token in crates/authentication/src/lib.rs takes the
// Authorization header whole), but a token sent in a header meets the usual
// 8 KiB cap on a header: the figure the backend itself gives as "the
// maximum length of an HTTP header" when it limits environment variable
// values (MAX_VALUE_LENGTH in crates/common/src/types/environment_variables.rs).
// 16 KiB is twice that: room for a large custom-claim set (a typical RS256
// token is 1 to 2 KB) without accepting arbitrarily large input.
const MaxTokenSize = 16 << 10

// supportedAlgorithms are the algorithms a Verifier accepts unless told
// otherwise, and the only ones it can be told to accept. Unexported, so
// that no caller can widen the set.
var supportedAlgorithms = []string{RS256, ES256, EdDSA}

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Issuer is the expected "iss". Required. Both it and the token's
	// "iss" are normalized as Convex does: "https://" is put in front when
	// there is no scheme, and trailing "/" are ignored.
	Issuer string
	// Audience, if set, must be one of the token's "aud" values (Convex's
	// applicationID). Empty means "aud" is not checked.
	Audience string
	// Algorithms is the allow-list of signing algorithms, a subset of
	// RS256, ES256 and EdDSA (all three by default). "none", HMAC and
	// every other algorithm are always refused.
	Algorithms []string
	// Leeway is the clock skew allowed on "exp", "nbf" and "iat". Zero
	// means DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Verifier checks Convex custom-JWT tokens against a static key set, with
// no network call. It is safe for concurrent use.
//
// A token is accepted when it is at most MaxTokenSize bytes long and
// written exactly as RFC 7515 says (three segments of unpadded, canonical
// base64url, nothing else); its header has no "crit" (it lists extensions
// that must be understood, and the Verifier understands none) and names a
// "kid" found in the key set; its "alg" is allowed, agrees with the key's
// "alg" if the key has one and fits the key's type; the signature
// verifies; "iss" matches the issuer; "aud" contains the audience if one is
// configured; "exp" is present and not past, and "nbf" and "iat", when
// present, are not in the future (all with the leeway); and "sub" is
// present. Each failure is reported with its own sentinel error
// (ErrUnknownKID, ErrExpired, ...).
type Verifier struct {
	keys     *KeySet
	issuer   string
	audience string
	algs     []string
	parser   *jwt.Parser
}

// NewVerifier returns a Verifier for the keys in keys. opts.Issuer is
// required.
func NewVerifier(keys *KeySet, opts *VerifierOptions) (*Verifier, error) {
	if keys == nil || len(keys.keys) == 0 {
		return nil, errors.New("tokenprovider: NewVerifier needs a key set")
	}
	if opts == nil || opts.Issuer == "" {
		return nil, errors.New("tokenprovider: NewVerifier needs an issuer")
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = supportedAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(supportedAlgorithms, a) {
			return nil, fmt.Errorf("tokenprovider: algorithm %q cannot be allowed (only %s)", a,
				strings.Join(supportedAlgorithms, ", "))
		}
	}
	leeway := orDefault(opts.Leeway, DefaultLeeway)
	if leeway < 0 {
		leeway = 0
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		keys:     keys,
		issuer:   normalizeIssuer(opts.Issuer),
		audience: opts.Audience,
		algs:     slices.Clone(algs),
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.algs),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithJSONNumber(),
		// Refuse non-zero unused bits in a segment's last character, so
		// that each token has one spelling (encoding/base64's Strict).
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// NewVerifierFromEnv is NewVerifier with the key set read by
// JWKSFromEnv(DefaultJWKSEnv).
func NewVerifierFromEnv(opts *VerifierOptions) (*Verifier, error) {
	keys, err := JWKSFromEnv("")
	if err != nil {
		return nil, err
	}
	return NewVerifier(keys, opts)
}

// normalizeIssuer applies Convex's rule: add https:// when there is no
// scheme, ignore trailing slashes.
func normalizeIssuer(iss string) string {
	if !strings.Contains(iss, "://") {
		iss = "https://" + iss
	}
	return strings.TrimRight(iss, "/")
}

// Claims are the claims of a verified token.
type Claims struct {
	Subject   string    // "sub"
	Issuer    string    // "iss", as written in the token
	Audience  []string  // "aud"; a single string becomes one element
	ExpiresAt time.Time // "exp"
	IssuedAt  time.Time // "iat"; zero when absent
	NotBefore time.Time // "nbf"; zero when absent
	ID        string    // "jti"; empty when absent
	// Custom holds every other claim, decoded from JSON with numbers as
	// json.Number.
	Custom map[string]any
}

// registered are the claims Claims has fields for.
var registered = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// header is the part of the JOSE header checked before jwt parses the
// token.
type header struct {
	Alg string // "alg"
	Kid string // "kid"
}

// Verify checks token and returns its claims. The error wraps exactly one
// of the package's verification sentinels (see Verifier).
func (v *Verifier) Verify(token string) (*Claims, error) {
	if err := checkCompact(token); err != nil {
		return nil, err
	}
	h, err := readHeader(token)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(v.algs, h.Alg) {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithmNotAllowed, h.Alg)
	}
	if h.Kid == "" {
		return nil, ErrMissingKID
	}
	key, ok := v.keys.keys[h.Kid]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKID, h.Kid)
	}
	if key.alg != "" && key.alg != h.Alg {
		return nil, fmt.Errorf("%w: token alg %s, key %q has alg %s", ErrKeyAlgorithmMismatch, h.Alg, h.Kid, key.alg)
	}
	if algFor[key.kty] != h.Alg {
		return nil, fmt.Errorf("%w: token alg %s, key %q is of type %s", ErrKeyAlgorithmMismatch, h.Alg, h.Kid, key.kty)
	}

	mc := jwt.MapClaims{}
	_, err = v.parser.ParseWithClaims(token, mc, func(t *jwt.Token) (any, error) {
		// The header was decoded twice; make sure both readings agree.
		if t.Method == nil || t.Method.Alg() != h.Alg {
			return nil, ErrKeyAlgorithmMismatch
		}
		return key.key, nil
	})
	if err != nil {
		return nil, mapJWTError(err)
	}
	return v.checkClaims(mc)
}

// segmentNames name the three segments of a JWS compact serialization in
// errors.
var segmentNames = [...]string{"header", "payload", "signature"}

// checkCompact is the check on the token as a string, before anything is
// decoded: at most MaxTokenSize bytes, three segments, and nothing but the
// base64url alphabet in them (no padding, no whitespace), as RFC 7515
// section 7.1 writes a JWS compact serialization.
//
// golang-jwt cannot do this for us: its decoding, even with
// jwt.WithStrictDecoding (which the Verifier also uses, for canonical
// trailing bits), is encoding/base64's, and that skips CR and LF anywhere
// in the input. The signature is checked over the header and payload as
// written, so a line break there fails verification anyway, but one in the
// signature segment would be decoded away and the token accepted.
func checkCompact(token string) error {
	if len(token) > MaxTokenSize {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrTokenTooLarge, len(token), MaxTokenSize)
	}
	seg := 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			seg++
			if seg > 2 {
				return fmt.Errorf("%w: more than three dot-separated segments", ErrMalformedToken)
			}
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: %q at byte %d, in the %s", ErrControlCharacter, c, i, segmentNames[seg])
		default:
			return fmt.Errorf("%w: %q at byte %d, in the %s, is not base64url", ErrMalformedToken, c, i, segmentNames[seg])
		}
	}
	if seg != 2 {
		return fmt.Errorf("%w: not three dot-separated segments", ErrMalformedToken)
	}
	return nil
}

// readHeader decodes the JOSE header, so that the algorithm and key id are
// checked (and reported with their own errors) before any signature work.
// The token has passed checkCompact.
func readHeader(token string) (header, error) {
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return header{}, fmt.Errorf("%w: header is not base64url: %v", ErrMalformedToken, err)
	}
	// Header parameter names are case-sensitive (RFC 7515 section 4), and
	// golang-jwt reads the header into a map with exact keys, so read it
	// the same way: decoding into a struct would also take "KID" or "Alg".
	var params map[string]json.RawMessage
	if err := json.Unmarshal(raw, &params); err != nil {
		return header{}, fmt.Errorf("%w: header: %v", ErrMalformedToken, err)
	}
	if err := checkCrit(params); err != nil {
		return header{}, err
	}
	var h header
	for _, p := range []struct {
		name string
		dst  *string
	}{{"alg", &h.Alg}, {"kid", &h.Kid}} {
		if v, ok := params[p.name]; ok {
			if err := json.Unmarshal(v, p.dst); err != nil {
				return header{}, fmt.Errorf("%w: header %s: %v", ErrMalformedToken, p.name, err)
			}
		}
	}
	return h, nil
}

// specParams are the header parameters RFC 7515 (JWS) and RFC 7518 (JWA)
// define, which RFC 7515 section 4.1.11 forbids "crit" to list.
var specParams = []string{
	"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", // RFC 7515 4.1
	"epk", "apu", "apv", "iv", "tag", "p2s", "p2c", // RFC 7518 4.6.1, 4.7.1, 4.8.1
}

// checkCrit applies RFC 7515 section 4.1.11 to the header parameters. The
// Verifier understands no extension, so any "crit" is refused with
// ErrCriticalHeader; the checks before the last only make the message say
// what is wrong with an invalid one. golang-jwt ignores "crit", so this
// cannot be left to it.
func checkCrit(params map[string]json.RawMessage) error {
	raw, ok := params["crit"]
	if !ok {
		return nil
	}
	// []any rather than []string: a null element would become "".
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return fmt.Errorf("%w: crit is not an array of strings", ErrCriticalHeader)
	}
	names := make([]string, len(list))
	for i, e := range list {
		n, ok := e.(string)
		if !ok {
			return fmt.Errorf("%w: crit is not an array of strings", ErrCriticalHeader)
		}
		names[i] = n
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: crit is empty", ErrCriticalHeader)
	}
	for i, n := range names {
		switch {
		case slices.Contains(specParams, n):
			return fmt.Errorf("%w: crit lists %q, which JWS or JWA defines", ErrCriticalHeader, n)
		case slices.Contains(names[:i], n):
			return fmt.Errorf("%w: crit lists %q twice", ErrCriticalHeader, n)
		case params[n] == nil:
			return fmt.Errorf("%w: crit lists %q, which the header does not have", ErrCriticalHeader, n)
		}
	}
	return fmt.Errorf("%w: extension %q is not supported", ErrCriticalHeader, names[0])
}

// mapJWTError turns golang-jwt's error into this package's sentinels,
// keeping jwt's error in the chain.
func mapJWTError(err error) error {
	var s error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrInvalidType):
		s = ErrMalformedToken
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		s = ErrBadSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		s = ErrMissingExpiry // exp is the only claim the parser is told to require
	case errors.Is(err, jwt.ErrTokenExpired):
		s = ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		s = ErrNotYetValid
	case errors.Is(err, ErrKeyAlgorithmMismatch):
		s = ErrKeyAlgorithmMismatch
	default:
		s = ErrMalformedToken
	}
	return fmt.Errorf("%w: %w", s, err)
}

// checkClaims does the checks jwt's validator cannot do Convex's way, and
// builds the result.
func (v *Verifier) checkClaims(mc jwt.MapClaims) (*Claims, error) {
	iss, err := mc.GetIssuer()
	if err != nil {
		return nil, fmt.Errorf("%w: iss: %w", ErrMalformedToken, err)
	}
	if iss == "" {
		return nil, fmt.Errorf("%w: no iss", ErrWrongIssuer)
	}
	if normalizeIssuer(iss) != v.issuer {
		return nil, fmt.Errorf("%w: %q", ErrWrongIssuer, iss)
	}
	aud, err := mc.GetAudience()
	if err != nil {
		return nil, fmt.Errorf("%w: aud: %w", ErrMalformedToken, err)
	}
	if v.audience != "" && !slices.Contains(aud, v.audience) {
		return nil, fmt.Errorf("%w: %q", ErrWrongAudience, []string(aud))
	}
	sub, err := mc.GetSubject()
	if err != nil {
		return nil, fmt.Errorf("%w: sub: %w", ErrMalformedToken, err)
	}
	if sub == "" {
		return nil, ErrMissingSubject
	}
	c := &Claims{Subject: sub, Issuer: iss, Audience: aud}
	// The validator has already read these, so they have valid types.
	if exp, _ := mc.GetExpirationTime(); exp != nil {
		c.ExpiresAt = exp.Time
	}
	if iat, _ := mc.GetIssuedAt(); iat != nil {
		c.IssuedAt = iat.Time
	}
	if nbf, _ := mc.GetNotBefore(); nbf != nil {
		c.NotBefore = nbf.Time
	}
	if jti, ok := mc["jti"].(string); ok {
		c.ID = jti
	}
	for k, val := range mc {
		if slices.Contains(registered, k) {
			continue
		}
		if c.Custom == nil {
			c.Custom = make(map[string]any)
		}
		c.Custom[k] = val
	}
	return c, nil
}
