// Package version holds the library's version, sent to deployments in the
// Convex-Client header as "go-<Version>".
package version

// Version is the semantic version of this library.
const Version = "0.1.0"

// ClientHeader is the value of the Convex-Client header: "<name>-<semver>".
const ClientHeader = "go-" + Version
