package client

import "github.com/convexgo/convex/protocol"

// Int64 is a Convex Int64, the value a schema's v.int64() accepts (a
// bigint in JavaScript). Arguments and results follow JavaScript: plain Go
// integers and floats are sent as Float64 (v.number()), and an integer a
// float64 cannot hold exactly is an error, never rounded. Write Int64(n),
// or tag a struct field `convex:"int64"`, where a function wants an
// Int64. Results decode into plain Go integers from either kind. See
// package protocol for the whole mapping.
type Int64 = protocol.Int64
