package testserver

import "testing"

// The prefixes are stripped as the backend's AdminKey::remove_type_prefix
// strips them (crates/common/src/types/admin_key.rs).
func TestRemoveTypePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"prod:some-depl-name123|sa67:sd6f":         "some-depl-name123|sa67:sd6f",
		"dev:name|secret":                          "name|secret",
		"preview:team-slug:project-slug|sa67:sd6f": "sa67:sd6f",
		"Project:team:proj|k":                      "k",
		"name|secret":                              "name|secret",
		"nobar":                                    "nobar",
	} {
		if got := removeTypePrefix(in); got != want {
			t.Errorf("removeTypePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAdminKeyChecks(t *testing.T) {
	s := New(WithAdminKey("dev:local|abc"))
	defer s.Close()
	if _, err := s.adminIdentity("local|abc", nil); err != nil {
		t.Errorf("key without its type prefix refused: %v", err)
	}
	if _, err := s.adminIdentity("prod:local|abd", nil); err != errBadAdminKey {
		t.Errorf("wrong key = %v", err)
	}
	id, err := s.adminIdentity("dev:local|abc", []byte(`{"issuer":"i","subject":"s"}`))
	if err != nil || !id.Admin || !id.ActingAsUser || id.TokenIdentifier != "i|s" {
		t.Errorf("acting as = %+v, %v", id, err)
	}
	if _, err := s.adminIdentity("dev:local|abc", []byte(`{"name":"no subject"}`)); err == nil {
		t.Error("an identity without tokenIdentifier or issuer and subject was accepted")
	}
}
